"""vault/_pipe.hashed: doc add's pass, read here, hashed on another thread and encrypted here at once."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time

import pytest

from vault import _pipe

SIZE = 64 << 10


def _hash_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "refuge-hash"]


@pytest.mark.parametrize("slow", ["the hashing", "the consumer"])
def test_every_byte_is_hashed_and_consumed_in_order_whichever_side_is_slower(slow):
    """A buffer is read into again only once both sides are done with it: a consumer (or a hash) that
    lags behind the reader still sees every byte as the file has it."""
    data = os.urandom(40 * SIZE + 12345)
    sha, seen = hashlib.sha256(), []

    def update(view):
        if slow == "the hashing":
            time.sleep(0.002)
        sha.update(view)

    def consume(view):
        if slow == "the consumer":
            time.sleep(0.002)
        seen.append(bytes(view))

    assert _pipe.hashed(io.BytesIO(data).readinto, update, consume, size=SIZE, depth=3) == len(data)
    assert b"".join(seen) == data and sha.digest() == hashlib.sha256(data).digest()
    assert not _hash_threads()


@pytest.mark.parametrize("fails", ["the read", "the hashing", "the consumer"])
def test_the_first_failure_of_either_side_is_raised_here_once_the_hashing_stopped(fails):
    data = io.BytesIO(os.urandom(40 * SIZE))
    calls = {"the read": 0, "the hashing": 0, "the consumer": 0}

    def step(side):
        calls[side] += 1
        if side == fails and calls[side] == 5:
            raise OSError(5, f"{side} failed")

    def read_into(view):
        step("the read")
        return data.readinto(view)

    with pytest.raises(OSError, match=f"{fails} failed"):
        _pipe.hashed(read_into, lambda view: step("the hashing"), lambda view: step("the consumer"),
                     size=SIZE, depth=3)
    assert not _hash_threads()
    assert calls["the read"] < 20  # it stopped reading soon after, not at the end of the file
