"""Teaching examples: an anonymised extract of a recording (the areas a trainer chose blurred
in every frame, no voice, no agent's name anywhere) with a short description, offered to the
other trainees of the same training, who watch it on their desks in « Mes enregistrements »
(R7: another trainee's recording is shown only anonymised).

The extract is encoded again in memory, frame by frame (no plaintext file, not even a
temporary one) and sealed for the site's key as a recording of its own in
`<site>/examples/<id>/` whose agent is empty; its description is sealed beside it
(`description.seal`). Offering it to a trainee is a grant (vault/grants.py) with slips for its
files, in `<site>/grants/<id>/<login>.json`, made only for a trainee enrolled in the
example's training. It goes at its source recording's deadline (six months at most).

Threading: the caller's (one Review per thread).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agentapp.core.access import Action
from agentapp.core.geometry import Rect
from agentapp.core.names import shown
from agentapp.core.videopack import pack
from agentapp.files import layout
from agentapp.i18n import _
from agentapp.vault.export import blur, iter_frames, open_segments, video_size
from agentapp.vault.grants import DESCRIPTION, Grant, GrantError, Grants
from agentapp.vault.review import KeyFor, Review, ReviewError, reason_of
from agentapp.vault.sealing import Opener, seal, unseal
from agentapp.vault.sink import SealingSink
from agentapp.vault.store import RecordingMeta, Vault, VaultError, write_atomic

MAX_DESCRIPTION = 500  # characters
EXAMPLE_FPS = 10


def examples(site: Path) -> Vault:
    return Vault(layout.examples(site))


def make_example(
    review: Review,
    site: Path,
    rid: str,
    reason: str | None,
    description: str,
    blurs: tuple[Rect, ...],
    key_for: KeyFor,
    public: X25519PublicKey,
) -> RecordingMeta:
    """An anonymised, sealed extract of `rid` (a trainer of its training: the act of an
    anonymised export, traced as "make teaching example")."""
    from agentapp.capture.encoder import SegmentEncoder

    reason = reason_of(reason)
    text = " ".join(description.split())
    if not text or len(text) > MAX_DESCRIPTION:
        raise ReviewError(
            _("a teaching example needs a description of at most {n} characters").format(
                n=MAX_DESCRIPTION
            )
        )
    meta = review.allowed(Action.EXPORT_ANONYMISED, rid)
    paths = review.vault.segment_paths(meta.id)
    if not paths:
        raise ReviewError(_("recording {id} has no sealed segment").format(id=meta.id))
    review.trace("make teaching example", meta.id, reason)
    writer = None
    try:
        segments = open_segments(review.vault, meta.id, key_for(paths[0]))
        width, height = video_size(segments)
        width, height = width + width % 2, height + height % 2
        writer = examples(site).begin("", time.time(), meta.application, 1, meta.training)
        writer.meta.purge_after = meta.purge_after  # it goes with its source
        encoder, frames, last = SegmentEncoder(width, height, EXAMPLE_FPS), 0, 0.0
        for seg in segments:
            for t, bgr in iter_frames(seg):
                canvas = np.zeros((height, width, 4), np.uint8)
                canvas[: bgr.shape[0], : bgr.shape[1], :3] = bgr
                canvas[..., 3] = 255
                for rect in blurs:
                    blur(canvas, rect)
                encoder.add(canvas, round(t * 1000))
                frames, last = frames + 1, t
        packets = encoder.flush()
        SealingSink(writer, public).append(1, 0, pack(width, height, packets), frames, True)
        write_atomic(writer.folder / DESCRIPTION,
                     seal(text.encode(), public, {"example": writer.meta.id}))  # fmt: skip
        writer.finish(max(last, meta.duration_s), [], "teaching example")
    except Exception as exc:  # the key store, a damaged recording, a full disk
        if writer is not None:
            examples(site).delete(writer.meta.id)
        review.trace("make teaching example failed", meta.id, str(exc))
        raise ReviewError(_("no teaching example made: {exc}").format(exc=exc)) from None
    return examples(site).get(writer.meta.id)


def offer(
    review: Review,
    site: Path,
    eid: str,
    login: str,
    trained: str | None,
    reason: str | None,
    key_for: KeyFor,
    trainee: X25519PublicKey,
) -> Grant:
    """Offer example `eid` to `login` (`trained`: the training the live policy enrols them
    in): a trainer of its training, to a trainee of the same training; traced."""
    reason = reason_of(reason)
    vault = examples(site)
    try:
        meta = vault.get(eid)
    except VaultError as exc:
        raise ReviewError(str(exc)) from None
    if meta.agent:
        raise ReviewError(_("{id} is not a teaching example").format(id=shown(eid)))
    review.allowed_for(Action.EXPORT_ANONYMISED, meta)
    if trained != meta.training:
        raise ReviewError(
            _("{login} is not a trainee of '{training}': the example is not offered").format(
                login=login, training=meta.training
            )
        )
    review.trace("offer teaching example", meta.id, f"to {login}: {reason}")
    try:
        return Grants(site).make(vault, meta, key_for(vault.segment_paths(meta.id)[0]), trainee,
                                 review.who.name, time.time(), viewer=login)  # fmt: skip
    except Exception as exc:  # the key store, a file: traced, one line
        review.trace("offer teaching example failed", meta.id, str(exc))
        raise ReviewError(_("not offered: {exc}").format(exc=exc)) from None


def described(vault: Vault, eid: str, opener: Opener) -> str:
    """An example's description, decrypted in memory (with the viewer's slips)."""
    header, plain = unseal((vault.folder(eid) / DESCRIPTION).read_bytes(), opener)
    if header.get("ctx") != {"example": eid}:
        raise GrantError(_("{id} holds another example's description (tampered?)").format(id=eid))
    return plain.decode()
