"""The agent's own configuration: who this agent is and where call events come from.

`<data dir>/agent.toml` (site-wide: `/etc/agentapp/agent.toml`). No file means: identity from
the login name, events from the local hook only. Secrets (AMI secret, ESL password) are never
here: they live in the OS key store (`agentapp source secret`).

    agent = "alice"                      # optional; default: the login name
    [source]
    kind = "baresip"                     # hook | baresip | ami | esl
    host = "127.0.0.1"
    port = 4444
    account = "sip:alice@pbx.example"    # baresip: the agent's account (accountaor)
    # endpoint = "PJSIP/1001"            # ami: the agent's channel prefix
    # username = "agentapp"              # ami: manager user (secret in the key store)
    # extension = "1001"                 # esl: the agent's extension
    internal_numbers = "^[0-9]{3,4}$"    # optional: peers matching it are internal calls
    [site]
    folder = "/srv/agentapp-site"        # the signed policy and the recordings' drop area
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from agentapp.core.tables import TableReader

KINDS = {"hook": 0, "baresip": 4444, "ami": 5038, "esl": 8021}


class ConfigError(ValueError):
    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(f"{details}: {message}" if details else message)


@dataclass(frozen=True, slots=True)
class SourceConfig:
    kind: str = "hook"
    host: str = "127.0.0.1"
    port: int = 0
    account: str = ""
    endpoint: str = ""
    username: str = ""
    extension: str = ""
    internal_numbers: re.Pattern[str] | None = None

    @property
    def describe(self) -> str:
        return "local hook" if self.kind == "hook" else f"{self.kind} at {self.host}:{self.port}"

    @property
    def secret_entry(self) -> str:
        """The key-store entry holding this source's secret (AMI, ESL)."""
        who = self.username or self.extension
        return f"source-secret:{self.kind}:{who}@{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    agent: str | None = None
    source: SourceConfig = SourceConfig()
    site: Path | None = None  # a site folder: signed policy in, sealed recordings out


def load_config(path: Path) -> AgentConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return AgentConfig()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return parse_config(text, str(path))


def parse_config(text: str, where: str = "agent.toml") -> AgentConfig:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})", where) from None
    r = TableReader(doc, where, ConfigError)
    agent = r.text("agent", default=None)
    src = r.table("source") if "source" in doc else None
    site_table = r.optional_table("site")
    r.done()
    site = None
    if site_table is not None:
        site = Path(site_table.text("folder"))
        site_table.done()
        if not site.is_absolute():
            raise ConfigError("the site folder must be an absolute path", site_table.where)
    if src is None:
        return AgentConfig(agent, site=site)
    kind = src.text("kind")
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}", src.where)
    host = src.text("host", default="127.0.0.1")
    port = src.whole("port", lo=1, hi=65535, default=KINDS[kind] or 1)
    fields = {k: src.text(k, default="") for k in ("account", "endpoint", "username", "extension")}
    pattern = src.text("internal_numbers", default=None)
    src.done()
    needed = {"baresip": ["account"], "ami": ["endpoint", "username"], "esl": ["extension"]}
    for key in needed.get(kind, []):
        if not fields[key]:
            raise ConfigError(f"a {kind} source needs '{key}'", src.where)
    internal = None
    if pattern is not None:
        try:
            internal = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"internal_numbers is not a valid regular expression ({exc})",
                              src.where) from None  # fmt: skip
    source = SourceConfig(kind, host, port, internal_numbers=internal, **fields)
    return AgentConfig(agent, source, site)
