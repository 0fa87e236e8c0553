"""Sharing a recording with its own agent, and their watching it: the acts of vault/grants.py,
checked and traced through the person's Review (vault/review.py) like every other review act.

- a trainer of the recording's training shares it (a reason, traced before the slips are
  made) or withdraws the share (traced);
- the trainee opens it: only a grant made for them, on a recording whose agent they are,
  before its deadline, with their own key; a refusal is traced too. What opens it is the
  grant's slips and nothing else (vault/sealing.py SlipKeys);
- the trainee reviews it on the same grid: sealed for the site's key, in their own folder
  at the site (vault/people.py), where the trainers read it (vault/review.py).

Threading: the caller's (one Review per thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.core.access import Action, Reason
from agentapp.core.names import shown
from agentapp.i18n import N_, _
from agentapp.vault.analyses import SELF_REVIEW, AnalysesStore, AnalysisMeta
from agentapp.vault.grants import Grant, GrantError, Grants
from agentapp.vault.people import registered_key
from agentapp.vault.review import KeyFor, Review, ReviewError, checked_marks, reason_of
from agentapp.vault.sealing import SlipKeys
from agentapp.vault.store import RecordingMeta, Vault, VaultError

if TYPE_CHECKING:
    from agentapp.core.grid import Grid

NOT_SHARED = N_("this recording is not shared with you")


def share(review: Review, grants: Grants, rid: str, reason: str | None, key_for: KeyFor) -> Grant:
    """Share `rid` with its agent (their key registered at the site); `key_for`: the
    recording key's private half, for its first sealed file."""
    reason = reason_of(reason)
    meta = review.allowed(Action.SHARE, rid)
    site = grants.root.parent
    try:
        trainee = registered_key(site, meta.agent)
    except GrantError as exc:
        raise ReviewError(_("not shared: {exc}").format(exc=exc)) from None
    segments = review.vault.segment_paths(meta.id)
    if not segments:
        raise ReviewError(_("recording {id} has no sealed segment").format(id=meta.id))
    review.trace(Action.SHARE.value, meta.id, reason)
    try:
        return grants.make(review.vault, meta, key_for(segments[0]), trainee, review.who.name,
                           time.time())  # fmt: skip
    except Exception as exc:  # the key store, a file: traced, one line
        review.trace("share failed", meta.id, str(exc))
        raise ReviewError(_("not shared: {exc}").format(exc=exc)) from None


def unshare(review: Review, grants: Grants, rid: str, reason: str | None) -> bool:
    """Withdraw the share of `rid` with its agent; False when there was none."""
    reason = reason_of(reason)
    meta = review.allowed(Action.SHARE, rid)
    review.trace("withdraw share", meta.id, reason)
    try:
        return grants.withdraw(meta.id, meta.agent)
    except (OSError, GrantError) as exc:
        raise ReviewError(_("the share is not withdrawn: {exc}").format(exc=exc)) from None


def shared_with_me(
    review: Review, grants: Grants, vault: Vault, examples: Vault | None = None
) -> list[RecordingMeta]:
    """The recordings shared with this person, and the teaching examples (`examples`, the
    site's: vault/examples.py) offered to them, that are still there; the listing is traced."""
    out = []
    for g in grants.for_person(review.who.name):
        found = _found(review, vault, examples, g.recording)
        if found is not None and g.until > time.time():
            out.append(found[0])
    review.trace("list shared", f"{len(out)} recording(s)")
    return out


def open_shared(
    review: Review,
    grants: Grants,
    vault: Vault,
    rid: str,
    reason: str | None,
    private_key: Callable[[str], X25519PrivateKey],
    examples: Vault | None = None,
) -> tuple[RecordingMeta, SlipKeys, Vault]:
    """What opens `rid` for this person (their own recording shared with them, or a teaching
    example offered to them), and where it is: checked and traced; a refusal is traced.
    `private_key(kid)`: their own key, from their key store."""
    reason = reason_of(reason)
    grant, meta, where = _shared(review, grants, vault, rid, Action.VIEW, "view", examples)
    review.trace("view shared", rid, reason)
    try:
        keys = SlipKeys(private_key(grant.kid), list(grant.slips.values()))
    except Exception as exc:  # the key store: traced, one line
        review.trace("view failed", rid, str(exc))
        raise ReviewError(_("cannot open {id}: {exc}").format(id=rid, exc=exc)) from None
    return meta, keys, where


def add_self_review(
    review: Review,
    grants: Grants,
    vault: Vault,
    rid: str,
    items: object,
    grid: Grid | None,
    key_file: Path,
    days: int,
) -> AnalysisMeta:
    """The trainee's own review of a recording shared with them, on its training's grid:
    sealed for the site's recording key (the trainers read it), into their own folder at the
    site; checked (shared with them, their own call) and traced on their desk."""
    from agentapp.core.analysis import Analysis
    from agentapp.vault.people import make_own_folder

    _grant, meta, _where = _shared(review, grants, vault, rid, Action.ANALYSIS, "review")
    grid, marks, key = checked_marks(grid, meta, items, key_file)
    review.trace("add self-review", rid, f"grid of {grid.training}")
    me = review.who.name
    try:
        store = AnalysesStore(make_own_folder(grants.root.parent, me))
        return store.add(Analysis(rid, grid, marks, SELF_REVIEW), me, key, time.time(), days)
    except (OSError, GrantError, VaultError) as exc:
        raise ReviewError(_("analysis not saved: {exc}").format(exc=exc)) from None


def _shared(
    review: Review,
    grants: Grants,
    vault: Vault,
    rid: str,
    action: Action,
    verb: str,
    examples: Vault | None = None,
) -> tuple[Grant, RecordingMeta, Vault]:
    """The grant of `rid` for this person, the recording and where it is, when it is shared
    with them (their own call, or an example offered to them) and still there; else the
    refusal, traced."""
    try:
        grant = grants.get(rid, review.who.name)
    except GrantError:
        grant = None
    found = _found(review, vault, examples, rid)
    if grant is None or found is None or grant.until <= time.time():
        raise review.refuse(action, shown(rid), Reason.of(NOT_SHARED), f"{verb} {shown(rid)}")
    return grant, *found


def _found(
    review: Review, vault: Vault, examples: Vault | None, rid: str
) -> tuple[RecordingMeta, Vault] | None:
    """`rid` as this person may have it shared: their own recording, or a teaching example
    (no agent's name); None otherwise."""
    meta = _meta(vault, rid)
    if meta is not None:
        return (meta, vault) if meta.agent == review.who.name else None
    meta = _meta(examples, rid) if examples is not None else None
    return (meta, examples) if meta is not None and examples is not None and not meta.agent \
        else None  # fmt: skip


def _meta(vault: Vault, rid: str) -> RecordingMeta | None:
    try:
        return vault.get(rid)
    except Exception:  # gone, or not a recording id: not there
        return None
