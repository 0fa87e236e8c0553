"""The audit trail's chain: how an entry is sealed and how a whole log is verified (R8).

Each entry is one JSON object on its own line. It carries its sequence number (1, 2, …), the
hash of the entry before it (`prev`, the first one points at GENESIS) and an HMAC-SHA256 of
everything else (`mac`), keyed with a secret held in the OS key store. So:

- editing an entry breaks its MAC;
- removing or reordering entries breaks the sequence and the chain;
- removing the last entries is caught by the *head* (sequence and hash of the last entry),
  which is also kept in the key store, outside the file.

Pure functions: no files, no key store. Thread-safe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from agentapp.i18n import _

GENESIS = "0" * 64
# an entry that holds the hub chain's head as a desk saw it (hub/link.py): target the hub's
# entry number, reason its hash
CHECKPOINT = "hub checkpoint"
FIELDS = ("seq", "at", "who", "login", "role", "action", "target", "reason", "prev")


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str

    def dump(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def load(cls, text: str) -> Head:
        seq, _x, digest = text.partition(":")
        return cls(int(seq), digest)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    entries: int
    first_bad: int | None = None  # sequence number of the first broken or missing entry
    problem: str = ""
    signed: bool = True  # signatures and head checked (False: the chain only, no key here)

    def describe(self) -> str:
        if self.ok and self.signed:
            return _("audit trail intact: {n} entries, chain and signatures verified").format(
                n=self.entries
            )
        if self.ok:
            return _(
                "audit trail chain intact: {n} entries (its signatures and its "
                "last entry are checked only with its owner's key store)"
            ).format(n=self.entries)
        return _("audit trail BROKEN at entry {n}: {why}").format(
            n=self.first_bad, why=self.problem
        )


def _canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _mac(key: bytes, body: dict[str, Any]) -> str:
    return hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()


def seal_entry(key: bytes, prev: Head | None, fields: dict[str, str]) -> dict[str, Any]:
    """The next entry after `prev` (None: the first entry of the log)."""
    body: dict[str, Any] = {k: str(fields.get(k, "")) for k in FIELDS if k not in ("seq", "prev")}
    body["seq"] = 1 if prev is None else prev.seq + 1
    body["prev"] = GENESIS if prev is None else prev.hash
    return {**body, "mac": _mac(key, body)}


def head_of(entry: dict[str, Any]) -> Head:
    return Head(int(entry["seq"]), entry_hash(entry))


def parse_line(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or set(entry) != {*FIELDS, "mac"}:
        return None
    if not isinstance(entry["seq"], int) or not all(
        isinstance(entry[k], str) for k in (*FIELDS, "mac") if k != "seq"
    ):
        return None
    return entry


def verify(lines: list[str], key: bytes | None, head: Head | None) -> Verdict:
    """Check every line, then the end of the log against the head kept outside the file.

    A head *behind* the log is accepted when the log holds that very entry: the process
    stopped between writing an entry and updating the head, and the later entries carry
    valid MACs, which only the key holder can make.

    `key` None (another person's trail, whose key is in their key store): the well-formed
    lines, the sequence and the chain only (`head` is not used); the verdict says so.
    """
    signed = key is not None
    prev: Head | None = None
    for n, line in enumerate(lines, start=1):
        entry = parse_line(line)
        if entry is None:
            return Verdict(
                False, n - 1, n, _("line {n} is not a well-formed audit entry").format(n=n), signed
            )
        body = {k: v for k, v in entry.items() if k != "mac"}
        if key is not None and not hmac.compare_digest(_mac(key, body), entry["mac"]):
            return Verdict(
                False,
                n - 1,
                n,
                _("entry {n} was altered (its signature does not match)").format(n=n),
            )
        if entry["seq"] != n:
            why = (
                _("entry {n} is missing (line {n} holds entry {seq})")
                if entry["seq"] > n
                else _("entry {n} is out of order (line {n} holds entry {seq})")
            ).format(n=n, seq=entry["seq"])
            return Verdict(False, n - 1, n, why, signed)
        if entry["prev"] != (GENESIS if prev is None else prev.hash):
            return Verdict(
                False,
                n - 1,
                n,
                _("entry {n} does not follow entry {before}").format(n=n, before=n - 1),
                signed,
            )
        prev = head_of(entry)
        if signed and head is not None and head.seq == n and head.hash != prev.hash:
            return Verdict(
                False, n - 1, n, _("entry {n} differs from the one recorded as last").format(n=n)
            )
    count = len(lines)
    if not signed:
        return Verdict(True, count, signed=False)
    if head is not None and head.seq > count:
        return Verdict(
            False,
            count,
            count + 1,
            _("entries {first}–{last} are missing (the log was truncated or replaced)").format(
                first=count + 1, last=head.seq
            ),
        )
    if head is None and count:
        return Verdict(False, count, 1, _("the key store holds no record of this log"))
    return Verdict(True, count)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int  # the entry of the hub's chain
    hash: str
    at: str  # when it was written down


def checkpoints(entries: list[dict[str, Any]]) -> list[Checkpoint]:
    """The hub checkpoints a trail holds, in order (entries of another form are skipped)."""
    return [
        Checkpoint(int(e["target"]), e["reason"], e["at"])
        for e in entries
        if e.get("action") == CHECKPOINT
        and re.fullmatch(r"[0-9]{1,18}", str(e.get("target", "")))
        and re.fullmatch(r"[0-9a-f]{64}", str(e.get("reason", "")))
    ]
