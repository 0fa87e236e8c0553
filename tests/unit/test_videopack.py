"""The fragment format's repeats: a static window's held tick costs no encoding and no bytes,
and decodes as the picture before it, at its own time."""

from __future__ import annotations

import numpy as np
import pytest

from agentapp.capture.encoder import SegmentEncoder
from agentapp.core.videopack import Packet, pack, unpack
from agentapp.vault.export import Segment, iter_frames


def test_a_repeat_round_trips_and_a_malformed_one_is_refused() -> None:
    packets = [Packet(0, True, b"\x00\x00\x00\x01e"), Packet.repeat_at(100)]
    assert unpack(pack(64, 48, packets)).packets == tuple(packets)
    blob = bytearray(pack(64, 48, [Packet(100, False, b"xy", repeat=True)]))
    with pytest.raises(ValueError, match="repeat"):
        unpack(bytes(blob))  # a repeat that carries bytes
    with pytest.raises(ValueError, match="repeat"):
        unpack(pack(64, 48, [Packet(100, True, b"", repeat=True)]))  # a "key" repeat


def test_repeats_decode_as_the_picture_before_them_at_their_own_time() -> None:
    enc = SegmentEncoder(64, 48, 10)
    dark = np.zeros((48, 64, 4), np.uint8)
    enc.add(dark, 0)
    enc.repeat(100)
    enc.repeat(150)
    enc.add(dark + 200, 200)
    enc.repeat(300)
    packets = enc.flush()
    assert [len(p.data) for p in packets if p.repeat] == [0, 0, 0]
    frames = list(iter_frames(Segment(64, 48, tuple(packets))))
    assert [round(t, 3) for t, _ in frames] == [0.0, 0.1, 0.15, 0.2, 0.3]
    levels = [int(f.mean()) for _, f in frames]
    assert levels[:3] == [levels[0]] * 3 and levels[3:] == [levels[3]] * 2
    assert levels[3] > levels[0] + 100
    again = iter_frames(Segment(64, 48, tuple(packets)))
    _, first = next(again)
    first[:] = 255  # a caller drawing on a frame does not change the repeats that follow
    assert int(next(again)[1].mean()) == levels[0]


def test_nothing_to_repeat_before_the_first_frame() -> None:
    with pytest.raises(ValueError):
        SegmentEncoder(64, 48, 10).repeat(0)
