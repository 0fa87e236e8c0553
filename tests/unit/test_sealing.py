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


# ---------------------------------------------------------------- segments of fragments
def _recording(tmp_path, key, fragments_per_segment=(3, 2), end=True):  # type: ignore[no-untyped-def]
    """A recording written through the real sink: segments of packet fragments."""
    from agentapp.core.videopack import Packet, pack
    from agentapp.vault.sink import SealingSink

    v = Vault(tmp_path / "rec")
    w = v.begin("alice", 1_790_000_000.0, "CRM", 183)
    sink = SealingSink(w, key.public_key())
    t = 0
    for seq, count in enumerate(fragments_per_segment, start=1):
        for index in range(count):
            packets = [Packet(t + 100 * i, i == 0, b"frame %d" % (t + i)) for i in range(2)]
            t += 200
            last = end and seq == len(fragments_per_segment) and index == count - 1
            sink.append(seq, index, pack(64, 48, packets), 2, last)
    return v, w


def _times(v, rid, key):  # type: ignore[no-untyped-def]
    from agentapp.vault.export import open_segments

    return [p.pts_ms for s in open_segments(v, rid, key) for p in s.packets]


def test_fragments_round_trip_in_order_and_hold_no_plaintext(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agentapp.vault.export import open_segments

    k = X25519PrivateKey.generate()
    v, w = _recording(tmp_path, k)
    assert _times(v, w.meta.id, k) == list(range(0, 1000, 100))
    segs = open_segments(v, w.meta.id, k)
    assert [s.call_end for s in segs] == [False, True] and segs[0].width == 64
    for path in v.segment_paths(w.meta.id):
        assert b"frame" not in path.read_bytes()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("damage", ["swap records", "drop a middle record", "flip a bit",
                                    "swap segments", "cut a segment's tail"])  # fmt: skip
def test_fragments_reordered_dropped_or_altered_are_refused(tmp_path, damage) -> None:  # type: ignore[no-untyped-def]
    import struct

    from agentapp.vault.export import open_segments
    from agentapp.vault.sealing import read_header
    from agentapp.vault.store import VaultError

    k = X25519PrivateKey.generate()
    v, w = _recording(tmp_path, k)
    first, second = v.segment_paths(w.meta.id)
    blob = first.read_bytes()
    _, at = read_header(blob)
    records = []
    while at < len(blob):
        (n,) = struct.unpack_from(">I", blob, at)
        records.append(blob[at : at + 4 + n])
        at += 4 + n
    head = blob[: len(blob) - sum(map(len, records))]
    if damage == "swap records":
        first.write_bytes(head + records[1] + records[0] + records[2])
    elif damage == "drop a middle record":
        first.write_bytes(head + records[0] + records[2])
    elif damage == "flip a bit":
        first.write_bytes(blob[:-3] + bytes([blob[-3] ^ 1]) + blob[-2:])
    elif damage == "swap segments":
        a, b = first.read_bytes(), second.read_bytes()
        first.write_bytes(b)
        second.write_bytes(a)
    else:  # the first segment loses its last fragment: the second no longer follows it
        first.write_bytes(head + records[0] + records[1])
    with pytest.raises(VaultError):
        open_segments(v, w.meta.id, k)


def test_a_kill_mid_write_keeps_every_whole_fragment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A kill -9 or power loss: the last segment has a torn record and no sealed end. Recovery
    cuts the torn bytes, the recording opens up to its last whole fragment, marked cut short."""
    from agentapp.vault.export import open_segments

    k = X25519PrivateKey.generate()
    v, w = _recording(tmp_path, k, end=False)
    last = v.segment_paths(w.meta.id)[-1]
    whole = last.read_bytes()
    last.write_bytes(whole + whole[-40:-10])  # half a record appended when the power went
    assert v.recover_interrupted() == [w.meta.id]
    assert last.read_bytes() == whole
    m = v.get(w.meta.id)
    assert m.status == STATUS_INTERRUPTED and m.segments == 2
    assert m.size_bytes == sum(p.stat().st_size for p in v.segment_paths(w.meta.id))
    assert _times(v, w.meta.id, k) == list(range(0, 1000, 100))
    assert open_segments(v, w.meta.id, k)[-1].call_end is False


def test_a_segment_killed_before_its_first_fragment_is_removed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agentapp.vault.sealing import SegmentSealer

    k = X25519PrivateKey.generate()
    v, w = _recording(tmp_path, k, fragments_per_segment=(2,), end=False)
    w.new_segment(2, SegmentSealer(k.public_key(), {"rec": w.meta.id, "seq": 2}).header)
    assert v.recover_interrupted() == [w.meta.id]
    assert len(v.segment_paths(w.meta.id)) == 1 and v.get(w.meta.id).segments == 1
    assert _times(v, w.meta.id, k) == [0, 100, 200, 300]


def test_a_slip_opens_its_own_file_for_its_own_key_and_nothing_else() -> None:
    from agentapp.vault.sealing import (
        SegmentSealer,
        SlipKeys,
        file_id,
        fingerprint,
        open_segment,
        slip_for,
    )

    site, trainee, other = (X25519PrivateKey.generate() for _ in range(3))
    one = seal(b"first file", site.public_key(), {"rec": "r1", "seq": 1})
    sealer = SegmentSealer(site.public_key(), {"rec": "r1", "seq": 2, "prev": ""})
    two = sealer.header + sealer.record(0, b"second file", 1, b"")
    slips = [slip_for(blob, site, trainee.public_key()) for blob in (one,)]
    assert slips[0]["file"] == file_id(one) and b"first file" not in repr(slips).encode()
    assert unseal(one, SlipKeys(trainee, slips))[1] == b"first file"
    with pytest.raises(SealError, match="not shared with you"):
        open_segment(two, SlipKeys(trainee, slips))  # a slip opens its own file only
    with pytest.raises(SealError, match="not shared with you"):
        unseal(one, SlipKeys(other, slips))  # another person's key: no slip of theirs
    relabelled = [dict(s, kid=fingerprint(other.public_key())) for s in slips]
    with pytest.raises(SealError, match="altered or is for another key"):
        unseal(one, SlipKeys(other, relabelled))  # the wrap itself refuses another key
    bent = [dict(s, wrapped_key=s["wrapped_key"][:-4] + "AAA=") for s in slips]
    with pytest.raises(SealError, match="altered"):
        unseal(one, SlipKeys(trainee, bent))
    with pytest.raises(SealError, match="another key"):
        unseal(one, trainee)  # the file itself is still sealed for the site's key only
    both = [*slips, slip_for(two, site, trainee.public_key())]
    assert open_segment(two, SlipKeys(trainee, both)).payloads == [b"second file"]
