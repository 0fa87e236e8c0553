"""The layout of a data folder (a desk's, or a site's shared folder), named once.

    <desk data folder>/
        agent.toml          the desk's settings (else /etc/agentapp/agent.toml)
        policy.toml         the policy in force (on a site: the signed copy)
        agent.log           the agent's log, rotated
        audit.jsonl         the signed audit trail (its key and head: the OS key store)
        notice-acknowledgements.json  which notice each agent acknowledged, and when
        keys/               public keys (recordings, policy signing)
        recordings/<id>/    recording.json and the sealed segments
        notes/              sealed trainer notes
        analyses/           sealed analysis grids filled on recordings
        coaching/           sealed coaching records (both analyses, next steps, session)
        exports.jsonl       the files exported from here (removed with their recording)
        hub-checkpoints/    the heads of a hub's trail its DPO verified (signed, per hub)
        run/                hook.sock, status.json, policy-seen.json (the running agent's)
    <site folder>/
        policy/policy.toml  the signed site policy
        recordings/, notes/ what the desks delivered, as above; analyses/, exports.jsonl likewise
        audit/<person>-<key id>.jsonl  each reviewer's own trail (signed in their key store)
        people/<login>/     a trainee's own folder (sticky people/): key.pem, self-reviews
        grants/<id>/<login>.json  a recording (or example) shared: the slips for their key
        examples/<id>/      teaching examples: anonymised extracts, sealed (vault/examples.py)

Only names: no I/O, and no import at run time (the hook command imports it on its fast
path). Threading: plain functions.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing would slow the hook command by 1.5 ms
if TYPE_CHECKING:
    from pathlib import Path

RUN = "run"
HOOK_SOCKET = "hook.sock"
AUDIT = "audit.jsonl"
SITE_TRAILS = "audit"


def config_file(folder: Path) -> Path:
    return folder / "agent.toml"


def policy_file(folder: Path) -> Path:
    return folder / "policy.toml"


def log_file(folder: Path) -> Path:
    return folder / "agent.log"


def acknowledgements(folder: Path) -> Path:
    return folder / "notice-acknowledgements.json"


def keys(folder: Path) -> Path:
    return folder / "keys"


def recordings(folder: Path) -> Path:
    """A desk's recordings, or those delivered to a site."""
    return folder / "recordings"


def notes(folder: Path) -> Path:
    return folder / "notes"


def analyses(folder: Path) -> Path:
    return folder / "analyses"


def coaching(folder: Path) -> Path:
    return folder / "coaching"


def exports(folder: Path) -> Path:
    """The files exported from this folder's recordings (vault/exports.py)."""
    return folder / "exports.jsonl"


def hub_checkpoints(folder: Path) -> Path:
    return folder / "hub-checkpoints"


def hook_socket(folder: Path) -> Path:
    return folder / RUN / HOOK_SOCKET


def status_file(folder: Path) -> Path:
    return folder / RUN / "status.json"


def policy_seen(folder: Path) -> Path:
    return folder / RUN / "policy-seen.json"


def site_policy(site: Path) -> Path:
    return site / "policy" / "policy.toml"


def examples(site: Path) -> Path:
    """A site's teaching examples (vault/examples.py)."""
    return site / "examples"


def site_trails(site: Path) -> Path:
    """The folder of the reviewers' own trails at a site (one file per person and key)."""
    return site / SITE_TRAILS
