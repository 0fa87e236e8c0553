"""pytest-qt on Qt's offscreen platform: widgets, menus and dialogs without a display."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.agent.engine import Engine
from agentapp.vault.audit import AuditLog
from agentapp.vault.keys import public_key_path, write_public_key
from tests.fakes import FakeGrabber, FakeLocator, MemoryAuditKeys
from tests.policies import policy_text

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before pytest-qt creates the QApplication


@pytest.fixture
def locator() -> FakeLocator:
    return FakeLocator()


@pytest.fixture
def engine(tmp_path: Path, locator: FakeLocator) -> Iterator[Engine]:
    (tmp_path / "policy.toml").write_text(policy_text("alice", sensitive_class="payment"))
    write_public_key(X25519PrivateKey.generate().public_key(), public_key_path(tmp_path))
    e = Engine(
        agent="alice",
        data_dir=tmp_path,
        policy_path=tmp_path / "policy.toml",
        locator_factory=lambda: locator,
        grabber_factory=FakeGrabber,
        rng=random.Random(3),
        audit=AuditLog.in_dir(tmp_path, MemoryAuditKeys()),
    )
    e.start()
    yield e
    e.stop()
