"""What changed between two policies, in words for the audit trail (R8: enrolment and policy
changes are traced) and for the trainer about to publish. Pure; thread-safe.

The trail's words are English whatever the locale (a stored record, docs/design.md "Texts and
languages"); a front end passes `say=_` to show the same changes in the person's language.

A policy is reduced to a small JSON-able summary (what the agent keeps between runs); two
summaries are compared field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentapp.core.policy import Policy
from agentapp.i18n import N_


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
        # (only when there are grids: a summary stored before grids existed stays equal)
        **(
            {"grids": {g.training: [c.name for c in g.criteria] for g in policy.grids}}
            if policy.grids
            else {}
        ),
    }


def _english(text: str) -> str:
    return text


def changes(
    old: dict[str, Any] | None, new: dict[str, Any], say: Callable[[str], str] = _english
) -> list[tuple[str, str]]:
    """(action, description) pairs: "enrolment changed" per agent, "policy changed" for the
    rest. The first policy an agent sees is "policy adopted". `say` translates (default: the
    trail's English)."""
    if old is None:
        text = say(N_("version {version}; {n} enrolment(s)")).format(
            version=new["version"], n=len(new["enrolments"])
        )
        if new.get("derogation"):
            text += say(N_("; retention derogation {derogation}")).format(
                derogation=new["derogation"]
            )
        return [(say(N_("policy adopted")), text)]
    out: list[tuple[str, str]] = []
    enrolment = say(N_("enrolment changed"))
    before, after = old.get("enrolments", {}), new["enrolments"]
    for agent in sorted(set(before) | set(after)):
        if agent not in before:
            text = say(N_("{agent} enrolled: {now}")).format(agent=agent, now=after[agent])
        elif agent not in after:
            text = say(N_("{agent} no longer enrolled (was {was})")).format(
                agent=agent, was=before[agent]
            )
        elif before[agent] != after[agent]:
            text = f"{agent}: {before[agent]} → {after[agent]}"
        else:
            continue
        out.append((enrolment, text))
    rest = [
        f"{key}: {old.get(key)} → {new[key]}"
        for key in new
        if key not in ("enrolments", "version") and old.get(key) != new[key]
    ]
    if rest or old.get("version") != new["version"]:
        head = say(N_("version {was} → {now}")).format(was=old.get("version"), now=new["version"])
        out.append((say(N_("policy changed")), "; ".join([head, *rest])))
    return out
