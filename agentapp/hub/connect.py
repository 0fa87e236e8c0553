"""How anything of agentapp reaches the hub: psycopg 3 over verified TLS, as its own login.

Every connection is a person's or a desk's own role (SCRAM-SHA-256, its password in the OS
key store): what the hub writes as "who" is the database's session user, never a name the
client sends. TLS is always on and verified (`sslmode=verify-full` against the hub's CA); a
hub that does not answer within a few seconds is reported, never waited for.

Threading: a connection is used by one thread at a time (callers hold their own lock).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentapp.core.errors import Refusal
from agentapp.i18n import _

if TYPE_CHECKING:
    import psycopg

    from agentapp.core.config import HubConfig

CONNECT_TIMEOUT_S = 3
STATEMENT_TIMEOUT_MS = 3000


class HubError(Refusal):
    """The hub cannot be reached, refused the login, or refused an act."""


def tls_options(ca: Path) -> dict[str, Any]:
    """libpq's options for a hub connection: verified TLS, bounded waits."""
    return {
        "sslmode": "verify-full",
        "sslrootcert": str(ca),
        "connect_timeout": CONNECT_TIMEOUT_S,
        "tcp_user_timeout": CONNECT_TIMEOUT_S * 1000,  # a peer gone silent mid-query
        "keepalives": 1,
        "keepalives_idle": 10,
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    }


def connect(
    url: str, user: str, password: str, ca: Path, *, app: str = "agentapp", **extra: Any
) -> psycopg.Connection[Any]:
    """A new connection, autocommit off. Raises HubError with the reason in a line."""
    try:
        import psycopg
    except ImportError as exc:
        raise HubError(_("the hub needs psycopg and libpq ({exc})").format(exc=exc)) from None
    if not ca.is_file():
        raise HubError(_("the hub's CA certificate {ca} is missing").format(ca=ca))
    opts = {**tls_options(ca), **extra}
    try:
        return psycopg.connect(url, user=user, password=password, application_name=app, **opts)
    except psycopg.Error as exc:
        raise HubError(_("the hub {url} refused or did not answer: {why}").format(
            url=url, why=first_line(exc))) from None  # fmt: skip


def desk_connect(
    hub: HubConfig, app: str = "agentapp desk", **extra: Any
) -> psycopg.Connection[Any]:
    """The connection of a `[hub]` login (a desk's, or a person's for the CLI and the
    console), with its password from the key store."""
    return connect(hub.url, hub.user, hub_password(hub.secret_entry), hub.ca, app=app, **extra)


def hub_password(entry: str) -> str:
    from agentapp.vault.keys import KeyProblem, load_optional_secret

    try:
        value = load_optional_secret(entry)
    except KeyProblem as exc:
        raise HubError(str(exc)) from None
    if value is None:
        raise HubError(
            _("no hub password in the key store ({entry}): run 'agentapp hub login'").format(
                entry=entry
            )
        )
    return value


def first_line(exc: BaseException) -> str:
    """libpq's message without its hints: one line for a person."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def one_row(db: Any, query: str, args: tuple[object, ...] = ()) -> tuple[Any, ...]:
    """The one row a function call of the hub's gives (HubError if none)."""
    row = db.execute(query, args).fetchone()
    if row is None:
        raise HubError(_("the hub gave no answer to {query}").format(query=query))
    return tuple(row)
