"""Who may do what with which recording (docs/rules.md R7, R8). Pure; thread-safe.

Roles come from the live policy:

- **agent** (everyone): lists, views and exports their *own* recordings only;
- **trainer** (`[[trainer]]`): recordings made for the trainings they review, and an
  anonymised export of them, the only way to show one trainee's recording to another; the
  notes and analysis grids written on them; sharing one with its own agent, for their own
  review on their desk (vault/grants.py);
- **admin/DPO** (`[access] admins`): the audit trail, the metadata of every recording and
  deleting one (erasure requests) — but not its video.

Anyone may run a purge: it only deletes what has passed its deadline, which the agent does
by itself every hour anyway.

The person is the OS login name (AGENTAPP_USER may name a service account; the audit trail
records the real login beside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agentapp.core.policy import Policy
from agentapp.i18n import N_, _


class Action(StrEnum):
    LIST = "list"
    VIEW = "view"
    EXPORT = "export"
    EXPORT_ANONYMISED = "export anonymised"
    DELETE = "delete"
    NOTES = "notes"
    ANALYSIS = "analysis"
    SHARE = "share"
    ATTACH_VOICE = "attach voice"
    AUDIT = "audit"

    @property
    def verb(self) -> str:
        """The act in words, after "may not": "may not take notes on 2026…"."""
        return _(_VERBS[self])


_VERBS = {
    Action.LIST: N_("list"),
    Action.VIEW: N_("view"),
    Action.EXPORT: N_("export"),
    Action.EXPORT_ANONYMISED: N_("export anonymised"),
    Action.DELETE: N_("delete"),
    Action.NOTES: N_("read or take notes on"),
    Action.ANALYSIS: N_("fill or read the analysis grid of"),
    Action.SHARE: N_("share with its agent"),
    Action.ATTACH_VOICE: N_("attach the call's voice to"),
    Action.AUDIT: N_("read the audit trail"),
}

MIN_REASON = 5  # characters: a reason for a review act is written to the audit trail (R8)


_ON_RECORDINGS = {Action.LIST, Action.VIEW, Action.EXPORT, Action.EXPORT_ANONYMISED,
                  Action.DELETE, Action.NOTES, Action.ANALYSIS, Action.SHARE,
                  Action.ATTACH_VOICE}  # fmt: skip
_ADMIN_ONLY = {Action.AUDIT}


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    admin: bool
    trainings: frozenset[str]  # the trainings this person reviews as a trainer

    @property
    def role(self) -> str:
        if self.admin:
            return "admin"
        return "trainer" if self.trainings else "agent"


@dataclass(frozen=True, slots=True)
class RecordingRef:
    """What access rules look at: whose recording it is, and for which training."""

    agent: str
    training: str


def person(policy: Policy | None, name: str) -> Person:
    """A broken or missing policy grants nothing beyond the agent role (fail closed)."""
    if policy is None:
        return Person(name, False, frozenset())
    t = policy.trainer(name)
    return Person(name, name in policy.admins, frozenset(t.trainings if t else ()))


class Reason(str):
    """A refusal's reason in the person's language; `english` is what the audit trail keeps
    (a stored record: one wording whatever the locale)."""

    english: str

    @classmethod
    def of(cls, template: str, action: Action | None = None, **values: str) -> Reason:
        """`template` (a catalogue text) with `{act}` the action's verb and `values` as is."""
        shown = _(template).format(act=action.verb if action else "", **values)
        said = cls(shown)
        said.english = template.format(act=_VERBS[action] if action else "", **values)
        return said


def refusal(who: Person, action: Action, rec: RecordingRef | None = None) -> Reason | None:
    """None when allowed, else the reason in words."""
    if action in _ADMIN_ONLY:
        return None if who.admin else Reason.of(N_("only an admin/DPO may {act}"), action)
    if action not in _ON_RECORDINGS or rec is None:
        return Reason.of(N_("{act}: no recording given"), action)
    own = rec.agent == who.name
    trains = rec.training in who.trainings
    if action is Action.LIST:
        ok = own or trains or who.admin
    elif action is Action.DELETE:
        ok = trains or who.admin
    elif action in (Action.VIEW, Action.EXPORT):
        ok = own or trains
    else:  # anonymised export, analysis notes and grids: the training's trainers
        ok = trains
    if ok:
        return None
    if action is Action.DELETE:
        return Reason.of(N_("only the training's trainers or an admin/DPO may delete a recording"))
    if action in (Action.EXPORT_ANONYMISED, Action.NOTES, Action.ANALYSIS, Action.SHARE,
                  Action.ATTACH_VOICE):  # fmt: skip
        return Reason.of(N_("only a trainer of '{training}' may do this"), training=rec.training)
    if who.admin and action in (Action.VIEW, Action.EXPORT):
        return Reason.of(N_("an admin/DPO sees recordings' metadata, not their video"))
    return Reason.of(N_("this recording is not yours and you are not a trainer of its training"))
