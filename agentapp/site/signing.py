"""Signed policies: a trainer signs, every agent verifies (Ed25519).

A signed policy is the TOML text followed by one last line

    # signature: ed25519 <key id> <base64 signature of every byte before this line>

so it stays a valid TOML file (the line is a comment), is written atomically as one file, and
cannot be edited — or an unsigned policy put in its place — without the agent noticing.

Threading: plain functions.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agentapp.core.policy import Policy, PolicyError, parse_policy
from agentapp.i18n import _

MARK = b"# signature: ed25519 "
PUBLIC_FILE = "policy-signing-public-key.pem"


def key_id(pub: Ed25519PublicKey) -> str:
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(text: bytes, private: Ed25519PrivateKey) -> bytes:
    body = strip_signature(text)
    if not body.endswith(b"\n"):
        body += b"\n"
    sig = base64.b64encode(private.sign(body)).decode()
    return body + MARK + f"{key_id(private.public_key())} {sig}\n".encode()


def _split(text: bytes) -> tuple[bytes, bytes | None]:
    """(the signed body, the signature line) — (text, None) when there is no signature."""
    if text.startswith(MARK):
        return b"", text.rstrip(b"\r\n")
    at = text.rfind(b"\n" + MARK)
    return (text, None) if at < 0 else (text[: at + 1], text[at + 1 :].rstrip(b"\r\n"))


def strip_signature(text: bytes) -> bytes:
    return _split(text)[0]


def verify(text: bytes, public: Ed25519PublicKey) -> bytes:
    """The signed body; raises PolicyError saying why it cannot be trusted."""
    body, line = _split(text)
    if line is None:
        raise PolicyError(
            _(
                "the policy is not signed (a site policy must be published with "
                "'agentapp policy publish')"
            )
        )
    parts = line[len(MARK) :].split(b" ")
    if len(parts) != 2:
        raise PolicyError(_("the policy's signature line is damaged"))
    kid, sig = parts[0].decode(errors="replace"), parts[1]
    if kid != key_id(public):
        raise PolicyError(
            _(
                "the policy is signed with key {kid}, not with this site's "
                "policy-signing key {key_id}"
            ).format(kid=kid, key_id=key_id(public))
        )
    try:
        public.verify(base64.b64decode(sig, validate=True), body)
    except (InvalidSignature, ValueError):
        raise PolicyError(
            _("the policy's signature does not match its text (edited after it was signed?)")
        ) from None
    return body


def parse_signed(text: bytes, public: Ed25519PublicKey, source: str) -> Policy:
    body = verify(text, public)
    try:
        return parse_policy(body.decode("utf-8"), source)
    except UnicodeDecodeError as exc:
        raise PolicyError(_("not UTF-8 text ({exc})").format(exc=exc), source) from None


def load_signed(path: Path, public: Ed25519PublicKey) -> Policy:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(_("policy file not found: {path}").format(path=path)) from None
    except OSError as exc:
        raise PolicyError(
            _("cannot read policy file {path}: {exc}").format(path=path, exc=exc)
        ) from None
    return parse_signed(text, public, str(path))


def write_public(pub: Ed25519PublicKey, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pub.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    path.chmod(0o644)


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise PolicyError(
            _(
                "no policy-signing public key at {path}: install the site's key "
                "there (it comes with the agent's package)"
            ).format(path=path)
        ) from None
    except (OSError, ValueError) as exc:
        raise PolicyError(
            _("policy-signing public key {path} is unreadable: {exc}").format(path=path, exc=exc)
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise PolicyError(_("{path} is not an Ed25519 policy-signing key").format(path=path))
    return key


# --------------------------------------------------------------------------- the private key


def _entry(kid: str) -> str:
    return f"policy-signing-key:{kid}"


def store_private(private: Ed25519PrivateKey) -> str:
    """Into the OS key store (no plaintext fallback); returns the key id."""
    from agentapp.vault.keys import store_secret

    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())  # fmt: skip
    kid = key_id(private.public_key())
    store_secret(_entry(kid), base64.b64encode(raw).decode())
    return kid


def load_private(public: Ed25519PublicKey) -> Ed25519PrivateKey:
    """The private half of `public` from the OS key store; raises KeyProblem."""
    from agentapp.vault.keys import KeyProblem, load_optional_secret

    kid = key_id(public)
    value = load_optional_secret(_entry(kid))
    if value is None:
        raise KeyProblem(
            _("the policy-signing key {kid} is not in this machine's key store").format(kid=kid)
        )
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(value))
