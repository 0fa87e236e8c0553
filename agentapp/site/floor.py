"""The highest site policy version this desk ever adopted, kept outside the data folder.

An older policy, even one properly signed, can undo a trainer's decision (an agent removed in
version 2 recorded again under version 1). The data folder's user can copy any old signed
file into it, so the version in force is checked against a floor kept in the OS key store,
beside the audit trail's head: a policy below it is refused, from the site and on the desk.

Threading: any thread (the key store serialises its own calls).
"""

from __future__ import annotations

from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agentapp.core.policy import PolicyError
from agentapp.i18n import _


class VersionFloor(Protocol):
    def get(self) -> int:
        """The highest version adopted (0: none yet). Raises PolicyError."""

    def raise_to(self, version: int) -> None:
        """Never lowers it. Raises PolicyError."""


class KeyringFloor:
    """One entry per site signing key (a site's versions mean nothing to another site)."""

    def __init__(self, public: Ed25519PublicKey) -> None:
        from agentapp.site.signing import key_id

        self._entry = f"policy-floor:{key_id(public)}"

    def get(self) -> int:
        from agentapp.vault.keys import KeyProblem, load_optional_secret

        try:
            value = load_optional_secret(self._entry)
        except KeyProblem as exc:
            raise PolicyError(
                _("the policy's version cannot be checked: {exc}").format(exc=exc)
            ) from None
        return int(value) if value and value.isdigit() else 0

    def raise_to(self, version: int) -> None:
        from agentapp.vault.keys import KeyProblem, store_secret

        if version <= self.get():
            return
        try:
            store_secret(self._entry, str(version))
        except KeyProblem as exc:
            raise PolicyError(
                _("the policy's version cannot be kept: {exc}").format(exc=exc)
            ) from None


class MemoryFloor:
    """The floor in memory (unit tests; a desk without a site needs none)."""

    def __init__(self, version: int = 0) -> None:
        self.version = version

    def get(self) -> int:
        return self.version

    def raise_to(self, version: int) -> None:
        self.version = max(self.version, version)


def refuse_rollback(version: int, floor: VersionFloor, where: str) -> None:
    """Raises PolicyError when `version` is below the floor; else raises the floor to it."""
    lowest = floor.get()
    if version < lowest:
        raise PolicyError(
            _(
                "version {version} is older than version {lowest} already "
                "adopted on this desk (rollback refused; the site's copy is "
                "fetched again)"
            ).format(version=version, lowest=lowest),
            where,
        )
    floor.raise_to(version)
