"""Hybrid encryption of one segment for the organisation's recording public key.

Each segment gets a fresh random 256-bit data key (AES-256-GCM). The data key is wrapped with
a key derived (HKDF-SHA256) from an ephemeral X25519 exchange with the recording public key.
The workstation holds only the public key: it can seal, never unseal.

Layout: MAGIC | u32 big-endian header length | header (JSON) | AES-GCM ciphertext.
The header is authenticated as associated data, so neither it nor the recording id and
sequence number it carries can be altered or swapped between files unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"AGSEAL1\n"
ALG = "X25519-HKDF-SHA256/AES-256-GCM"
_MAX_HEADER = 4096


class SealError(ValueError):
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


def seal(plaintext: bytes, recipient: X25519PublicKey, context: dict[str, Any]) -> bytes:
    """Encrypt `plaintext`. `context` (ids only, no personal data) stays clear but authenticated."""
    data_key = AESGCM.generate_key(bit_length=256)
    eph = X25519PrivateKey.generate()
    epk = _raw(eph.public_key())
    kek = _kek(eph.exchange(recipient), epk, _raw(recipient))
    wrap_nonce, nonce = os.urandom(12), os.urandom(12)
    header = {
        "v": 1,
        "alg": ALG,
        "kid": fingerprint(recipient),
        "epk": _b64(epk),
        "wrap_nonce": _b64(wrap_nonce),
        "wrapped_key": _b64(AESGCM(kek).encrypt(wrap_nonce, data_key, b"agentapp wrap v1")),
        "nonce": _b64(nonce),
        "ctx": context,
    }
    hbytes = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    prefix = MAGIC + struct.pack(">I", len(hbytes)) + hbytes
    return prefix + AESGCM(data_key).encrypt(nonce, plaintext, prefix)


def key_id_of(path: Path) -> str:
    """The id of the key a sealed file was sealed for (to find its private half)."""
    return str(read_header(path.read_bytes())[0]["kid"])


def read_header(blob: bytes) -> tuple[dict[str, Any], int]:
    """The clear header and the offset of the ciphertext. Raises SealError."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4:
        raise SealError("not an agentapp sealed file")
    (hlen,) = struct.unpack(">I", blob[len(MAGIC) : len(MAGIC) + 4])
    if hlen > _MAX_HEADER or len(blob) < len(MAGIC) + 4 + hlen:
        raise SealError("sealed file header is damaged")
    try:
        header = json.loads(blob[len(MAGIC) + 4 : len(MAGIC) + 4 + hlen])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SealError("sealed file header is damaged") from None
    if not isinstance(header, dict) or header.get("v") != 1 or header.get("alg") != ALG:
        raise SealError("unsupported sealed file version")
    return header, len(MAGIC) + 4 + hlen


def unseal(blob: bytes, private: X25519PrivateKey) -> tuple[dict[str, Any], bytes]:
    header, start = read_header(blob)
    if header["kid"] != fingerprint(private.public_key()):
        raise SealError(f"sealed for another key (key id {header['kid']})")
    try:
        epk = base64.b64decode(header["epk"])
        kek = _kek(
            private.exchange(X25519PublicKey.from_public_bytes(epk)),
            epk,
            _raw(private.public_key()),
        )
        data_key = AESGCM(kek).decrypt(
            base64.b64decode(header["wrap_nonce"]),
            base64.b64decode(header["wrapped_key"]),
            b"agentapp wrap v1",
        )
        plain = AESGCM(data_key).decrypt(
            base64.b64decode(header["nonce"]), blob[start:], blob[:start]
        )
    except (InvalidTag, KeyError, ValueError):
        raise SealError("sealed file was altered or is incomplete") from None
    return header, plain
