"""One error base a person reads (core/errors.py): every refusal a front end may meet derives
from it, keeps its details apart from its message, and the command line prints it as one
line with its exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentapp.agent.machine import MachineSetupError
from agentapp.core.config import ConfigError
from agentapp.core.errors import Refusal
from agentapp.core.policy import PolicyError
from agentapp.files.datafolder import UnsafeFolder
from agentapp.files.paths import ConflictingCopy
from agentapp.platform.base import LocatorError
from agentapp.telephony.factory import SourceSetupError
from agentapp.telephony.hook import HookError
from agentapp.telephony.hookcli import DeliveryError
from agentapp.vault.audit import AuditError
from agentapp.vault.keys import KeyProblem
from agentapp.vault.review import ReviewError
from agentapp.vault.sealing import SealError
from agentapp.vault.store import VaultError

PERSON_FACING = (
    ConfigError, PolicyError, UnsafeFolder, MachineSetupError, ConflictingCopy, LocatorError,
    SourceSetupError, HookError, DeliveryError, AuditError, KeyProblem, ReviewError,
    SealError, VaultError,
)  # fmt: skip


@pytest.mark.parametrize("cls", PERSON_FACING, ids=lambda c: c.__name__)
def test_every_error_a_person_reads_is_a_refusal(cls: type[Exception]) -> None:
    assert issubclass(cls, Refusal)


def test_details_stay_apart_from_the_message() -> None:
    e = PolicyError("the weekly quota must be at least 1", "policy.toml: [recording] quota")
    assert e.message == "the weekly quota must be at least 1"
    assert e.details == "policy.toml: [recording] quota"
    assert str(e) == "policy.toml: [recording] quota: the weekly quota must be at least 1"
    assert isinstance(e, ValueError)  # callers that caught ValueError still do
    plain = Refusal("no recording key", 3)
    assert (str(plain), plain.details, plain.code) == ("no recording key", "", 3)


def test_the_command_line_prints_a_policy_refusal_as_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("[recording]\nfps = 'fast'\n")
    r = subprocess.run([sys.executable, "-m", "agentapp", "policy", "check", str(bad)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.startswith("agentapp: policy refused: ") and r.stderr.count("\n") == 1
    assert "'version' is required" in r.stderr  # the policy's own refusal, its file first
