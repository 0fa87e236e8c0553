"""What changed between two policies, in words for the audit trail (R8: enrolment and policy
changes are traced). Pure; thread-safe.

A policy is reduced to a small JSON-able summary (what the agent keeps between runs); two
summaries are compared field by field.
"""

from __future__ import annotations

from typing import Any

from agentapp.core.policy import Policy


def summary(policy: Policy) -> dict[str, Any]:
    return {
        "version": policy.version,
        "enrolments": {
            e.agent: f"{e.training} {e.start}→{e.end}, {e.sampling_percent}%, {e.weekly_quota}/week"
            + (f", {e.fps} fps" if e.fps else "")
            for e in policy.enrolments
        },
        "applications": sorted(a.name for a in policy.applications),
        "sensitive": sorted(a.name for a in policy.sensitive),
        "retention_days": policy.retention_days,
        "notes_retention_days": policy.notes_retention_days,
        "derogation": None
        if policy.derogation is None
        else f"{policy.derogation.reference}: {policy.derogation.reason}",
        "record_internal_calls": policy.record_internal_calls,
        "max_call_minutes": policy.max_call_minutes,
        "fps": policy.fps,
        "trainers": {t.name: sorted(t.trainings) for t in policy.trainers},
        "admins": sorted(policy.admins),
        "recipients": list(policy.recipients),
        "pause_hotkey": policy.pause_hotkey,
    }


def changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[tuple[str, str]]:
    """(action, description) pairs: "enrolment changed" per agent, "policy changed" for the
    rest. The first policy an agent sees is "policy adopted"."""
    if old is None:
        text = f"version {new['version']}; {len(new['enrolments'])} enrolment(s)"
        if new.get("derogation"):
            text += f"; retention derogation {new['derogation']}"
        return [("policy adopted", text)]
    out: list[tuple[str, str]] = []
    before, after = old.get("enrolments", {}), new["enrolments"]
    for agent in sorted(set(before) | set(after)):
        if agent not in before:
            out.append(("enrolment changed", f"{agent} enrolled: {after[agent]}"))
        elif agent not in after:
            out.append(("enrolment changed", f"{agent} no longer enrolled (was {before[agent]})"))
        elif before[agent] != after[agent]:
            out.append(("enrolment changed", f"{agent}: {before[agent]} → {after[agent]}"))
    rest = [
        f"{key}: {old.get(key)} → {new[key]}"
        for key in new
        if key not in ("enrolments", "version") and old.get(key) != new[key]
    ]
    if rest or old.get("version") != new["version"]:
        head = f"version {old.get('version')} → {new['version']}"
        out.append(("policy changed", "; ".join([head, *rest])))
    return out
