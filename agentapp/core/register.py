"""The GDPR art. 30 register entry for this processing (docs/rules.md R14), from the live policy.

Every fact that the policy holds comes from it (controller, DPO, recipients, retention,
derogation, enrolments, applications); what only the controller knows is marked as theirs to
complete. French and English. Pure; thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentapp.core.notice import CNIL
from agentapp.core.policy import MAX_SAMPLING_PERCENT, VOICE_SOFTPHONE, Governance, Policy
from agentapp.i18n import date


@dataclass(frozen=True, slots=True)
class Register:
    language: str
    title: str
    rows: tuple[tuple[str, str], ...]  # (heading, content)

    def as_text(self) -> str:
        body = "\n\n".join(f"{h}\n  {c}" for h, c in self.rows)
        return f"{self.title}\n{'=' * len(self.title)}\n\n{body}\n"

    def as_json(self) -> dict[str, object]:
        return {"language": self.language, "title": self.title, "entries": dict(self.rows)}


def build_register(policy: Policy, language: str) -> Register:
    c = policy.controller
    apps = ", ".join(a.name for a in policy.applications)
    trainings = sorted({e.training for e in policy.enrolments})
    d = policy.derogation
    trainers = ", ".join(t.name for t in policy.trainers)
    admins = ", ".join(policy.admins)
    fr = language == "fr"
    with_voice = [
        e.agent for e in policy.enrolments if policy.voice_for(e.agent) == VOICE_SOFTPHONE
    ]
    voiced = (
        ""
        if not with_voice
        else ("tous les agents inscrits" if fr else "every enrolled agent")
        if len(with_voice) == len(policy.enrolments)
        else ", ".join(with_voice)
    )
    if fr:
        retention = (
            f"Vidéos : {policy.retention_days} jours après l'appel, puis purge automatique"
            + (f" (dérogation « {d.reference} » : {d.reason})" if d else " (6 mois au plus)")
            + f". Notes d'analyse : {policy.notes_retention_days} jours"
            + (
                f". Grilles d'analyse remplies, relectures des stagiaires et comptes rendus de "
                f"coaching : {policy.notes_retention_days} jours après leur rédaction, même "
                "après la vidéo"
                if policy.grids
                else ""
            )
            + ". Journal d'audit : "
            "conservé par le responsable."
        )
        rows = (
            ("Traitement", "Enregistrement vidéo de l'écran des agents de centre d'appels "
             "pendant les appels, pour leur formation (agentapp)."),
            ("Responsable du traitement", f"{c.name} — {c.contact}"),
            ("Délégué à la protection des données", c.dpo_contact),
            ("Finalité", "Formation des agents nouvellement recrutés, uniquement ; ni "
             "évaluation, ni sanction, ni contrôle de l'activité."),
            ("Base légale", "Intérêt légitime du responsable (RGPD art. 6.1.f) : former ses "
             "agents ; agents informés au préalable (Code du travail L.1222-4) ; appelants "
             "informés par le système téléphonique au début de l'appel, avec la possibilité de "
             "s'y opposer."),
            ("Personnes concernées", f"Agents inscrits à une formation ({len(policy.enrolments)}"
             f" inscription(s) : {', '.join(trainings) or 'aucune'}), pour une période bornée."
             + "".join(f" {t} : {_agents(policy, t)} agent(s), au plus "
                       f"{policy.weekly_volume(t)} enregistrements par semaine pour "
                       f"{policy.review_capacity(t)} analysables." for t in trainings)),
            ("Données", f"Vidéo de la seule fenêtre de l'application métier ({apps}) pendant "
             "l'appel ; nom de l'agent, date, heure et durée de l'appel ; nom de l'application, "
             "taille et empreinte du fichier. "
             + (f"Voix de l'appel pour {voiced} : deux pistes (l'agent, l'appelant) prises sur "
                "le poste au seul logiciel téléphonique, chiffrées avec la vidéo, muettes "
                "pendant la pause sécurisée, jamais dans un extrait anonymisé ; les appelants en "
                "sont informés par le système téléphonique. Ni " if voiced else "Ni son, ni ")
             + "numéro ou identité de l'appelant, ni capture d'écran fixe, ni données de carte "
             "bancaire (pause sécurisée)."),
            ("Destinataires", (", ".join(policy.recipients) or "les formateurs de la formation")
             + (f" ; formateurs habilités : {trainers}" if trainers else "")
             + (f" ; administrateurs/DPO : {admins}" if admins else "") + "."),
            ("Transferts hors UE", "Aucun : les enregistrements restent sur les postes et "
             "serveurs du responsable."),
            ("Durées de conservation", retention),
            ("Volume", "Tirage au hasard d'une partie des appels (au plus "
             f"{_max_sampling(policy)} %) et quota hebdomadaire par agent ; appels internes "
             + ("enregistrés" if policy.record_internal_calls else "non enregistrés") + "."
             + (f" Plus de {MAX_SAMPLING_PERCENT} % des appels : {policy.sampling_reason}."
                if policy.sampling_reason else "")),
            ("Mesures de sécurité", "Chiffrement de bout en bout dès le premier octet "
             "(X25519, AES-256-GCM), clé privée dans le magasin de clés du système ; accès par "
             "rôle (agent, formateur, administrateur/DPO) ; journal d'audit chaîné et signé de "
             "chaque consultation, export et suppression, avec son motif ; exports tatoués, "
             "export anonymisé pour les autres stagiaires."),
            ("Droits et réclamation", f"Accès, rectification, effacement, opposition auprès du "
             f"DPO ({c.dpo_contact}) ; réclamation auprès de la {CNIL['fr']}."),
            *_governance(policy.governance, "fr"),
        )  # fmt: skip
        return Register("fr", "Registre des traitements (RGPD art. 30) — vidéo d'écran pour "
                        "la formation", rows)  # fmt: skip
    retention = (
        f"Videos: {policy.retention_days} days after the call, then purged automatically"
        + (f" (derogation '{d.reference}': {d.reason})" if d else " (6 months at most)")
        + f". Analysis notes: {policy.notes_retention_days} days"
        + (
            f". Filled analysis grids, trainees' self-reviews and coaching records: "
            f"{policy.notes_retention_days} days from their writing, even after the video"
            if policy.grids
            else ""
        )
        + ". Audit trail: kept by the "
        "controller."
    )
    rows = (
        ("Processing", "Screen video of contact-center agents during calls, for their "
         "training (agentapp)."),
        ("Controller", f"{c.name} — {c.contact}"),
        ("Data protection officer", c.dpo_contact),
        ("Purpose", "Training of newly hired agents, and nothing else: no evaluation, "
         "discipline or monitoring."),
        ("Legal basis", "Legitimate interest of the controller (GDPR art. 6(1)(f)) in training "
         "its agents; agents informed beforehand (French Labour Code L.1222-4); callers "
         "informed by the telephony system at the start of the call, and free to object."),
        ("Data subjects", f"Agents enrolled in a training ({len(policy.enrolments)} "
         f"enrolment(s): {', '.join(trainings) or 'none'}), for a bounded period."
         + "".join(f" {t}: {_agents(policy, t)} agent(s), at most {policy.weekly_volume(t)} "
                   f"recordings a week for {policy.review_capacity(t)} that can be analysed."
                   for t in trainings)),
        ("Personal data", f"Video of the business application window only ({apps}) during the "
         "call; agent name, date, time and duration of the call; application name, file size "
         "and hash. "
         + (f"The call's voice for {voiced}: two tracks (the agent, the caller) taken on the "
            "desk from the softphone only, encrypted with the video, silent during the secure "
            "pause, never in an anonymised extract; callers are told by the telephony system. "
            "No " if voiced else "No sound, no ")
         + "caller number or identity, no still screenshot, no bank card data (secure pause)."),
        ("Recipients", (", ".join(policy.recipients) or "the trainers of the training")
         + (f"; authorised trainers: {trainers}" if trainers else "")
         + (f"; admins/DPO: {admins}" if admins else "") + "."),
        ("Transfers outside the EU", "None: recordings stay on the controller's workstations "
         "and servers."),
        ("Retention", retention),
        ("Volume", f"A random share of calls (at most {_max_sampling(policy)}%) and a weekly "
         "quota per agent; internal calls "
         + ("recorded" if policy.record_internal_calls else "not recorded") + "."
         + (f" More than {MAX_SAMPLING_PERCENT}% of calls: {policy.sampling_reason}."
            if policy.sampling_reason else "")),
        ("Security measures", "Encrypted from the first byte (X25519, AES-256-GCM), private key "
         "in the OS key store; role-based access (agent, trainer, admin/DPO); hash-chained, "
         "signed audit trail of every view, export and deletion with its reason; watermarked "
         "exports, anonymised export for other trainees."),
        ("Rights and complaints", f"Access, rectification, erasure, objection: the DPO "
         f"({c.dpo_contact}); complaints to the {CNIL['en']}."),
        *_governance(policy.governance, "en"),
    )  # fmt: skip
    return Register("en", "Record of processing activities (GDPR art. 30) — screen video for "
                    "training", rows)  # fmt: skip


def _governance(g: Governance, language: str) -> tuple[tuple[str, str], ...]:
    """The consultation, the DPO's opinion and the DPIA as the policy records them, then
    plainly what is still missing (the DPO signs only a complete register)."""
    fr = language == "fr"
    none = "non renseigné" if fr else "not recorded"
    staff = (f"{g.staff_body}, {date(g.staff_consulted_on, language)}"
             if g.staff_consulted_on and g.staff_body else none)  # fmt: skip
    dpo = (f"{date(g.dpo_opinion_on, language)} : {g.dpo_opinion}" if fr else
           f"{date(g.dpo_opinion_on, language)}: {g.dpo_opinion}"
           ) if g.dpo_opinion_on and g.dpo_opinion else none  # fmt: skip
    missing = {
        "staff": "consultation des représentants du personnel" if fr
        else "staff representatives' consultation",
        "dpo": "avis du DPO" if fr else "the DPO's opinion",
        "dpia": "référence de l'analyse d'impact (AIPD)" if fr else "DPIA reference",
    }  # fmt: skip
    todo = [missing[m] for m in g.missing()]
    if fr:
        return (
            ("Consultation des représentants du personnel", staff),
            ("Avis du DPO", dpo),
            ("Analyse d'impact (AIPD)", g.dpia_reference or none),
            ("Reste à compléter", " ; ".join(todo) + " (table [register] des règles)." if todo
             else "Rien : le registre est complet."),
        )  # fmt: skip
    return (
        ("Staff representatives consulted", staff),
        ("DPO's opinion", dpo),
        ("Impact assessment (DPIA)", g.dpia_reference or none),
        ("Still to complete", "; ".join(todo) + " (the policy's [register] table)." if todo
         else "Nothing: the register is complete."),
    )  # fmt: skip


def _agents(policy: Policy, training: str) -> int:
    return sum(1 for e in policy.enrolments if e.training == training)


def _max_sampling(policy: Policy) -> int:
    return max((e.sampling_percent for e in policy.enrolments), default=0)
