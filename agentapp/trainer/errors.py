"""How the trainer's console says a refusal or a failure (one line for the trainer), and the
private keys it asks the key store for.

Threading: any thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.core.errors import Refusal
from agentapp.i18n import _
from agentapp.vault.review import ReviewError


class ConsoleError(Refusal):
    """Refused or failed; the message is for the trainer."""


@contextlib.contextmanager
def console_errors() -> Iterator[None]:
    """The review module's refusals and failures, as the console shows them."""
    try:
        yield
    except ReviewError as exc:
        raise ConsoleError(str(exc)) from None


@contextlib.contextmanager
def hub_errors() -> Iterator[None]:
    """The hub's refusals and failures (no answer, no grant), as the console shows them."""
    from agentapp.hub.connect import HubError

    try:
        yield
    except HubError as exc:
        raise ConsoleError(str(exc)) from None


def private_for(loader: Callable[[str], object], first_segment: Path) -> X25519PrivateKey:
    """The private key a recording was sealed for, from `loader` (the key store)."""
    from agentapp.vault.sealing import key_id_of

    return private_key(loader, key_id_of(first_segment))


def private_key(loader: Callable[[str], object], kid: str) -> X25519PrivateKey:
    """The private key `kid`, from `loader` (the key store)."""
    private = loader(kid)
    if not isinstance(private, X25519PrivateKey):
        raise ConsoleError(_("the key loader returned no recording private key"))
    return private
