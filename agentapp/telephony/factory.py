"""Build the configured socket event source (lazy imports; the hook needs none of this)."""

from __future__ import annotations

from collections.abc import Callable

from agentapp.core.clock import Clock
from agentapp.core.config import SourceConfig
from agentapp.core.errors import Refusal
from agentapp.i18n import _
from agentapp.telephony.base import PeerMatcher, SourceProtocol, SourceRunner, SourceSink


class SourceSetupError(Refusal):
    """The configured call source cannot be set up (a setting, a missing program)."""


def protocol_factory(
    cfg: SourceConfig, peers: PeerMatcher | None = None
) -> Callable[[], SourceProtocol]:
    """A factory of fresh protocol objects (one per connection). Raises SourceSetupError.
    `peers` tells internal calls (core/internal.py); else the source's internal_numbers."""
    internal = peers if peers is not None else cfg.internal_numbers
    if cfg.kind == "baresip":
        from agentapp.telephony.baresip import BaresipProtocol

        return lambda: BaresipProtocol(cfg.account, internal)
    from agentapp.vault.keys import KeyProblem, load_secret

    try:
        secret = load_secret(cfg.secret_entry)
    except KeyProblem as exc:
        raise SourceSetupError(str(exc)) from None
    if cfg.kind == "ami":
        from agentapp.telephony.ami import AmiProtocol

        return lambda: AmiProtocol(cfg.username, secret, cfg.endpoint, internal)
    if cfg.kind == "esl":
        from agentapp.telephony.esl import EslProtocol

        return lambda: EslProtocol(secret, cfg.extension, internal)
    raise SourceSetupError(_("no socket source of kind {kind!r}").format(kind=cfg.kind))


def make_runner(
    cfg: SourceConfig, sink: SourceSink, clock: Clock, peers: PeerMatcher | None = None
) -> SourceRunner:
    factory = protocol_factory(cfg, peers)
    return SourceRunner(cfg.describe, (cfg.host, cfg.port), factory, sink, clock)
