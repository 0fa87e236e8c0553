"""Edit a policy file the way a person would: one enrolment, one application or one criterion of
a training's analysis grid changed in place, the version increased, every comment and the
layout of the rest kept (tomlkit), and the result checked by the parser's rules before
anything is written.

Used by `agentapp enrol/unenrol` and the trainer console. Pure (text in, text out);
thread-safe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from agentapp.core.grid import Criterion
from agentapp.core.policy import Enrolment, Policy, PolicyError, WindowRule, parse_policy
from agentapp.i18n import _

Change = Callable[[Any], None]  # edits a tomlkit document in place


@dataclass(frozen=True, slots=True)
class Edited:
    text: str  # the new file, comments kept
    policy: Policy  # what it says, checked


def edit(text: str, change: Change, source: str = "edited policy") -> Edited:
    """`change` applied to `text`, the version increased; PolicyError when the result breaks
    a rule (durations, quotas, the volume a training's trainers can review…)."""
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise PolicyError(_("not valid TOML ({exc})").format(exc=exc), source) from None
    change(doc)
    version = doc.get("version")
    if isinstance(version, int) and not isinstance(version, bool):
        doc["version"] = version + 1  # tomlkit keeps the line's comment
    new = tomlkit.dumps(doc)
    return Edited(new, parse_policy(new, source))


def _table_for(doc: Any, key: str, field: str, value: str) -> Any:
    """The `[[key]]` table whose `field` is `value`, appended (empty) when there is none."""
    if key not in doc:
        doc.append(key, tomlkit.aot())
    tables = doc[key]
    found = next((t for t in tables if t.get(field) == value), None)
    if found is None:
        found = tomlkit.table()
        tables.append(found)
    return found


def _set(table: Any, key: str, value: object) -> None:
    """Set `key` (None: remove it), keeping the line's comment when it was there."""
    if value is None:
        table.pop(key, None)
    elif table.get(key) != value:
        table[key] = value


def _drop(doc: Any, key: str, keep: Callable[[Any], bool]) -> int:
    """Remove the `[[key]]` tables that `keep` refuses; how many went."""
    tables = doc.get(key)
    if tables is None:
        return 0
    gone = [i for i, t in enumerate(tables) if not keep(t)]
    for i in reversed(gone):
        del tables[i]
    if not len(tables):
        del doc[key]
    return len(gone)


def with_enrolment(text: str, e: Enrolment, clear: tuple[str, ...] = ()) -> Edited:
    """`e` added, or the agent's enrolment updated in place (its other keys, like the phone
    extension, and its comments stay; the keys in `clear` go: back to the policy's value)."""

    def change(doc: Any) -> None:
        t = _table_for(doc, "enrolment", "agent", e.agent)
        for key, value in (("agent", e.agent), ("training", e.training), ("start", e.start),
                           ("end", e.end), ("sampling_percent", e.sampling_percent),
                           ("weekly_quota", e.weekly_quota), ("fps", e.fps)):  # fmt: skip
            _set(t, key, value)
        for key, value in (("extension", e.extension), ("voice", e.voice)):
            if value is not None:  # not given: what the file says stays
                _set(t, key, value)
        for key in clear:
            if key in t:
                del t[key]

    return edit(text, change)


def without_enrolment(text: str, agent: str) -> Edited:
    def change(doc: Any) -> None:
        if not _drop(doc, "enrolment", lambda t: t.get("agent") != agent):
            raise PolicyError(_("'{agent}' is not enrolled").format(agent=agent))

    return edit(text, change)


def with_application(text: str, rule: WindowRule) -> Edited:
    """`rule` added, or the application of that name replaced."""

    def change(doc: Any) -> None:
        t = _table_for(doc, "application", "name", rule.name)
        patterns = (rule.title_pattern, rule.url_pattern, rule.field_pattern)
        title, url, field = (None if p is None else p.pattern for p in patterns)
        for key, value in (("name", rule.name), ("wm_class", rule.wm_class),
                           ("executable", rule.executable), ("title_pattern", title),
                           ("url_pattern", url), ("field_pattern", field),
                           ("popups", True if rule.popups else None)):  # fmt: skip
            _set(t, key, value)

    return edit(text, change)


def without_application(text: str, name: str) -> Edited:
    def change(doc: Any) -> None:
        if not _drop(doc, "application", lambda t: t.get("name") != name):
            raise PolicyError(_("no application '{name}'").format(name=name))

    return edit(text, change)


def with_criterion(text: str, training: str, c: Criterion) -> Edited:
    """`c` added to the training's analysis grid (the grid made if it has none), or the
    criterion of that name replaced; the parser refuses a scored one (core/grid.py)."""

    def change(doc: Any) -> None:
        grid = _table_for(doc, "grid", "training", training)
        _set(grid, "training", training)
        if "criterion" not in grid:
            grid.append("criterion", tomlkit.aot())
        found = next((t for t in grid["criterion"] if t.get("name") == c.name), None)
        if found is None:
            found = tomlkit.table()
            grid["criterion"].append(found)
        _set(found, "name", c.name)
        _set(found, "description", c.description or None)

    return edit(text, change)


def without_criterion(text: str, training: str, name: str) -> Edited:
    """The criterion `name` out of the training's grid; the grid goes with its last one."""

    def change(doc: Any) -> None:
        grid = next((t for t in doc.get("grid", []) if t.get("training") == training), None)
        if grid is None or not _drop(grid, "criterion", lambda t: t.get("name") != name):
            raise PolicyError(_("no criterion '{name}' in the grid of '{training}'").format(
                name=name, training=training))  # fmt: skip
        if "criterion" not in grid:
            _drop(doc, "grid", lambda t: t.get("training") != training)

    return edit(text, change)


def default_end(start: dt.date) -> dt.date:
    """Three months: a training period, never open-ended (R5)."""
    return start + dt.timedelta(days=91)
