"""The agent's own configuration: who this agent is and where call events come from.

`<data dir>/agent.toml` (site-wide: `/etc/agentapp/agent.toml`). No file means: identity from
the login name, events from the local hook only. Secrets (AMI secret, ESL password) are never
here: they live in the OS key store (`agentapp source secret`).

    agent = "alice"                      # optional; default: the login name
    [source]
    kind = "baresip"                     # hook | baresip | ami | esl
    host = "127.0.0.1"
    port = 4444
    account = "sip:alice@pbx.example"    # baresip: the agent's account ({user}: the agent)
    # endpoint = "PJSIP/1001"            # ami: the agent's channel prefix
    # username = "agentapp"              # ami: manager user (secret in the key store)
    # extension = "1001"                 # esl: the agent's extension
    internal_numbers = "^[0-9]{3,4}$"    # optional: peers matching it are internal calls
    [site]
    folder = "/srv/agentapp-site"        # the signed policy and the recordings' drop area
    ship_seconds = 10                    # optional: how often recordings are delivered there
    [hub]                                # optional: the site hub on PostgreSQL (docs/hub.md)
    url = "postgresql://hub.example:5432/agentapp"
    user = "desk-pc12"                   # this desk's hub login (password in the key store)
    ca = "/etc/agentapp/hub-ca.pem"      # the certificate authority of the hub's TLS
    ship_seconds = 10                    # optional: how often the trail and recordings go
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote

from agentapp.core.errors import Refusal
from agentapp.core.tables import TableReader
from agentapp.i18n import _

KINDS = {"hook": 0, "baresip": 4444, "ami": 5038, "esl": 8021}
USER = "{user}"
PER_AGENT = ("account", "endpoint", "extension")


class ConfigError(Refusal, ValueError):
    """The desk's configuration is refused; `details` gives the location."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message, details=details)


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
    templates: tuple[str, ...] = ()  # account, endpoint, extension as written ({user} kept)

    def number_of(self, agent: str) -> str:
        """The phone number (extension) the per-agent settings give `agent`; "" when they
        do not name one per agent (a fixed value is this desk's only)."""
        raw = dict(zip(PER_AGENT, self.templates, strict=False))
        if self.kind == "esl":
            value = raw.get("extension", "")
        elif self.kind == "ami":
            value = raw.get("endpoint", "").rsplit("/", 1)[-1]
        elif self.kind == "baresip":
            m = re.match(r"<?sips?:([^@;>]+)", raw.get("account", ""))
            value = m.group(1) if m else ""
        else:
            return ""
        return value.replace(USER, agent) if USER in value else ""

    @property
    def describe(self) -> str:
        return "local hook" if self.kind == "hook" else f"{self.kind} at {self.host}:{self.port}"

    @property
    def secret_entry(self) -> str:
        """The key-store entry holding this source's secret (AMI, ESL)."""
        who = self.username or self.extension
        return f"source-secret:{self.kind}:{who}@{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HubConfig:
    """Where the site hub is and who this desk is to it. TLS is always verified against
    `ca` (the hub's name must match its certificate); the password is in the key store."""

    url: str
    user: str
    ca: Path
    ship_seconds: int = 10  # the link's round: trail and recordings shipped, connection checked

    @property
    def secret_entry(self) -> str:
        return f"hub-password:{self.user}@{self.url}"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    agent: str | None = None
    source: SourceConfig = SourceConfig()
    site: Path | None = None  # a site folder: signed policy in, sealed recordings out
    hub: HubConfig | None = None  # the hub: quota, trail and recordings (docs/hub.md)
    site_ship_seconds: int = 10  # how often sealed recordings are delivered to the site folder

    def for_agent(self, agent: str) -> AgentConfig:
        """`{user}` in account, endpoint or extension stands for the agent, so that one
        machine-wide agent.toml serves every agent who logs in on a shared desk."""
        src = self.source
        fields = {k: getattr(src, k).replace(USER, agent) for k in PER_AGENT}
        return replace(self, source=replace(src, **fields))


def load_config(path: Path) -> AgentConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return AgentConfig()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(_("cannot read {path}: {exc}").format(path=path, exc=exc)) from None
    return parse_config(text, str(path))


def parse_config(text: str, where: str = "agent.toml") -> AgentConfig:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("not valid TOML ({exc})").format(exc=exc), where) from None
    r = TableReader(doc, where, ConfigError)
    agent = r.text("agent", default=None)
    src = r.table("source") if "source" in doc else None
    site_table = r.optional_table("site")
    hub_table = r.optional_table("hub")
    r.done()
    site = None
    site_ship = 10
    if site_table is not None:
        site = Path(site_table.text("folder"))
        site_ship = site_table.whole("ship_seconds", lo=1, hi=3600, default=10)
        site_table.done()
        if not site.is_absolute():
            raise ConfigError(_("the site folder must be an absolute path"), site_table.where)
    hub = None
    if hub_table is not None:
        hub = HubConfig(hub_table.text("url"), hub_table.text("user"), Path(hub_table.text("ca")),
                        hub_table.whole("ship_seconds", lo=1, hi=3600, default=10))  # fmt: skip
        hub_table.done()
        if not hub.url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(_("the hub url must be a postgresql:// address"), hub_table.where)
        if not hub.ca.is_absolute():
            raise ConfigError(_("the hub's ca must be an absolute path"), hub_table.where)
    if src is None:
        return AgentConfig(agent, site=site, hub=hub, site_ship_seconds=site_ship)
    kind = src.text("kind")
    if kind not in KINDS:
        raise ConfigError(
            _("kind must be one of {kinds}").format(kinds=", ".join(KINDS)), src.where
        )
    host = src.text("host", default="127.0.0.1")
    port = src.whole("port", lo=1, hi=65535, default=KINDS[kind] or 1)
    fields = {k: src.text(k, default="") for k in ("account", "endpoint", "username", "extension")}
    pattern = src.text("internal_numbers", default=None)
    src.done()
    needed = {"baresip": ["account"], "ami": ["endpoint", "username"], "esl": ["extension"]}
    for key in needed.get(kind, []):
        if not fields[key]:
            raise ConfigError(
                _("a {kind} source needs '{key}'").format(kind=kind, key=key), src.where
            )
    internal = None
    if pattern is not None:
        try:
            internal = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                _("internal_numbers is not a valid regular expression ({exc})").format(exc=exc),
                src.where,
            ) from None
    templates = tuple(fields[k] for k in PER_AGENT)
    source = SourceConfig(kind, host, port, internal_numbers=internal, templates=templates,
                          **fields)  # fmt: skip
    return AgentConfig(agent, source, site, hub, site_ship)


def source_from_url(url: str) -> dict[str, str | int]:
    """The event source in the one-line form installers take (a debconf answer, an NSIS
    parameter), as the `[source]` table it stands for:

        hook
        baresip://127.0.0.1:4444?account=sip:{user}@pbx.example
        ami://agentapp@pbx.example:5038?endpoint=PJSIP/{user}
        esl://pbx.example:8021?extension={user}&internal_numbers=^[0-9]{3,4}$

    Query values are percent-decoded ('+' stays '+': it is common in patterns).
    Raises ConfigError; parse_config checks the rest (required fields, the pattern)."""
    url = url.strip()
    if url == "hook":
        return {"kind": "hook"}
    kind, sep, rest = url.partition("://")
    if not sep or kind not in KINDS or kind == "hook":
        raise ConfigError(
            _("'{url}' is not hook, baresip://…, ami://… or esl://…").format(url=url),
            "event source",
        )
    netloc, _x, query = rest.partition("?")
    user, _x, hostport = netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":")
    if not colon:
        host, port = hostport, str(KINDS[kind])
    if not host or not port.isdigit():
        raise ConfigError(_("'{netloc}' is not HOST:PORT").format(netloc=netloc), "event source")
    table: dict[str, str | int] = {"kind": kind, "host": host, "port": int(port)}
    if user:
        table["username"] = unquote(user)
    for part in filter(None, query.split("&")):
        key, _x, value = part.partition("=")
        if key not in (*PER_AGENT, "internal_numbers"):
            raise ConfigError(_("unknown parameter '{key}'").format(key=key), "event source")
        table[key] = unquote(value)
    return table


def config_text(site: str | None, source: dict[str, str | int] | None) -> str:
    """agent.toml for these settings, checked by parse_config before it is returned."""
    lines = [
        "# Written by `agentapp machine configure` (the installer). Per-user overrides:",
        "# <data dir>/agent.toml. Secrets are never here: see `agentapp source secret`.",
    ]
    if source:
        lines += ["", "[source]"] + [f"{k} = {json.dumps(v)}" for k, v in source.items()]
    if site:
        lines += ["", "[site]", f"folder = {json.dumps(site)}"]
    text = "\n".join(lines) + "\n"
    parse_config(text)
    return text
