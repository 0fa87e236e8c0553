"""The information notice (docs/rules.md R2), generated from the live policy, in French and English.

`notice_digest` fingerprints what the notice *says* (not the policy version): a new policy
that changes the notice asks the agent to acknowledge again; one that does not, does not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from agentapp.core import labels
from agentapp.core.policy import MAX_SAMPLING_PERCENT, VOICE_SOFTPHONE, Enrolment, Policy
from agentapp.i18n import date, texts

CNIL = {
    "en": "CNIL, 3 Place de Fontenoy, TSA 80715, 75334 Paris Cedex 07 — www.cnil.fr/en/complaints",
    "fr": "CNIL, 3 Place de Fontenoy, TSA 80715, 75334 Paris Cedex 07 — www.cnil.fr/fr/plaintes",
}


@dataclass(frozen=True, slots=True)
class Notice:
    language: str
    title: str
    sections: tuple[tuple[str, str], ...]  # (heading, paragraph)

    def as_text(self) -> str:
        body = "\n\n".join(f"{h}\n{p}" for h, p in self.sections)
        return f"{self.title}\n{'=' * len(self.title)}\n\n{body}\n"

    def as_html(self) -> str:
        from html import escape

        parts = [f"<h2>{escape(self.title)}</h2>"]
        for h, p in self.sections:
            parts.append(f"<h4>{escape(h)}</h4><p>{escape(p)}</p>")
        return "\n".join(parts)


def _facts(policy: Policy, enrolment: Enrolment | None, hotkey: str) -> dict[str, object]:
    return {
        "controller": [policy.controller.name, policy.controller.contact],
        "dpo": policy.controller.dpo_contact,
        "purpose": policy.purpose,
        "recipients": list(policy.recipients),
        "retention_days": policy.retention_days,
        "notes_retention_days": policy.notes_retention_days,
        "derogation": None
        if policy.derogation is None
        else [policy.derogation.reference, policy.derogation.reason],
        "applications": [a.name for a in policy.applications],
        "internal": policy.record_internal_calls,
        "max_call_minutes": policy.max_call_minutes,
        "enrolment": None
        if enrolment is None
        else [
            enrolment.training,
            enrolment.start.isoformat(),
            enrolment.end.isoformat(),
            enrolment.sampling_percent,
            enrolment.weekly_quota,
        ],
        "hotkey": hotkey,
        # only when given: the notices agents already read keep their digest
        **({"sampling_reason": policy.sampling_reason} if policy.sampling_reason else {}),
        **({"headless_desks": sorted(policy.headless_desks)} if policy.headless_desks else {}),
        # the call's voice: an agent whose voice is recorded is asked again
        **({"voice": VOICE_SOFTPHONE} if _voiced(policy, enrolment) else {}),
        # an analysis grid on this agent's recordings: a new one asks again
        **({"grid": True} if _gridded(policy, enrolment) else {}),
        # who may see this agent's recordings by name: a new trainer or admin asks again
        **(
            {"viewers": [list(v) for v in _viewers(policy, enrolment)]}
            if any(_viewers(policy, enrolment))
            else {}
        ),
    }


def _voiced(policy: Policy, e: Enrolment | None) -> bool:
    return e is not None and policy.voice_for(e.agent) == VOICE_SOFTPHONE


def _gridded(policy: Policy, e: Enrolment | None) -> bool:
    return e is not None and policy.grid_for(e.training) is not None


def _viewers(policy: Policy, e: Enrolment | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the trainers of this agent's training, the admins/DPO), by name."""
    trainers = sorted(
        t.name for t in policy.trainers if e is not None and e.training in t.trainings
    )
    return tuple(trainers), tuple(sorted(policy.admins))


def notice_digest(policy: Policy, agent: str) -> str:
    facts = _facts(policy, policy.enrolment_for(agent), policy.pause_hotkey)
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]


def build_notice(policy: Policy, agent: str, language: str) -> Notice:
    e = policy.enrolment_for(agent)
    apps = ", ".join(a.name for a in policy.applications)
    fr = language == "fr"
    who = ", ".join(policy.recipients) or (
        "les formateurs de votre formation" if fr else "the trainers of your training"
    )
    who = who[0].upper() + who[1:]
    trainers, admins = _viewers(policy, e)
    c = policy.controller
    key = policy.pause_hotkey.replace("<", "").replace(">", "").title()
    months = round(policy.retention_days / 30.4)
    d = policy.derogation
    # the words of the tray and the badge, quoted as the trainee sees them (core/labels.py)
    t = texts(language)
    badge = t.gettext(labels.BADGE_RECORDING).format(application=apps)
    pause, objects = t.gettext(labels.PAUSE).format(key=key), t.gettext(labels.OBJECTS)
    say = t.gettext(labels.SAY)
    voiced = _voiced(policy, e)
    behind = f"{policy.lookbehind_ms / 1000:g} s"  # what the pause takes back before it
    if fr:
        when = (
            f"Vous êtes inscrit(e) à la formation « {e.training} » du {date(e.start, 'fr')} au "
            f"{date(e.end, 'fr')}. Pendant cette période, environ {e.sampling_percent} % de vos "
            f"appels, tirés au hasard, et au plus {e.weekly_quota} par semaine, peuvent être "
            "enregistrés."
            + (f" Plus de la moitié de vos appels peut l'être : {policy.sampling_reason}."
               if e and e.sampling_percent > MAX_SAMPLING_PERCENT else "")
            if e
            else "Vous n'êtes inscrit(e) à aucune formation : vous n'êtes pas enregistré(e)."
        )  # fmt: skip
        internal = "sont" if policy.record_internal_calls else "ne sont pas"
        sections = (
            ("Responsable du traitement", f"{c.name} ({c.contact}). Délégué à la protection des "
             f"données : {c.dpo_contact}."),
            ("Finalité", "La formation des nouveaux agents, uniquement. Les vidéos ne servent ni "
             "à évaluer, ni à sanctionner, ni à contrôler les agents."),
            ("Ce qui est enregistré", f"Une vidéo de la seule fenêtre de l'application métier "
             f"({apps}), seulement pendant un appel (du décroché au raccroché, au plus "
             f"{policy.max_call_minutes} minutes), et seulement tant qu'elle affiche l'application "
             "(un autre onglet ou une autre page n'est pas enregistré). Seul le contenu propre de "
             "cette fenêtre est lu : les fenêtres posées dessus n'apparaissent jamais, mais ce "
             "que l'application affiche sous elles est enregistré. Aucune autre fenêtre, aucune "
             "capture d'écran fixe"
             + (". Le son de l'appel est enregistré avec la vidéo, depuis le logiciel "
                "téléphonique seulement, en deux pistes : votre voix (le micro qu'il utilise) et "
                "celle de l'appelant ; aucun autre son du poste (musique, vidéo). Votre micro est "
                "enregistré pendant tout l'appel, même coupé dans le logiciel téléphonique : "
                "seule la pause le rend muet. Si l'une des deux voix ne peut pas être lue à "
                "part sur ce poste (pas de micro propre au logiciel téléphonique), le son n'est "
                "pas gardé du tout, ni votre voix ni celle de l'appelant, et l'icône le dit."
                if voiced else ", aucun son.")
             + f" Les appels internes {internal} enregistrés."),
            ("Quand", when + f" Le bandeau « {badge} » est affiché pendant tout "
             "l'enregistrement."
             + (f" Sur les postes {', '.join(policy.headless_desks)} (bornes), l'agent tourne "
                "sans son icône : ils ont leur propre indicateur." if policy.headless_desks
                else "")),
            ("Données sensibles", f"Le raccourci {key} ou « {pause} » dans le menu de l'icône "
             "met l'enregistrement en pause (données bancaires, informations personnelles) ; une "
             "seconde pression le reprend."
             + (" La pause coupe aussi le son des deux voix, comme l'image, depuis les "
                f"{behind.replace('.', ',')} qui la précèdent (un numéro de carte lu à voix "
                "haute n'est pas gardé)." if voiced else "")
             + f" Si l'appelant s'y oppose, « {objects} » arrête l'enregistrement et efface ce "
             "qui a été capturé" + (", son compris." if voiced else ".")),
            ("Base légale et information des appelants", f"L'intérêt légitime de {c.name} à "
             "former ses agents (RGPD, article 6.1.f). Les appelants sont informés par le "
             "système téléphonique au début de l'appel"
             + (", y compris de l'enregistrement de leur voix," if voiced else "")
             + " et peuvent s'y opposer. « "
             f"{say} » dans le menu de l'icône donne un texte court à lire à un appelant ou à "
             "un collègue qui pose la question."),
            ("Destinataires", f"{who}{_named(trainers, admins, 'fr')}. Vous pouvez voir vos "
             "propres enregistrements ; ceux d'autres stagiaires ne vous sont montrés "
             "qu'anonymisés" + (", et toujours sans le son (les voix identifient les "
                                "personnes)." if voiced else ".")),
            ("Durée de conservation", f"{policy.retention_days} jours (environ {months} mois"
             + (f", par dérogation « {d.reference} » : {d.reason}" if d else ", 6 mois au plus")
             + f"), puis suppression automatique. Les vidéos sont chiffrées. Les notes "
             f"d'analyse des formateurs sont gardées {policy.notes_retention_days} jours au "
             "plus." + (" Vos formateurs peuvent remplir la grille d'analyse de votre formation "
                        "sur un enregistrement : pour chaque critère un mot (acquis, en cours, "
                        "à travailler, non observé), un commentaire et des moments de l'appel, "
                        "jamais une note ; elle est scellée, lue par eux seuls et gardée "
                        f"{policy.notes_retention_days} jours au plus, même après la "
                        "suppression de la vidéo. Un formateur peut partager avec vous l'un de "
                        "vos enregistrements, que vous regardez sur votre poste (« Mes "
                        "enregistrements ») et relisez sur la même grille ; votre relecture est "
                        "lue par vos formateurs. Après une séance de coaching, ils gardent son "
                        "compte rendu (les deux grilles, les prochaines étapes) aussi "
                        "longtemps." if _gridded(policy, e) else "")),
            ("Vos droits", f"Accès, rectification, effacement et opposition : écrivez au délégué à "
             f"la protection des données ({c.dpo_contact}). Vous pouvez adresser une réclamation "
             f"à la {CNIL['fr']}."),
        )  # fmt: skip
        return Notice("fr", "Enregistrement vidéo de l'écran pour la formation — information",
                      sections)  # fmt: skip
    when = (
        f"You are enrolled in the training '{e.training}' from {date(e.start, 'en')} to "
        f"{date(e.end, 'en')}. During that period about {e.sampling_percent}% of your calls, drawn "
        f"at random, and at most {e.weekly_quota} per week, may be recorded."
        + (f" More than half of your calls may be: {policy.sampling_reason}."
           if e.sampling_percent > MAX_SAMPLING_PERCENT else "")
        if e
        else "You are not enrolled in any training: you are not recorded."
    )  # fmt: skip
    internal = "are" if policy.record_internal_calls else "are not"
    sections = (
        ("Controller", f"{c.name} ({c.contact}). Data protection officer: {c.dpo_contact}."),
        ("Purpose", "Training of new agents, and nothing else. The videos are never used to "
         "evaluate, discipline or monitor agents."),
        ("What is recorded", f"A video of the business application window only ({apps}), only "
         f"during a call (from off-hook to on-hook, at most {policy.max_call_minutes} minutes), "
         "and only while it shows the application (another tab or page is not recorded). "
         "Only that window's own content is read: windows over it never appear, but what the "
         "application shows underneath them is recorded. No other window, no still "
         "screenshot"
         + (". The call's sound is recorded with the video, from the softphone only, as two "
            "tracks: your voice (the microphone it uses) and the caller's; no other sound of the "
            "desk (music, video). Your microphone is recorded for the whole call, even when "
            "muted in the softphone: only the pause silences it. If either voice cannot be read "
            "on its own at this desk (no microphone of the softphone's own), the sound is not "
            "kept at all, neither your voice nor the caller's, and the tray says so."
            if voiced else ", no sound.")
         + f" Internal calls {internal} recorded."),
        ("When", when + f" The banner '{badge}' is shown for as long as recording lasts."
         + (f" On the desks {', '.join(policy.headless_desks)} (kiosks) the agent runs without "
            "its tray icon: they show an indicator of their own." if policy.headless_desks
            else "")),
        ("Sensitive data", f"The {key} shortcut or '{pause}' in the tray menu pauses "
         "recording (bank card details, personal information); pressing it again resumes."
         + (" The pause also silences both voices, like the picture, from the "
            f"{behind} before it (a card number read aloud is not kept)."
            if voiced else "")
         + f" If the caller objects, '{objects}' stops the recording and erases what was "
         "captured" + (", sound included." if voiced else ".")),
        ("Legal basis and callers", f"The legitimate interest of {c.name} in training its "
         "agents (GDPR article 6(1)(f)). Callers are informed by the telephony system at the "
         "start of the call" + (", including that their voice is recorded," if voiced else "")
         + f" and may object. '{say}' in the tray menu gives a short text to "
         "read out to a caller or a colleague who asks."),
        ("Who can see the recordings", f"{who}{_named(trainers, admins, 'en')}. You can see "
         "your own recordings; other trainees' recordings are only shown to you anonymised"
         + (", and always without sound (voices identify people)." if voiced else ".")),
        ("How long they are kept", f"{policy.retention_days} days (about {months} months"
         + (f", by derogation '{d.reference}': {d.reason}" if d else ", at most 6 months")
         + f"), then deleted automatically. Videos are encrypted. Trainers' analysis notes "
         f"are kept {policy.notes_retention_days} days at most."
         + (" Your trainers may fill your training's analysis grid on a recording: for each "
            "criterion a word (acquired, in progress, to work on, not seen), a comment and "
            "moments of the call, never a score; it is sealed, read by them alone and kept "
            f"{policy.notes_retention_days} days at most, even after the video is deleted. A "
            "trainer may share one of your recordings with you: you watch it on your desk "
            "(\"My recordings\") and review it on the same grid; your trainers read your "
            "review. After a coaching session they keep its record (both grids, the next "
            "steps) as long." if _gridded(policy, e) else "")),
        ("Your rights", f"Access, rectification, erasure and objection: write to the data "
         f"protection officer ({c.dpo_contact}). You may lodge a complaint with the "
         f"{CNIL['en']}."),
    )  # fmt: skip
    return Notice("en", "Screen video for training — information notice", sections)


def _named(trainers: tuple[str, ...], admins: tuple[str, ...], language: str) -> str:
    fr = language == "fr"
    parts = []
    if trainers:
        parts.append(("formateurs : " if fr else "trainers: ") + ", ".join(trainers))
    if admins:
        lead = "administrateurs/DPO, qui ne voient pas la vidéo : " if fr else (
            "admins/DPO, who do not see the video: ")  # fmt: skip
        parts.append(lead + ", ".join(admins))
    return f" ({' ; '.join(parts) if fr else '; '.join(parts)})" if parts else ""


def read_out(policy: Policy, language: str) -> str:
    """A few sentences an agent can read to a caller or a colleague who asks about the
    recording (from the live policy)."""
    apps = ", ".join(a.name for a in policy.applications)
    c = policy.controller
    voiced = VOICE_SOFTPHONE in (policy.voice, *(e.voice for e in policy.enrolments))
    if language == "fr":
        sound = "avec notre conversation" if voiced else "et jamais le son"
        return (
            f"Pour former nos nouveaux conseillers, {c.name} peut enregistrer en vidéo "
            f"l'écran de l'application {apps} pendant certains appels — seulement cette "
            f"fenêtre, jamais le reste de l'écran, {sound}. Ces vidéos servent "
            "uniquement à la formation, sont chiffrées, vues seulement par les formateurs, et "
            f"effacées après {policy.retention_days} jours au plus. Si vous ne le souhaitez "
            "pas, je l'arrête et l'efface tout de suite. Pour toute question : "
            f"{c.dpo_contact}."
        )
    sound = "with our conversation" if voiced else "and never the sound"
    return (
        f"To train our new advisers, {c.name} may record a video of the {apps} application's "
        f"screen during some calls — only that window, never the rest of the screen, {sound}. "
        "These videos are used for training only, are encrypted, seen only by the "
        f"trainers, and deleted after {policy.retention_days} days at most. If you would rather "
        f"not, I stop and erase it right now. Any question: {c.dpo_contact}."
    )
