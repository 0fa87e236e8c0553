"""Every text a person reads, in French or English: one gettext catalogue for the tray, the
badge, the console, the player, `doctor`, the command line and the notice's labels.

Sources: `agentapp/i18n/fr.po` (msgids are the English texts), compiled to
`agentapp/i18n/fr/LC_MESSAGES/agentapp.mo` by `python scripts/i18n.py` (which also extracts
new texts from the code); tests/unit/test_catalogue.py fails when a text has no French
translation or the compiled file is stale. Dates, numbers and durations are formatted for
the language by Babel (CLDR data).

The process has one current language, chosen at start by `language_from_environment`
(AGENTAPP_LANG, then LC_ALL / LC_MESSAGES / LANG: French for fr_*, English otherwise) and
switchable with `use`. `_`, `ngettext` and `pgettext` read it; `texts(language)` answers for a given
language whatever the current one (the notice dialog shows both). Thread-safe: `use` swaps
one reference; callers on other threads see the old or the new language, never a mix within
one call.
"""

from __future__ import annotations

import datetime as dt
import gettext
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

LANGUAGES = ("fr", "en")
DOMAIN = "agentapp"
_HERE = Path(__file__).resolve().parent
_LOCALES = {"fr": "fr_FR", "en": "en_GB"}  # en_GB: day month year, 24-hour clock


def language_for(locale_name: str | None) -> str:
    """'fr' for a French locale name (fr, fr_FR.UTF-8, fr-BE…), 'en' otherwise."""
    return "fr" if (locale_name or "").lower().startswith("fr") else "en"


def language_from_environment(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    chosen = env.get("AGENTAPP_LANG", "").strip()
    if chosen:
        return language_for(chosen)
    return language_for(env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG"))


@cache
def texts(language: str) -> gettext.NullTranslations:
    """The catalogue of `language` ('en' is the msgids themselves)."""
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=_HERE, languages=[language], fallback=True)


_current: list[str] = [language_from_environment()]


def use(language: str) -> None:
    """Make `language` ('fr' or 'en', or a locale name) the process's language."""
    _current[0] = language if language in LANGUAGES else language_for(language)


def current() -> str:
    return _current[0]


def _(message: str) -> str:
    """`message` (English) in the current language."""
    return texts(_current[0]).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return texts(_current[0]).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` in the current language where its translation depends on where it is shown
    (French reads the tray's "Recording" as "Enregistrement en cours", a column's as
    "Enregistrement")."""
    return texts(_current[0]).pgettext(context, message)


def N_(message: str) -> str:
    """Marks a text for the catalogue where it is defined; translated where it is shown."""
    return message


def locale_of(language: str | None = None) -> str:
    return _LOCALES.get(language or _current[0], "en_GB")


def date(d: dt.date | str, language: str | None = None) -> str:
    """A date a person reads: '1 décembre 2026' / '1 December 2026'."""
    from babel.dates import format_date

    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    return str(format_date(d, "long", locale=locale_of(language)))


def moment(t: float, language: str | None = None) -> str:
    """A local date and time: '1 déc. 2026, 14:05' / '1 Dec 2026, 14:05'."""
    from babel.dates import format_datetime

    when = dt.datetime.fromtimestamp(t)
    return str(format_datetime(when, "d MMM y, HH:mm", locale=locale_of(language)))


def number(n: float, language: str | None = None) -> str:
    from babel.numbers import format_decimal

    return str(format_decimal(n, locale=locale_of(language)))


def duration(seconds: float) -> str:
    """'3 min 05 s' style, the same in both languages (the units are SI symbols)."""
    s = max(0, round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min {sec:02d} s"
    return f"{sec} s"
