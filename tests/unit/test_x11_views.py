"""The business window's readiness after a resize (platform/x11_views.py), on the events
alone: when a window grows, the server copies its old content into the new pixmap and
reports that as damage; only damage in the new part says the application drew there (else a
frame would show the new part unpainted: seen under picom on a loaded machine)."""

from __future__ import annotations

from types import SimpleNamespace

from Xlib import X

from agentapp.platform.base import CaptureMode
from agentapp.platform.x11_views import X11Views, _Tracked

DAMAGE = 91  # the damage extension's event type, as the connection says


def _views() -> tuple[X11Views, _Tracked]:
    conn = SimpleNamespace(atom=lambda name: hash(name) & 0xFFFF, damage_event=DAMAGE,
                           d=SimpleNamespace(damage_subtract=lambda d: None))  # fmt: skip
    views = X11Views(conn, None, CaptureMode.COMPOSITE)  # type: ignore[arg-type]
    t = _Tracked(7, popups=False, damage=1, size=(1000, 600), ready=True)
    views._tracked[7] = t
    return views, t


def _resize(views: X11Views, w: int, h: int) -> None:
    views.event(SimpleNamespace(type=X.ConfigureNotify, window=SimpleNamespace(id=7), width=w,
                                height=h))  # fmt: skip


def _damage(views: X11Views, x: int, y: int, w: int, h: int) -> None:
    area = SimpleNamespace(x=x, y=y, width=w, height=h)
    views.event(SimpleNamespace(type=DAMAGE, drawable=SimpleNamespace(id=7), area=area))


def test_after_growing_only_damage_in_the_new_part_makes_it_ready() -> None:
    views, t = _views()
    _resize(views, 1280, 720)
    assert not t.ready
    _damage(views, 0, 0, 1000, 600)  # the server's copy of the old content
    assert not t.ready
    _damage(views, 0, 0, 1280, 720)  # the application's repaint
    assert t.ready


def test_after_shrinking_or_mapping_the_first_damage_makes_it_ready() -> None:
    views, t = _views()
    _resize(views, 800, 500)
    assert not t.ready
    _damage(views, 0, 0, 800, 500)
    assert t.ready
    views.event(SimpleNamespace(type=X.MapNotify, window=SimpleNamespace(id=7)))
    assert not t.ready
    _damage(views, 10, 10, 20, 20)
    assert t.ready


def test_a_repaint_of_the_new_band_alone_counts() -> None:
    views, t = _views()
    _resize(views, 1000, 720)  # taller only
    _damage(views, 0, 0, 1000, 600)
    assert not t.ready
    _damage(views, 0, 600, 1000, 120)
    assert t.ready
