"""Build the configured socket event source (lazy imports; the hook needs none of this)."""

from __future__ import annotations

from collections.abc import Callable

from agentapp.core.clock import Clock
from agentapp.core.config import SourceConfig
from agentapp.telephony.base import SourceProtocol, SourceRunner, SourceSink


class SourceSetupError(RuntimeError):
    pass


def protocol_factory(cfg: SourceConfig) -> Callable[[], SourceProtocol]:
    """A factory of fresh protocol objects (one per connection). Raises SourceSetupError."""
    if cfg.kind == "baresip":
        from agentapp.telephony.baresip import BaresipProtocol

        return lambda: BaresipProtocol(cfg.account, cfg.internal_numbers)
    from agentapp.vault.keys import KeyProblem, load_secret

    try:
        secret = load_secret(cfg.secret_entry)
    except KeyProblem as exc:
        raise SourceSetupError(str(exc)) from None
    if cfg.kind == "ami":
        from agentapp.telephony.ami import AmiProtocol

        return lambda: AmiProtocol(cfg.username, secret, cfg.endpoint, cfg.internal_numbers)
    if cfg.kind == "esl":
        from agentapp.telephony.esl import EslProtocol

        return lambda: EslProtocol(secret, cfg.extension, cfg.internal_numbers)
    raise SourceSetupError(f"no socket source of kind {cfg.kind!r}")


def make_runner(cfg: SourceConfig, sink: SourceSink, clock: Clock) -> SourceRunner:
    return SourceRunner(cfg.describe, (cfg.host, cfg.port), protocol_factory(cfg), sink, clock)
