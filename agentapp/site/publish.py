"""Publishing a policy to a site: check the draft against what the site has, then sign and
write it. Shared by `agentapp policy publish` and the trainer console.

Threading: plain functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agentapp.core.policy import Policy, PolicyError, parse_policy
from agentapp.core.policy_changes import changes, summary
from agentapp.files import layout
from agentapp.i18n import _
from agentapp.site.signing import parse_signed, sign, strip_signature
from agentapp.site.sync import site_policy_path
from agentapp.vault.store import write_atomic


@dataclass(frozen=True, slots=True)
class Plan:
    target: Path
    text: bytes  # the draft, unsigned
    new: Policy
    old: Policy | None
    untrusted: str  # why the site's current policy could not be read or trusted ("" if fine)

    @property
    def changes(self) -> list[tuple[str, str]]:
        """What publishing changes, in the person's language (for display, not the trail)."""
        return changes(summary(self.old) if self.old else None, summary(self.new), say=_)


def plan(site: Path, draft: bytes, public: Ed25519PublicKey, source: str = "draft") -> Plan:
    """Raises PolicyError when the draft is invalid or would be a rollback."""
    if not site.is_dir():
        raise PolicyError(_("no site folder at {site}").format(site=site))
    body = strip_signature(draft)
    try:
        new = parse_policy(body.decode("utf-8"), source)
    except UnicodeDecodeError as exc:
        raise PolicyError(_("not UTF-8 text ({exc})").format(exc=exc), source) from None
    target = site_policy_path(site)
    old, untrusted = None, ""
    if target.exists():
        try:
            old = parse_signed(target.read_bytes(), public, str(target))
        except (OSError, PolicyError) as exc:
            untrusted = str(exc)
    if old is not None and new.version <= old.version:
        raise PolicyError(
            _(
                "version {version} is not higher than the site's version "
                "{current}: increase 'version' (agents refuse a rollback)"
            ).format(version=new.version, current=old.version)
        )
    return Plan(target, body, new, old, untrusted)


def publish(p: Plan, private: Ed25519PrivateKey) -> None:
    p.target.parent.mkdir(parents=True, exist_ok=True)
    layout.recordings(p.target.parent.parent).mkdir(exist_ok=True)
    write_atomic(p.target, sign(p.text, private), mode=0o644)
