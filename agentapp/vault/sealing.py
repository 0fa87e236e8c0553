"""Hybrid encryption of one segment for the organisation's recording public key.

Each segment gets a fresh random 256-bit data key (AES-256-GCM). The data key is wrapped with
a key derived (HKDF-SHA256) from an ephemeral X25519 exchange with the recording public key.
The workstation holds only the public key: it can seal, never unseal.

Two layouts share the header (JSON, clear but authenticated: ids only, no personal data):

* a sealed file (notes; segments made before fragments): MAGIC | u32 big-endian header length |
  header | AES-GCM ciphertext of the whole plaintext, the prefix as associated data;
* a segment (SEGMENT_MAGIC | u32 header length | header | record*), written while the call
  goes on: each fragment of video is one record, appended as soon as it is complete, so that a
  crash or kill -9 loses at most the fragment in progress. A record is
  u32 length | u8 flags | 12-byte nonce | AES-GCM ciphertext; its associated data binds it to
  this segment's header, its place (index), its flags and the tag of the record before it, so
  fragments can be neither reordered, dropped from the middle, nor moved between segments.
  The header names the tag of the previous segment's last record ("prev"), which chains the
  segments; the recording's very last record carries CALL_END, so a cut tail shows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from agentapp.core.errors import Refusal
from agentapp.i18n import _

MAGIC = b"AGSEAL1\n"
SEGMENT_MAGIC = b"AGSEAL2\n"
ALG = "X25519-HKDF-SHA256/AES-256-GCM"
_MAX_HEADER = 4096
CALL_END = 1  # record flag: the last record of the recording
_RECORD = struct.Struct(">IB")  # length of what follows the length, flags
_TAG = 16


class SealError(Refusal, ValueError):
    """A sealed file cannot be opened: wrong key, truncated or tampered."""


def _raw(pub: X25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(pub: X25519PublicKey) -> str:
    return hashlib.sha256(_raw(pub)).hexdigest()[:16]


def _kek(shared: bytes, epk: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=epk + recipient, info=b"agentapp seal v1"
    ).derive(shared)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _new_header(
    magic: bytes, recipient: X25519PublicKey, context: dict[str, Any], extra: dict[str, Any]
) -> tuple[bytes, bytes]:
    """(prefix: magic, length and header; the fresh data key the header wraps)."""
    data_key = AESGCM.generate_key(bit_length=256)
    eph = X25519PrivateKey.generate()
    epk = _raw(eph.public_key())
    kek = _kek(eph.exchange(recipient), epk, _raw(recipient))
    wrap_nonce = os.urandom(12)
    header = {
        "v": 1 if magic == MAGIC else 2,
        "alg": ALG,
        "kid": fingerprint(recipient),
        "epk": _b64(epk),
        "wrap_nonce": _b64(wrap_nonce),
        "wrapped_key": _b64(AESGCM(kek).encrypt(wrap_nonce, data_key, b"agentapp wrap v1")),
        "ctx": context,
        **extra,
    }
    hbytes = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    return magic + struct.pack(">I", len(hbytes)) + hbytes, data_key


def seal(plaintext: bytes, recipient: X25519PublicKey, context: dict[str, Any]) -> bytes:
    """Encrypt `plaintext`. `context` (ids only, no personal data) stays clear but authenticated."""
    nonce = os.urandom(12)
    prefix, data_key = _new_header(MAGIC, recipient, context, {"nonce": _b64(nonce)})
    return prefix + AESGCM(data_key).encrypt(nonce, plaintext, prefix)


class SegmentSealer:
    """Seals one segment's fragments as records: one key exchange per segment, one AES-GCM
    encryption per fragment (a fresh random nonce each, so a record sealed again after a
    late on-hook trimmed it never reuses one). Threading: one thread (the capture thread)."""

    def __init__(self, recipient: X25519PublicKey, context: dict[str, Any]) -> None:
        self.header, self._key = _new_header(SEGMENT_MAGIC, recipient, context, {})
        self._bound = hashlib.sha256(self.header).digest()

    def record(self, index: int, payload: bytes, flags: int, prev_tag: bytes) -> bytes:
        """One record; its tag (the last 16 bytes) is the next record's `prev_tag`."""
        nonce = os.urandom(12)
        ct = AESGCM(self._key).encrypt(nonce, payload, _aad(self._bound, index, flags, prev_tag))
        return _RECORD.pack(1 + len(nonce) + len(ct), flags) + nonce + ct


def _aad(bound: bytes, index: int, flags: int, prev_tag: bytes) -> bytes:
    return bound + struct.pack(">IB", index, flags) + prev_tag


def record_tag(record: bytes) -> bytes:
    return record[-_TAG:]


def whole_records_end(blob: bytes) -> int:
    """Where the last whole record of a segment ends (a crash mid-append leaves a torn tail
    after it; no key is needed to find it). Raises SealError if the header is damaged."""
    _x, at = read_header(blob)
    while at + 4 <= len(blob):
        (length,) = struct.unpack_from(">I", blob, at)
        if at + 4 + length > len(blob):
            break
        at += 4 + length
    return at


@dataclass(slots=True)
class OpenSegment:
    """A segment's fragments, decrypted and checked, in order."""

    context: dict[str, Any]
    payloads: list[bytes]
    last_tag: bytes  # the tag of its last record ("prev" of the next segment)
    call_end: bool  # its last record ends the recording
    torn: bool  # bytes after the last whole record (the agent was stopped mid-write)


def open_segment(blob: bytes, private: Opener) -> OpenSegment:
    """Decrypt and check every record of a segment. Raises SealError."""
    header, at = read_header(blob)
    if header["v"] != 2:
        raise SealError(_("not a segment of fragments"))
    key = _data_key(header, blob[:at], private)
    bound = hashlib.sha256(blob[:at]).digest()
    payloads: list[bytes] = []
    prev, call_end = b"", False
    while at + _RECORD.size <= len(blob):
        length, flags = _RECORD.unpack_from(blob, at)
        if length < 1 + 12 + _TAG:
            raise SealError(_("sealed segment is damaged"))
        if at + 4 + length > len(blob):
            break
        if call_end:
            raise SealError(_("sealed segment goes on after the recording's end (tampered?)"))
        nonce = blob[at + _RECORD.size : at + _RECORD.size + 12]
        ct = blob[at + _RECORD.size + 12 : at + 4 + length]
        try:
            payloads.append(AESGCM(key).decrypt(nonce, ct, _aad(bound, len(payloads), flags, prev)))
        except InvalidTag:
            raise SealError(_("sealed segment was altered or its fragments reordered")) from None
        prev, call_end = ct[-_TAG:], bool(flags & CALL_END)
        at += 4 + length
    return OpenSegment(header.get("ctx", {}), payloads, prev, call_end, at != len(blob))


def key_id_of(path: Path) -> str:
    """The id of the key a sealed file was sealed for (to find its private half)."""
    return key_id_in(path.read_bytes())


def key_id_in(blob: bytes) -> str:
    """The id of the key sealed bytes were sealed for. Raises SealError (or KeyError: a
    header without one)."""
    return str(read_header(blob)[0]["kid"])


def read_header(blob: bytes) -> tuple[dict[str, Any], int]:
    """The clear header and the offset of the ciphertext. Raises SealError."""
    if not blob.startswith((MAGIC, SEGMENT_MAGIC)) or len(blob) < len(MAGIC) + 4:
        raise SealError(_("not an agentapp sealed file"))
    (hlen,) = struct.unpack(">I", blob[len(MAGIC) : len(MAGIC) + 4])
    if hlen > _MAX_HEADER or len(blob) < len(MAGIC) + 4 + hlen:
        raise SealError(_("sealed file header is damaged"))
    try:
        header = json.loads(blob[len(MAGIC) + 4 : len(MAGIC) + 4 + hlen])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SealError(_("sealed file header is damaged")) from None
    version = 1 if blob.startswith(MAGIC) else 2
    if not isinstance(header, dict) or header.get("v") != version or header.get("alg") != ALG:
        raise SealError(_("unsupported sealed file version"))
    return header, len(MAGIC) + 4 + hlen


def _unwrap(header: dict[str, Any], private: X25519PrivateKey) -> bytes:
    """The data key a header wraps for `private`. Raises SealError."""
    if header["kid"] != fingerprint(private.public_key()):
        raise SealError(_("sealed for another key (key id {kid})").format(kid=header["kid"]))
    try:
        epk = base64.b64decode(header["epk"])
        kek = _kek(
            private.exchange(X25519PublicKey.from_public_bytes(epk)),
            epk,
            _raw(private.public_key()),
        )
        return AESGCM(kek).decrypt(
            base64.b64decode(header["wrap_nonce"]),
            base64.b64decode(header["wrapped_key"]),
            b"agentapp wrap v1",
        )
    except (InvalidTag, KeyError, ValueError):
        raise SealError(_("sealed file was altered or is incomplete")) from None


def unseal(blob: bytes, private: Opener) -> tuple[dict[str, Any], bytes]:
    header, start = read_header(blob)
    if header["v"] != 1:
        raise SealError(_("a segment of fragments: open it with open_segment"))
    data_key = _data_key(header, blob[:start], private)
    try:
        plain = AESGCM(data_key).decrypt(
            base64.b64decode(header["nonce"]), blob[start:], blob[:start]
        )
    except (InvalidTag, KeyError, ValueError):
        raise SealError(_("sealed file was altered or is incomplete")) from None
    return header, plain


# ---------------------------------------------------------------------------- slips
# A slip gives one sealed file's data key to one more person: the key, unwrapped by a holder
# of the recording key, wrapped again for that person's public key, bound to the file's
# header (its SHA-256 is the wrap's associated data), so it opens that file and no other.
# The file itself is not touched: withdrawing the slip withdraws the access.


def file_id(blob: bytes) -> str:
    """What a slip names its file by: the SHA-256 of the sealed file's header."""
    _header, at = read_header(blob)
    return hashlib.sha256(blob[:at]).hexdigest()


def _slip_aad(fid: str) -> bytes:
    return b"agentapp slip v1" + bytes.fromhex(fid)


def slip_for(blob: bytes, private: X25519PrivateKey, recipient: X25519PublicKey) -> dict[str, str]:
    """A slip that gives `recipient` the data key of the sealed file `blob`, made with the
    recording key's private half `private`. Raises SealError."""
    header, at = read_header(blob)
    data_key = _unwrap(header, private)
    fid = hashlib.sha256(blob[:at]).hexdigest()
    eph = X25519PrivateKey.generate()
    epk = _raw(eph.public_key())
    kek = _kek(eph.exchange(recipient), epk, _raw(recipient))
    nonce = os.urandom(12)
    return {"file": fid, "kid": fingerprint(recipient), "epk": _b64(epk),
            "wrap_nonce": _b64(nonce),
            "wrapped_key": _b64(AESGCM(kek).encrypt(nonce, data_key, _slip_aad(fid)))}  # fmt: skip


class SlipKeys:
    """A person's private key and the slips made for it: opens the files they name, and
    nothing else (SealError "not shared with you")."""

    def __init__(self, private: X25519PrivateKey, slips: list[dict[str, str]]) -> None:
        self._private = private
        kid = fingerprint(private.public_key())
        self._slips = {s["file"]: s for s in slips if s.get("kid") == kid}

    def data_key(self, prefix: bytes) -> bytes:
        fid = hashlib.sha256(prefix).hexdigest()
        slip = self._slips.get(fid)
        if slip is None:
            raise SealError(_("this file is not shared with you"))
        try:
            epk = base64.b64decode(slip["epk"])
            mine = _raw(self._private.public_key())
            kek = _kek(self._private.exchange(X25519PublicKey.from_public_bytes(epk)), epk, mine)
            nonce, wrapped = (base64.b64decode(slip[k]) for k in ("wrap_nonce", "wrapped_key"))
            return AESGCM(kek).decrypt(nonce, wrapped, _slip_aad(fid))
        except (InvalidTag, KeyError, ValueError, TypeError):
            raise SealError(_("the share of this file was altered or is for another key")) from None


Opener = X25519PrivateKey | SlipKeys  # what opens a sealed file: the recording key, or slips


def _data_key(header: dict[str, Any], prefix: bytes, opener: Opener) -> bytes:
    if isinstance(opener, SlipKeys):
        return opener.data_key(prefix)
    return _unwrap(header, opener)
