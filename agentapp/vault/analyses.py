"""Analyses of recordings on their training's grid (core/analysis.py): sealed like notes, kept
1 year at most from their writing (R9), whatever becomes of the recording (a recording goes at
six months; what was learnt from it stays to its year).

Layout under `<data dir>/analyses/` (folder 0700, files 0600):

    <analysis id>.json   who wrote it, when, on which recording and training, its kind, deadline
    <analysis id>.seal   the analysis (core/analysis.document), sealed for the recording key

Threading: plain methods, called from one thread at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from agentapp.core.analysis import KINDS, Analysis, AnalysisError, document, from_document
from agentapp.core.names import is_analysis_id
from agentapp.i18n import N_, _
from agentapp.vault.notes import DocMeta, SealedDocs
from agentapp.vault.store import VaultError

SELF_REVIEW = KINDS[1]  # a trainee's review of their own call, in their own folder at the site


@dataclass(slots=True)
class AnalysisMeta(DocMeta):
    kind: str = "trainer"  # core/analysis.KINDS


class AnalysesStore(SealedDocs[AnalysisMeta]):
    kind = "analysis"
    meta_type = AnalysisMeta
    not_an_id = N_("no analysis {id}: not an analysis id")
    unreadable = N_("analysis {id} cannot be opened: {exc}")
    swapped = N_("analysis {id} holds another analysis (tampered?)")

    def _valid_id(self, did: object) -> bool:
        return is_analysis_id(did)

    def add(
        self,
        analysis: Analysis,
        author: str,
        public_key: X25519PublicKey,
        now: float,
        retention_days: int,
    ) -> AnalysisMeta:
        aid = self._new_id(now)
        meta = AnalysisMeta(aid, analysis.recording, analysis.training, author, now,
                            now + retention_days * 86400, analysis.kind)  # fmt: skip
        plain = json.dumps(document(analysis), ensure_ascii=False).encode()
        return self._write(meta, plain, public_key)

    def analyses(self) -> list[AnalysisMeta]:
        return self.metas()

    def read(self, aid: str, private: X25519PrivateKey) -> Analysis:
        """The analysis, decrypted in memory and checked (its grid, its marks); its
        metadata must name the same recording and training."""
        plain = self._read(aid, private)
        try:
            found = from_document(json.loads(plain))
        except (ValueError, AnalysisError) as exc:
            raise VaultError(
                _("analysis {id} cannot be read: {exc}").format(id=aid, exc=exc)
            ) from None
        meta = next((m for m in self.analyses() if m.id == aid), None)
        if meta is None or (found.recording, found.training, found.kind) != (
            meta.recording,
            meta.training,
            meta.kind,
        ):
            raise VaultError(_("analysis {id} holds another analysis (tampered?)").format(id=aid))
        return found
