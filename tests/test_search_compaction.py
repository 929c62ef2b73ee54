"""A case's search index is compacted by its readers, never inside `doc add` (issues #19 and #21).

`doc add` stores one segment for its documents and reads nothing else of the index, so its memory
does not grow with the case's index; a search that folded 16 segments or more after the newest
compaction stores the index it holds as one. Measured as a user runs the commands: a new
process, its peak RSS from GNU time; killed as a crash would kill it, half way through the write.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from conftest import require_tool

from vault import searching
from vault.search import Segment


def _peak_mib(w, *args: str) -> float:
    """Run ``refuge ARGS`` as bob; its peak RSS in MiB (GNU time's %M)."""
    out = w.root / "peak.txt"
    p = subprocess.run([require_tool("time"), "-f", "%M", "-o", str(out), sys.executable, "-P", "-m", "refuge", *args],
                       env=w.env("bob"), capture_output=True, cwd=w.root, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return int(out.read_text().split()[-1]) / 1024


def _bulky(case_id: str, mib: int) -> bytes:
    """A segment of about ``mib`` MiB (long words of a small vocabulary: big, yet quick to index)."""
    rnd = random.Random(3)
    vocab = ["".join(rnd.choices("abcdefghij", k=200)) for _ in range(50)]
    with Segment(case_id) as seg:
        for page in range(1, mib + 1):
            seg.add("bulk-document", 1, page, " ".join(rnd.choices(vocab, k=5000)), {"title": "bulk"})
        return seg.to_bytes()


def _fill(vault, case_id: str, upto: int) -> None:
    """Small segments until the highest number is ``upto``."""
    while max(searching._numbers(vault, case_id)) < upto:
        searching.forget_documents(vault, case_id, ["a-document-that-never-was"])


@pytest.mark.local_only("memory of the command, not of the backend; one is enough")
def test_doc_add_memory_does_not_grow_with_the_case_index(case_world, tmp_path):
    w = case_world
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("first note about the Tapachula shelter\n")
    second.write_text("second note naming Eleuterio Villaseñor\n")
    small = _peak_mib(w, "doc", "add", "MX-0001", str(first), "--type", "correspondence")

    vault = w.open("bob")
    case = vault.find_case("MX-0001")
    searching.store_segment(vault, case.id, _bulky(case.id, 32))  # 32 MiB of index, never compacted
    _fill(vault, case.id, 2 * searching.COMPACT_EVERY - 1)  # the next segment is the 32nd, once a writer's compaction
    count = len(searching._numbers(vault, case.id))
    large = _peak_mib(w, "doc", "add", "MX-0001", str(second), "--type", "correspondence")
    assert large < small + 16, f"doc add peaked at {large:.0f} MiB on a large index, {small:.0f} MiB on a small one"
    assert len(searching._numbers(vault, case.id)) == count + 1  # its own segment, no compaction

    # the next search folds the case anyway: it finds the new document and stores the compaction
    p = w.run("search", "Villaseñor", "--json", user="bob")
    assert p.returncode == 0, p.stderr.decode()
    assert [r["title"] for r in json.loads(p.stdout)] == ["second"]
    loaded = searching.load_index(vault, case.id)
    assert loaded.folded == 1 and loaded.last_seq == count + 2 and not loaded.problems
    loaded.index.close()


_KILLED = """
import os, signal, sys
from vault import age
real = age.Encryptor.close
def close(self):
    real(self)  # every byte written to the storage's unlinked file, not yet linked: a crash now
    os.kill(os.getpid(), signal.SIGKILL)
age.Encryptor.close = close
sys.argv = ["refuge", "search", "--case", "MX-0001", "Ciudad Ficticia"]
import runpy
runpy.run_module("refuge", run_name="__main__")
"""


@pytest.mark.local_only("the local backend's unlinked write; S3's unfinished uploads are the same leftovers")
def test_a_killed_compaction_leaves_what_fsck_explains(case_world):
    w = case_world
    vault = w.open("bob")
    case = vault.find_case("MX-0001")
    _fill(vault, case.id, searching.COMPACT_EVERY + 1)
    names = w.object_names()
    p = subprocess.run([sys.executable, "-P", "-c", _KILLED], env=w.env("bob"), capture_output=True, cwd=w.root,
                       timeout=120)
    assert p.returncode == -9, p.stderr.decode()
    assert w.decl in p.stdout.decode()  # the answer was out before the compaction began
    left = [n for n in w.object_names() if n not in names and not n.startswith("audit/")]  # the search's entry
    assert all(n.startswith(".tmp/") for n in left), left  # no segment: nothing half stored
    fsck = subprocess.run([sys.executable, "-P", "-m", "refuge", "fsck", "--json"], env=w.env("alice"),
                          capture_output=True, cwd=w.root, timeout=120)
    report = json.loads(fsck.stdout)
    problems = report.get("problems", report) if isinstance(report, dict) else report
    assert all(pr["kind"] == "leftover" for pr in problems), problems
    # the index is whole: the next search answers and compacts
    found = json.loads(w.ok("search", "--case", "MX-0001", "Ciudad Ficticia", "--json", user="bob"))
    assert [r["doc"] for r in found] == [w.decl]
    with searching.load_index(vault, case.id).index as index:
        assert w.decl in index.doc_ids()
    assert searching.load_index(vault, case.id).folded == 1


@pytest.mark.local_only("the numbering is the library's; one backend is enough")
def test_a_segment_stored_while_a_reader_compacts_is_not_lost(case_world):
    """The race a compaction must survive: a writer stores a segment after the reader listed and
    folded the case, before the reader stores its compaction. The compaction covers only what the
    reader listed; the writer's segment, numbered above, is folded after it."""
    w = case_world
    vault = w.open("bob")
    case = vault.find_case("MX-0001")
    _fill(vault, case.id, searching.COMPACT_EVERY + 1)
    reader = searching.load_index(vault, case.id)
    assert searching.compaction_due(reader)
    with Segment(case.id) as seg:  # another member's add, at that moment
        seg.add("late-document", 1, 1, "arrived during the compaction Xochiquetzal", {"title": "late"})
        late = searching.store_segment(w.open("erin"), case.id, seg.to_bytes())
    with reader.index:
        seq = searching.compact_folded(vault, case.id, reader)
    assert seq == late + 1 and reader.last_seq == late - 1
    loaded = searching.load_index(vault, case.id)
    with loaded.index as index:
        assert loaded.folded == 2 and not loaded.problems
        assert [h.doc_id for h in index.search("xochiquetzal")] == ["late-document"]
        assert w.decl in index.doc_ids()
    # the next reader folds two segments: nothing to compact
    again = searching.load_index(vault, case.id)
    assert not searching.compaction_due(again)
    again.index.close()


@pytest.mark.local_only("the rule is the library's; one backend is enough")
def test_a_search_of_a_closed_case_stores_nothing_in_it(case_world):
    """A closed case takes no new object: a reader whose fold is due a compaction answers and writes nothing."""
    w = case_world
    bob = w.open("bob")
    case = bob.find_case("MX-0001")
    while max(searching._numbers(bob, case.id)) <= searching.COMPACT_EVERY:
        searching.forget_documents(bob, case.id, ["a-document-that-never-was"])
    w.ok("case", "close", "MX-0001", user="erin")
    bob = w.open("bob")
    before = searching._numbers(bob, case.id)
    assert w.ok("search", "declaration", "--json", user="bob")
    assert searching._numbers(w.open("bob"), case.id) == before
    w.ok("case", "reopen", "MX-0001", user="erin")  # open again: the next search that folds the case compacts
    w.ok("search", "declaration", "--case", "MX-0001", "--json", user="bob")
    assert len(searching._numbers(w.open("bob"), case.id)) == len(before) + 1
