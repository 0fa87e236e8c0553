"""The names that come from elsewhere and become paths: recording ids, segment names, note and
analysis ids.

A recording id, a segment's name, a note's or an analysis's id may arrive from a hub row, a site
folder someone else writes, a trail entry or a command line. Every place that turns one into a
path asks here first; anything else is refused, never cleaned up and used (docs/rules.md R8).

Pure; thread-safe.
"""

from __future__ import annotations

import re

MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux and NTFS alike

# what Vault.begin makes: the call's UTC start to the second, then 8 random hex digits
RECORDING_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
# a video segment (vault/store.py RecordingWriter.segment_path) or the attached voice
SEGMENT_NAME = re.compile(r"seg-\d{6}\.seal|voice-attached\.seal")
NOTE_ID = re.compile(r"\d{8}T\d{6}Z-n[0-9a-f]{8}")
ANALYSIS_ID = re.compile(r"\d{8}T\d{6}Z-a[0-9a-f]{8}")
COACHING_ID = re.compile(r"\d{8}T\d{6}Z-c[0-9a-f]{8}")
# the same forms for the hub's CHECK constraints (schema.sql), which must agree with these
SQL_RECORDING_ID = "^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$"
SQL_SEGMENT_NAME = "^(seg-[0-9]{6}[.]seal|voice-attached[.]seal)$"


def is_safe_component(name: object) -> bool:
    """Whether `name` names one entry inside a folder and nothing else: text, not empty, at
    most 255 bytes, no separator, no NUL or other control character, not `.` or `..`, and not
    hidden (a leading dot is how the vault marks its own temporary entries)."""
    if not isinstance(name, str) or not name or name.startswith("."):
        return False
    if "/" in name or "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return False
    try:
        return len(name.encode("utf-8")) <= MAX_COMPONENT_BYTES
    except UnicodeEncodeError:  # a lone surrogate from a file system's undecodable name
        return False


def is_recording_id(rid: object) -> bool:
    return is_safe_component(rid) and RECORDING_ID.fullmatch(str(rid)) is not None


def is_segment_name(name: object) -> bool:
    return is_safe_component(name) and SEGMENT_NAME.fullmatch(str(name)) is not None


def is_note_id(nid: object) -> bool:
    return is_safe_component(nid) and NOTE_ID.fullmatch(str(nid)) is not None


def is_analysis_id(aid: object) -> bool:
    return is_safe_component(aid) and ANALYSIS_ID.fullmatch(str(aid)) is not None


def is_coaching_id(cid: object) -> bool:
    return is_safe_component(cid) and COACHING_ID.fullmatch(str(cid)) is not None


def shown(name: object, limit: int = 80) -> str:
    """A name from elsewhere, safe to print in one line (control characters escaped, cut)."""
    text = repr(name) if not isinstance(name, str) else name
    text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else text[: limit - 1] + "…"
