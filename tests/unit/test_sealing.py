import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.vault.keys import KeyProblem, load_private_file, write_private_file
from agentapp.vault.sealing import SealError, seal, unseal
from agentapp.vault.store import STATUS_INTERRUPTED, Vault


def test_seal_round_trip_and_fresh_keys() -> None:
    k = X25519PrivateKey.generate()
    a = seal(b"video bytes" * 100, k.public_key(), {"rec": "r1", "seq": 1})
    b = seal(b"video bytes" * 100, k.public_key(), {"rec": "r1", "seq": 1})
    assert a != b  # fresh data key and nonce each time
    header, plain = unseal(a, k)
    assert plain == b"video bytes" * 100
    assert header["ctx"] == {"rec": "r1", "seq": 1}
    assert b"video bytes" not in a


def test_wrong_key_and_tampering_are_detected() -> None:
    k = X25519PrivateKey.generate()
    blob = seal(b"x" * 1000, k.public_key(), {"rec": "r1", "seq": 1})
    with pytest.raises(SealError, match="another key"):
        unseal(blob, X25519PrivateKey.generate())
    flipped = bytearray(blob)
    flipped[-5] ^= 1
    with pytest.raises(SealError, match="altered"):
        unseal(bytes(flipped), k)
    swapped = blob.replace(b'"seq":1', b'"seq":2')
    with pytest.raises(SealError):
        unseal(swapped, k)
    with pytest.raises(SealError):
        unseal(blob[:-20], k)
    with pytest.raises(SealError, match="not an agentapp"):
        unseal(b"\x00" * 50, k)


def test_private_key_file_needs_the_passphrase(tmp_path) -> None:  # type: ignore[no-untyped-def]
    k = X25519PrivateKey.generate()
    p = tmp_path / "key.pem"
    write_private_file(k, p, b"correct horse")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert load_private_file(p, b"correct horse").public_key() == k.public_key()
    with pytest.raises(KeyProblem, match="wrong passphrase"):
        load_private_file(p, b"wrong passphrase")
    with pytest.raises(KeyProblem, match="at least 8"):
        write_private_file(k, tmp_path / "k2.pem", b"short")


def test_vault_writes_private_files_and_recovers_interrupted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    v = Vault(tmp_path / "rec")
    w = v.begin("alice", 1_790_000_000.0, "CRM", 183)
    w.add_segment(b"AGSEAL1\nciphertext", frames=3)
    assert stat.S_IMODE(os.stat(v.root).st_mode) == 0o700
    for f in w.folder.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    (w.folder / ".seg-000002.seal.dead.tmp").write_bytes(b"x")
    assert v.recover_interrupted() == [w.meta.id]
    m = v.get(w.meta.id)
    assert m.status == STATUS_INTERRUPTED and m.frames == 3 and m.segments == 1
    assert not list(w.folder.glob(".*.tmp"))
    assert v.count_since("alice", 0) == 1 and v.count_since("bob", 0) == 0
    assert set(m.to_json()) >= {"agent", "started_at", "duration_s", "application", "sha256"}
    assert not {"call_id", "caller", "peer"} & set(m.to_json())
