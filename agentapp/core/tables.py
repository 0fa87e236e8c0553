"""Typed, strict access to a parsed TOML table: every value checked, unknown keys refused
(a typo must not pass silently). Shared by the policy and the agent configuration."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from agentapp.i18n import _

_MISSING: Any = object()


class TableReader:
    """Typed access to one TOML table; refuses unknown keys (a typo must not pass silently)."""

    def __init__(
        self, table: dict[str, Any], where: str, error: Callable[[str, str], Exception]
    ) -> None:
        self._t = table
        self.where = where
        self._error = error
        self._used: set[str] = set()

    def _get(self, key: str, default: Any) -> Any:
        self._used.add(key)
        if key in self._t:
            return self._t[key]
        if default is _MISSING:
            raise self._error(_("'{key}' is required").format(key=key), self.where)
        return default

    def text(self, key: str, default: Any = _MISSING) -> Any:
        v = self._get(key, default)
        if v is not default and (not isinstance(v, str) or not v.strip()):
            raise self._error(_("'{key}' must be a non-empty string").format(key=key), self.where)
        return v

    def texts(self, key: str, default: Any = _MISSING) -> list[str]:
        v = self._get(key, default)
        if v is default and default is not _MISSING:
            return v  # not given: the caller's default
        if not isinstance(v, list) or not v or not all(isinstance(s, str) and s for s in v):
            raise self._error(
                _("'{key}' must be a non-empty list of strings").format(key=key), self.where
            )
        return v

    def whole(self, key: str, *, lo: int, hi: int, default: Any = _MISSING) -> Any:
        v = self._get(key, default)
        if v is default:
            return v
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise self._error(
                _("'{key}' must be a whole number from {lo} to {hi}").format(key=key, lo=lo, hi=hi),
                self.where,
            )
        return v

    def flag(self, key: str, default: Any = _MISSING) -> bool:
        v = self._get(key, default)
        if not isinstance(v, bool):
            raise self._error(_("'{key}' must be true or false").format(key=key), self.where)
        return v

    def day(self, key: str, default: Any = _MISSING) -> Any:
        v = self._get(key, default)
        if v is default and default is not _MISSING:
            return v
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v)
            except ValueError:
                pass
        raise self._error(_("'{key}' must be a date like 2026-12-31").format(key=key), self.where)

    def table(self, key: str) -> TableReader:
        v = self._get(key, _MISSING)
        if not isinstance(v, dict):
            raise self._error(_("[{key}] must be a table").format(key=key), self.where)
        return TableReader(v, f"{self.where}: [{key}]", self._error)

    def optional_table(self, key: str) -> TableReader | None:
        return self.table(key) if key in self._t else None

    def tables(self, key: str) -> list[TableReader]:
        v = self._get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise self._error(_("[[{key}]] must be an array of tables").format(key=key), self.where)
        return [
            TableReader(x, f"{self.where}: [[{key}]] #{i + 1}", self._error)
            for i, x in enumerate(v)
        ]

    def raw(self) -> dict[str, Any]:
        """The table's keys and values as parsed (a copy), for checks across keys."""
        return dict(self._t)

    def done(self) -> None:
        unknown = sorted(set(self._t) - self._used)
        if unknown:
            raise self._error(
                _("unknown key(s): {keys}").format(keys=", ".join(unknown)), self.where
            )
