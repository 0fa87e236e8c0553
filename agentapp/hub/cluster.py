"""A trial hub in one command: a PostgreSQL cluster of its own in a folder, TLS on, SCRAM
only, the schema applied (`agentapp hub init DIR`). Production uses a PostgreSQL that IT
runs (docs/hub.md); this is for a pilot, a demo and the tests.

The folder holds `data/` (the cluster), `tls/` (a CA and the server's certificate, made
here), `run/` (the local socket: only the account that made it may administer, by peer
login) and `hub.toml` (port, owner). The server runs as the account that made it; root must
name an unprivileged account for it (`--run-as postgres`), PostgreSQL never runs as root.

Threading: plain functions, run on the CLI's thread.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentapp.hub.connect import HubError, first_line
from agentapp.hub.schema import apply_schema
from agentapp.i18n import _

DATABASE = "agentapp"


@dataclass(frozen=True, slots=True)
class Cluster:
    folder: Path
    port: int
    owner: str  # the database superuser the folder's administrator logs in as
    run_as: str = ""  # the account the server runs as, when root made it

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def socket_dir(self) -> Path:
        return self.folder / "run"

    @property
    def ca(self) -> Path:
        return self.folder / "tls" / "ca.pem"

    @property
    def url(self) -> str:
        return f"postgresql://localhost:{self.port}/{DATABASE}"

    def admin(self, dbname: str = DATABASE) -> Any:
        """A connection as the cluster's owner over the local socket (peer login)."""
        import psycopg

        try:
            return psycopg.connect(
                host=str(self.socket_dir),
                port=self.port,
                dbname=dbname,
                user=self.owner,
                connect_timeout=5,
            )
        except psycopg.Error as exc:
            raise HubError(
                _("the trial hub in {folder} does not answer: {why}").format(
                    folder=self.folder, why=first_line(exc)
                )
            ) from None


def binaries() -> Path:
    """The newest PostgreSQL server binaries: Debian keeps them out of PATH."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise HubError(_("no PostgreSQL server here: install Debian's 'postgresql' package"))


def load(folder: Path) -> Cluster:
    try:
        doc = tomllib.loads((folder / "hub.toml").read_text(encoding="utf-8"))
        return Cluster(
            folder.absolute(), int(doc["port"]), str(doc["owner"]), str(doc.get("run_as", ""))
        )
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise HubError(
            _("{folder} is not a trial hub made by 'agentapp hub init' ({exc})").format(
                folder=folder, exc=exc
            )
        ) from None


def init(
    folder: Path, port: int, timezone: str, max_connections: int = 200, run_as: str = ""
) -> Cluster:
    """Make, start and set up a trial hub; an existing one is started (idempotent)."""
    if os.geteuid() == 0 and not run_as:
        raise HubError(
            _(
                "PostgreSQL does not run as root: give --run-as ACCOUNT (e.g. postgres), "
                "or run 'agentapp hub init' as the account that will own the hub"
            )
        )
    if run_as and os.geteuid() != 0:
        raise HubError(_("--run-as needs root; without it the hub runs as you"))
    folder = folder.absolute()
    if (folder / "hub.toml").exists():
        cluster = load(folder)
        start(cluster)
        return cluster
    if folder.exists() and any(folder.iterdir()):
        raise HubError(_("{folder} is not empty: give a new folder").format(folder=folder))
    me = getpass.getuser()
    cluster = Cluster(folder, port, run_as or me, run_as)
    bin_dir = binaries()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    cluster.socket_dir.mkdir(mode=0o700)
    if run_as:
        shutil.chown(folder, run_as)
        shutil.chown(cluster.socket_dir, run_as)
    _run(
        [
            *_as(run_as),
            str(bin_dir / "initdb"),
            "-D",
            str(cluster.data),
            "-U",
            cluster.owner,
            "--auth-local=peer",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
        ]
    )
    _certificates(folder / "tls")
    with open(cluster.data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(
            "\n# agentapp trial hub (agentapp/hub/cluster.py)\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {port}\n"
            f"unix_socket_directories = '{cluster.socket_dir}'\n"
            f"max_connections = {max_connections}\n"
            "ssl = on\n"
            f"ssl_cert_file = '{folder / 'tls' / 'server.pem'}'\n"
            f"ssl_key_file = '{folder / 'tls' / 'server.key'}'\n"
            "ssl_min_protocol_version = 'TLSv1.2'\n"
            "password_encryption = 'scram-sha-256'\n"
            "log_connections = on\n"
        )
    (cluster.data / "pg_hba.conf").write_text(
        "# agentapp trial hub: its administrator on the local socket; everyone else over TLS,\n"
        "# SCRAM, each with a login of their own\n"
        f"local all {cluster.owner} peer map=admin\n"
        f"hostssl {DATABASE} all 127.0.0.1/32 scram-sha-256\n"
        "host all all 0.0.0.0/0 reject\n",
        encoding="utf-8",
    )
    (cluster.data / "pg_ident.conf").write_text(f"admin {me} {cluster.owner}\n", encoding="utf-8")
    (folder / "hub.toml").write_text(
        f'port = {port}\nowner = "{cluster.owner}"\nrun_as = "{run_as}"\n', encoding="utf-8"
    )
    if run_as:
        for path in [folder, *folder.rglob("*")]:
            shutil.chown(path, run_as)
    start(cluster)
    with cluster.admin("postgres") as db:
        db.autocommit = True
        db.execute(f"CREATE DATABASE {DATABASE}")
    with cluster.admin() as db:
        apply_schema(db, timezone, owner=cluster.owner)
    return cluster


def start(cluster: Cluster) -> None:
    pg_ctl = [*_as(cluster.run_as), str(binaries() / "pg_ctl"), "-D", str(cluster.data)]
    status = subprocess.run([*pg_ctl, "status"], capture_output=True, text=True, check=False)
    if status.returncode == 0:
        return
    _run([*pg_ctl, "-l", str(cluster.folder / "postgres.log"), "-w", "-t", "60", "start"])


def stop(cluster: Cluster) -> None:
    _run(
        [
            *_as(cluster.run_as),
            str(binaries() / "pg_ctl"),
            "-D",
            str(cluster.data),
            "-m",
            "fast",
            "-w",
            "stop",
        ]
    )


def _as(account: str) -> list[str]:
    return ["runuser", "-u", account, "--"] if account else []


def _run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/")
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        name = next(Path(c).name for c in cmd if c.startswith("/"))
        raise HubError(_("{cmd} failed: {why}").format(cmd=name, why=" / ".join(tail)))


def _certificates(tls: Path) -> None:
    """A CA of the trial hub's own and the server's certificate for localhost/127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    tls.mkdir(mode=0o700)
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("agentapp trial hub CA"))
        .issuer_name(name("agentapp trial hub CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (tls / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tls / "server.pem").write_bytes(cert.public_bytes(pem))
    fd = os.open(tls / "server.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
