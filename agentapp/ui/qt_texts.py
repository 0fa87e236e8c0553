"""Qt's own texts (standard buttons, the date picker, context menus) in the agent's language:
Qt's qtbase_<language>.qm from the Qt the program runs with. Our own texts come from the
gettext catalogue (agentapp/i18n). Qt thread only."""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

log = logging.getLogger(__name__)
_installed: list[QTranslator] = []


def install_qt_translations(language: str) -> bool:
    """Qt's own translation for `language` ('fr', 'en'); True when one is in force."""
    app = QCoreApplication.instance()
    if app is None:
        return False
    for old in _installed:
        app.removeTranslator(old)
    _installed.clear()
    locale = QLocale(QLocale.Language.French if language == "fr" else QLocale.Language.English)
    QLocale.setDefault(locale)
    if language == "en":
        return True  # Qt's own texts are English
    translator = QTranslator(app)
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if not translator.load(locale, "qtbase", "_", folder):
        log.warning("Qt's own French texts (qtbase_fr.qm) not found in %s", folder)
        return False
    app.installTranslator(translator)
    _installed.append(translator)
    return True
