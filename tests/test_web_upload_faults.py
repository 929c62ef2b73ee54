"""An upload that meets trouble half way (issue #20): a failing disk, a repair of leftovers run
meanwhile, hundreds of tiny files in one read. Whatever happens, every listed document keeps its
content, fsck finds nothing, and the server holds a bounded number of files open.

The failures are injected where the web layer calls the library (a full disk is an OSError from
``Vault.add_documents``); the receiving and recording code runs as it is.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from test_web_support import WebWorld, client_for


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return WebWorld(tmp_path_factory.mktemp("web-faults"))


@pytest.fixture
def bob(world):
    return client_for(world.desk("bob"))


def _upload(bob, world, *names: str, tag: str):
    files = [("file", (n, f"{n} {tag}\n".encode(), "text/plain")) for n in names]
    return bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", data={"type": "other"}, files=files,
                    headers={"accept": "application/json"})


def _every_document_whole(world) -> list[str]:
    v = world.open("bob")
    case = v.find_case("MX-0001")
    return [d.id for d in case.documents.values() if not v.backend.exists(f"cases/{case.id}/blobs/{d.blob}")]


def _fsck_clean(world) -> bool:
    return world.cli("fsck", user="bob").returncode == 0


def test_a_disk_failing_on_the_second_file_keeps_the_first_document_whole(world, bob, monkeypatch):
    from vault.core import Vault

    real, calls = Vault.add_documents, []

    def adding(self, case, paths, *a, **k):
        calls.append(paths)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(self, case, paths, *a, **k)

    monkeypatch.setattr(Vault, "add_documents", adding)
    r = _upload(bob, world, "first.txt", "second.txt", tag="disk")
    monkeypatch.setattr(Vault, "add_documents", real)
    assert r.status_code == 400 and "No space left on device" in r.json()["error"], r.text  # one line, not a 500
    assert "first.txt" not in r.json()["error"]  # the system's reason, never a path
    assert _every_document_whole(world) == []  # the first file was recorded: its blob is its own now
    assert _fsck_clean(world)


@pytest.mark.parametrize("age_hours, kept", [(2, True), (7, False)])
def test_a_repair_of_leftovers_during_an_upload(world, bob, monkeypatch, age_hours, kept):
    """The first file's blob is stored when its part ends and recorded when the body ends; a repair run
    between (the second file still arriving) leaves it alone for hours, and if it is gone anyway the file
    is refused, never listed without content."""
    from refuge.web import _upload as upload

    real, repaired = upload._Parts.finish_first, []

    def finishing(self):
        real(self)
        _path, stored = self.received.files[0]
        if not repaired and stored.blob:
            v = world.open("bob")
            blob = v.backend.root / "cases" / v.find_case("MX-0001").id / "blobs" / stored.blob
            then = time.time() - age_hours * 3600
            os.utime(blob, (then, then))
            repaired.append(world.cli("fsck", "--repair", "--json", user="bob").stdout)

    monkeypatch.setattr(upload._Parts, "finish_first", finishing)
    before = len(world.open("bob").find_case("MX-0001").documents)
    r = _upload(bob, world, "a.txt", "b.txt", tag=f"repair {age_hours}")
    assert repaired and (json.loads(repaired[0])["removed"] == []) is kept
    rows = r.json()["results"]
    assert [row["id"] is not None for row in rows] == [kept, True], r.text
    if not kept:
        assert "removed from the vault while the upload went on" in rows[0]["error"]
    assert len(world.open("bob").find_case("MX-0001").documents) == before + 1 + kept
    assert _every_document_whole(world) == []
    assert _fsck_clean(world)


def test_hundreds_of_tiny_files_in_one_read_open_only_a_few_at_once(world, bob, monkeypatch):
    from refuge.web._upload import MAX_OPEN
    from vault import receiving

    live, peak = [0], {"receivers": 0, "threads": 0}
    real_init, real_finish, real_abandon = (receiving.Receiver.__init__, receiving.Receiver.finish,
                                            receiving.Receiver.abandon)

    def init(self, *a, **k):
        real_init(self, *a, **k)
        live[0] += 1
        peak["receivers"] = max(peak["receivers"], live[0])
        peak["threads"] = max(peak["threads"], threading.active_count())

    def finish(self):
        live[0] -= 1
        return real_finish(self)

    def abandon(self):
        live[0] -= 1
        return real_abandon(self)

    monkeypatch.setattr(receiving.Receiver, "__init__", init)
    monkeypatch.setattr(receiving.Receiver, "finish", finish)
    monkeypatch.setattr(receiving.Receiver, "abandon", abandon)
    threads = threading.active_count()
    body = b"".join(b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f%d.txt"\r\n\r\nline %d\r\n'
                    % (i, i) for i in range(60)) + b'--XyZ\r\nContent-Disposition: form-data; name="type"\r\n\r\nother\r\n--XyZ--\r\n'
    assert len(body) < 8192  # one read
    r = bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", content=body,
                 headers={"content-type": "multipart/form-data; boundary=XyZ", "accept": "application/json"})
    assert r.status_code == 200 and len([x for x in r.json()["results"] if x["id"]]) == 60, r.text[:300]
    assert peak["receivers"] <= MAX_OPEN + 1, peak
    assert peak["threads"] <= threads + MAX_OPEN + 4, peak
    assert _every_document_whole(world) == [] and _fsck_clean(world)


def test_a_body_cut_after_a_whole_file_is_a_failed_add_in_the_audit_log(world, bob):
    before = len(world.open("dave").audit_entries(user="bob"))
    docs = len(world.open("bob").find_case("MX-0001").documents)
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="cut.txt"\r\n\r\nwhole file\r\n--XyZ\r\n'
            b'Content-Disposition: form-data; name="type"\r\n\r\noth')
    r = bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", content=body,
                 headers={"content-type": "multipart/form-data; boundary=XyZ", "accept": "application/json"})
    assert r.status_code == 400 and "cut short" in r.text
    [entry] = world.open("dave").audit_entries(user="bob")[before:]
    assert entry["action"] == "doc.add" and entry["result"] != "ok" and "cut.txt" not in str(entry)
    assert len(world.open("bob").find_case("MX-0001").documents) == docs and _fsck_clean(world)
