"""A trainee's words for the agent's status: a short state, what it means for them, and
whom to ask. The technical detail (`EngineStatus.detail`) stays for IT, behind "Details…".

No Qt here: the tray, the status window and the badge all read these. Any thread.
"""

from __future__ import annotations

from agentapp.agent.status import AgentState, EngineStatus
from agentapp.core import labels
from agentapp.core.readiness import Why
from agentapp.i18n import N_, _, date, ngettext
from agentapp.platform.hotkey import human

ASK = N_("It is not your doing: tell your trainer or IT.")

_CANNOT = {
    Why.DISK: N_("The disk is full. Your recordings already made are kept."),
    Why.KEY: N_("The recording key of this desk is missing."),
    Why.DISPLAY: N_("The screen cannot be read."),
    Why.SOURCE: N_("The telephone is not connected to agentapp."),
    Why.INDICATOR: N_("No recording indicator can be shown on this desk."),
    Why.POLICY: N_("The recording rules could not be read."),
    Why.VAULT: N_("Recordings cannot be saved on this desk."),
    Why.CAPTURE: N_("The last recording stopped on an error."),
    Why.HUB: N_("The training server cannot be reached."),
}
_PAUSED = {
    Why.LOCKED: N_("The screen is locked."),
    Why.SENSITIVE: N_("A sensitive window is shown."),
    Why.AGENT_PAUSE: N_("You paused: {key} resumes."),
}


def headline(status: EngineStatus) -> str:
    """One short line: the tray's first line, the tooltip's title, a notification."""
    s, why = status.state, status.why
    if s == AgentState.RECORDING:
        if not status.writing:
            return _("Nothing is recorded: business window hidden")
        if status.application:
            return _("Recording — {application}").format(application=status.application)
        return _("Recording")
    if s == AgentState.PAUSED:
        return _("Paused — nothing is recorded")
    if s == AgentState.NOTICE_REQUIRED:
        return _("Read the notice — nothing is recorded before")
    if s == AgentState.NOT_ENROLLED:
        return _("Not enrolled — never recorded")
    if s == AgentState.CANNOT_RECORD:
        if why == Why.POLICY_PENDING:
            return _("Waiting for the site's policy — nothing is recorded yet")
        return _("Cannot record on this desk — nothing is recorded")
    if why == Why.STARTING:
        return _("Starting…")
    return _("Enrolled — waiting for a call")


def lines(status: EngineStatus, hotkey: str = "") -> list[str]:
    """The headline, then what it means and whom to ask, then the enrolment and the week."""
    out = [headline(status)]
    s, why = status.state, status.why
    if s == AgentState.CANNOT_RECORD and why != Why.POLICY_PENDING:
        out += [_(_CANNOT.get(why, N_("Something on this desk stands in the way."))), _(ASK)]
    elif s == AgentState.PAUSED and why in _PAUSED:
        out.append(_(_PAUSED[why]).format(key=human(hotkey) if hotkey else "—"))
    elif s == AgentState.NOT_ENROLLED and why == Why.ENDED and status.until:
        out.append(_("Your training ended on {date}.").format(date=date(status.until)))
    elif s == AgentState.NOT_ENROLLED and why == Why.NOT_BEGUN:
        out.append(_("Your training has not begun yet."))
    elif s == AgentState.WAITING and status.detail.startswith("last call not recorded"):
        out.append(_("Your last call was not recorded (not drawn, or the week's quota)."))
    if status.recording and status.voice == "recording":
        out.append(_("The call's sound is recorded too (the pause silences it)."))
    elif status.recording and status.voice.startswith("no voice"):
        out.append(_("The call's sound is not recorded: neither your voice nor the caller's."))
    if status.training and status.until and s != AgentState.NOT_ENROLLED:
        out.append(_("Training “{training}” until {date}").format(
            training=status.training, date=date(status.until)))  # fmt: skip
    if status.weekly_quota is not None and status.used is not None:
        out.append(ngettext("{used} of {quota} recording this week",
                            "{used} of {quota} recordings this week", status.weekly_quota)
                   .format(used=status.used, quota=status.weekly_quota))  # fmt: skip
    return out


def badge(status: EngineStatus) -> str:
    """The recording badge's text (empty: no badge)."""
    if not status.recording:
        return ""
    if status.state == AgentState.PAUSED:
        return _(labels.BADGE_PAUSED)
    if not status.writing:
        return _(labels.BADGE_HIDDEN)
    return _(labels.BADGE_RECORDING).format(application=status.application or "—")


def has_details(status: EngineStatus) -> bool:
    """Whether IT has something to read behind "Details…"."""
    return status.state == AgentState.CANNOT_RECORD or not status.writing
