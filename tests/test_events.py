"""Property tests of the event decoder: whatever bytes or JSON an event holds, and however a
stored sequence is damaged, reading it yields well-typed events or VerificationFailed,
never another exception (which the CLI would report as an internal error)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault import age
from vault.errors import VerificationFailed
from vault.events import Event, EventLog, canonical, sign_record
from vault.identity import SecretIdentity
from vault.storage import LocalBackend

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = ("seq", "prev", "type", "author", "time", "data", "sig")
records = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), json_values, max_size=8)

ME = SecretIdentity.generate("hypothesis")
KEY = age.X25519Identity.generate()


def _well_typed(e: Event) -> bool:
    return all(isinstance(x, str) for x in (e.type, e.author, e.time)) and isinstance(e.data, dict)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_to_a_well_typed_event_or_are_refused(data):
    try:
        assert _well_typed(Event.parse(1, data))
    except VerificationFailed:
        pass


@settings(max_examples=400, deadline=None)
@given(records)
def test_any_json_record_parses_to_a_well_typed_event_or_is_refused(record):
    try:
        assert _well_typed(Event.parse(1, json.dumps(record).encode()))
    except VerificationFailed:
        pass


def test_deeply_nested_json_is_refused_not_a_crash():
    assert_refused = b"[" * 100_000 + b"]" * 100_000
    try:
        Event.parse(1, assert_refused)
    except VerificationFailed:
        return
    raise AssertionError("a nesting bomb parsed as an event")


def _log(tmp_path, n: int) -> EventLog:
    log = EventLog(LocalBackend(tmp_path), "seq")
    state = {"last": (0, "")}
    for i in range(n):
        ev = log.append(ME, "note", {"i": i}, [KEY.recipient], lambda: state["last"])
        state["last"] = (ev.seq, ev.digest)
    return log


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(1, 4), pos=st.integers(0, 10_000), byte=st.integers(1, 255),
       cut=st.booleans(), swap=st.booleans())
def test_a_damaged_sequence_reads_as_verification_failed(tmp_path_factory, which, pos, byte, cut, swap):
    tmp = tmp_path_factory.mktemp("seq")
    log = _log(tmp, 4)
    path = tmp / "seq" / f"{which:08d}"
    data = bytearray(path.read_bytes())
    if swap:  # a valid event of the same sequence, in the wrong place
        other = tmp / "seq" / f"{which % 4 + 1:08d}"
        data = bytearray(other.read_bytes())
    elif cut:
        data = data[: pos % len(data)]
    else:
        data[pos % len(data)] ^= byte
    path.unlink()
    path.write_bytes(bytes(data))
    try:
        events = list(log.events([KEY]))
    except (VerificationFailed, age.NoIdentityMatch):
        return
    # The only damage that may go unseen is none at all (a swap of an event with itself).
    assert [e.data["i"] for e in events] == [0, 1, 2, 3]


def test_a_signed_but_ill_typed_event_is_refused(tmp_path):
    # A member's buggy or hostile client signs an envelope whose data is not an object.
    record = sign_record(ME, {"seq": 1, "prev": "", "type": "doc.added", "time": "2026-01-01T00:00:00Z", "data": ["x"]})
    LocalBackend(tmp_path).put("seq/00000001", age.encrypt_bytes([KEY.recipient], canonical(record)))
    try:
        list(EventLog(LocalBackend(tmp_path), "seq").events([KEY]))
    except VerificationFailed as e:
        assert "malformed" in str(e)
        return
    raise AssertionError("an event whose data is a list was accepted")
