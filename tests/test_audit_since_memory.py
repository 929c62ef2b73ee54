"""`audit log --since` holds only the entries it shows, even when it must read every shard (issue #21).

An auditor's first `--since` reads every shard it has not dated yet. It used to
keep every entry it read until the filter ran: 3 GiB for 1,000,000 entries.
"""

from __future__ import annotations

import copy
import io
import tracemalloc

import pytest

from vault import audit
from vault.errors import NotFound
from vault.storage import ObjectExists

OLD = 3000  # entries before the time asked for


class _Memory:
    """What AuditLog.append needs, in memory: the entries are then written to the vault's folder as files."""

    def __init__(self, first: dict[str, bytes]) -> None:
        self.objects = dict(first)

    def put(self, key: str, data: bytes) -> None:
        if key in self.objects:
            raise ObjectExists(key)
        self.objects[key] = data

    def get(self, key: str):
        try:
            return io.BytesIO(self.objects[key])
        except KeyError:
            raise NotFound(key) from None


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_a_cold_since_holds_only_what_it_shows(world):
    erin = world.open("erin")
    last = erin.audit_log.last()
    log = copy.copy(erin.audit_log)  # erin's sealing key and signature, entries built in memory (fast)
    log.backend = _Memory({audit.entry_key(last): erin.audit_log.raw(last)} if last else {})
    log.last = lambda: last + len(log.backend.objects) - (1 if last else 0)
    for _ in range(OLD):
        log.append(erin.me, {"actor": erin.me.user_id, "name": "erin", "role": "case-lead", "action": "case.list",
                             "result": "ok"})
    for key, data in log.backend.objects.items():
        path = world.vault.joinpath(*key.split("/"))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    dave = world.open("dave")
    future = "2999-01-01T00:00:00Z"  # nothing is this late: every shard is read, nothing is shown
    assert dave.audit_entries(since=future) == []  # once untraced: what the first call imports and caches
    # (the entries are all in the open shard, which no cache dates: the traced call reads them all again)
    tracemalloc.start()
    try:
        assert dave.audit_entries(since=future) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert dave.audit_log.last() >= last + OLD
    assert peak < 2 * 1024 * 1024, f"{peak / 1024 / 1024:.1f} MiB for {OLD} entries read"  # holding them: 10+ MiB
