"""What the desk extension sends is a stranger's input (platform/gnome_desk.py): sizes capped,
every field checked, a window that does not parse left out, never guessed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentapp.core.geometry import Rect
from agentapp.platform.gnome import shell_accelerator
from agentapp.platform.gnome_desk import MAX_ANSWER, parse_state, parse_window


def _window(**over: Any) -> dict[str, Any]:
    w = {"id": 7, "title": "CRM — form", "wm_class": "crm", "wm_instance": "crm", "app_id": "",
         "pid": 4242, "identity": 0, "frame": [10, 20, 640, 480], "buffer": [0, 10, 660, 500],
         "focus": True, "minimized": False, "shown": True, "normal": True,
         "fullscreen": False}  # fmt: skip
    w.update(over)
    return w


def test_a_well_formed_window_is_read_as_sent() -> None:
    w = parse_window(_window())
    assert w is not None and w.id == 7 and w.pid == 4242 and w.title == "CRM — form"
    assert w.frame == Rect(10, 20, 640, 480) and w.buffer == Rect(0, 10, 660, 500)


@pytest.mark.parametrize(
    "over",
    [
        {"id": "7"}, {"id": 0}, {"id": -3}, {"id": 2**64}, {"id": True},
        {"pid": "4242"}, {"pid": None}, {"identity": -1}, {"identity": 1.5},
        {"frame": [0, 0, -5, 10]}, {"frame": [0, 0, 10]}, {"frame": "0,0,10,10"},
        {"frame": [0, 0, 2**40, 10]}, {"buffer": [0.5, 0, 10, 10]},
        {"title": 3}, {"wm_class": ["crm"]}, {"focus": 1}, {"shown": "yes"},
    ],
)  # fmt: skip
def test_a_window_with_any_field_out_of_its_form_is_left_out(over: dict[str, Any]) -> None:
    assert parse_window(_window(**over)) is None


def test_long_texts_are_cut_and_a_pid_out_of_range_is_no_pid() -> None:
    w = parse_window(_window(title="x" * 10_000, pid=2**40))
    assert w is not None and len(w.title) == 200 and w.pid is None


def test_the_answer_is_capped_and_must_be_the_extensions_format() -> None:
    good = {"serial": 3, "locked": False, "windows": [_window(), _window(id="bad")]}
    state = parse_state(json.dumps(good))
    assert state.serial == 3 and not state.locked and [w.id for w in state.windows] == [7]
    for bad in ("[]", "{}", '{"serial": 1, "locked": "no", "windows": []}',
                '{"serial": 1, "locked": false, "windows": {}}', "not json"):  # fmt: skip
        with pytest.raises(ValueError):
            parse_state(bad)
    with pytest.raises(ValueError, match="too large"):
        parse_state(" " * (MAX_ANSWER + 1))


def test_the_policys_key_combination_in_the_shells_words() -> None:
    assert shell_accelerator("<ctrl>+<alt>+p") == "<Control><Alt>p"
    assert shell_accelerator("<ctrl>+<shift>+F9") == "<Control><Shift>F9"
