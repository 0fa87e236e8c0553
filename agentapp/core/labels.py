"""The labels a trainee clicks or sees on the badge, defined once: the tray and the badge
show them, and the notice quotes the very same words (R2, R15), in each language, from the
same catalogue (agentapp/i18n). English msgids; `texts(language).gettext(label)` translates.
"""

from __future__ import annotations

from agentapp.i18n import N_

PAUSE = N_("Pause recording ({key})")
RESUME = N_("Resume recording")
OBJECTS = N_("Caller objects — stop and erase this recording")
OBJECTS_AFTER = N_("Caller objects — erase the last call's recording")
ABOUT = N_("About recording…")
SAY = N_("What to tell a caller…")
DETAILS = N_("Details for IT…")
LANGUAGE = N_("Français / English")
BADGE_RECORDING = N_("● Recording for training — {application}")
BADGE_PAUSED = N_("❚❚ Paused — nothing is recorded")
BADGE_HIDDEN = N_("○ Nothing is written — business window hidden")
