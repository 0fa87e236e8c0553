"""Sharing a recording with its own agent, and their watching it: the acts of vault/grants.py,
checked and traced through the person's Review (vault/review.py) like every other review act.

- a trainer of the recording's training shares it (a reason, traced before the slips are
  made) or withdraws the share (traced);
- the trainee opens it: only a grant made for them, on a recording whose agent they are,
  before its deadline, with their own key; a refusal is traced too. What opens it is the
  grant's slips and nothing else (vault/sealing.py SlipKeys).

Threading: the caller's (one Review per thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.core.access import Action, Reason
from agentapp.core.names import shown
from agentapp.i18n import N_, _
from agentapp.vault.grants import Grant, GrantError, Grants, registered_key
from agentapp.vault.review import KeyFor, Review, ReviewError, reason_of
from agentapp.vault.sealing import SlipKeys
from agentapp.vault.store import RecordingMeta, Vault

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


def shared_with_me(review: Review, grants: Grants, vault: Vault) -> list[RecordingMeta]:
    """The recordings shared with this person that are still there; the listing is traced."""
    out = []
    for g in grants.for_person(review.who.name):
        meta = _meta(vault, g.recording)
        if meta is not None and meta.agent == review.who.name and g.until > time.time():
            out.append(meta)
    review.trace("list shared", f"{len(out)} recording(s)")
    return out


def open_shared(
    review: Review,
    grants: Grants,
    vault: Vault,
    rid: str,
    reason: str | None,
    private_key: Callable[[str], X25519PrivateKey],
) -> tuple[RecordingMeta, SlipKeys]:
    """What opens `rid` for this person (their own recording, shared with them): checked and
    traced; a refusal is traced. `private_key(kid)`: their own key, from their key store."""
    reason = reason_of(reason)
    me = review.who.name
    try:
        grant = grants.get(rid, me)
    except GrantError:
        grant = None
    meta = _meta(vault, rid)
    if grant is None or meta is None or meta.agent != me or grant.until <= time.time():
        raise review.refuse(Action.VIEW, shown(rid), Reason.of(NOT_SHARED), f"view {shown(rid)}")
    review.trace("view shared", rid, reason)
    try:
        keys = SlipKeys(private_key(grant.kid), list(grant.slips.values()))
    except Exception as exc:  # the key store: traced, one line
        review.trace("view failed", rid, str(exc))
        raise ReviewError(_("cannot open {id}: {exc}").format(id=rid, exc=exc)) from None
    return meta, keys


def _meta(vault: Vault, rid: str) -> RecordingMeta | None:
    try:
        return vault.get(rid)
    except Exception:  # gone, or not a recording id: not there
        return None
