"""`refuge search` answers from a combined index kept in the person's sealed cache (vault/_searchcache.py).

The cache is only a shortcut: a case whose segments changed is read again (and only that case), a
removed document never shows, a case the person left is never searched even though the cache file
on disk still held it, and the file holds no plaintext and opens for no one else.
"""

from __future__ import annotations

import json

import pytest

from vault import _cache, _searchcache, searching

WORD = "Xochimilco"  # planted in a second case's document


def _search(w, query, user="bob"):
    p = w.run("search", query, "--json", user=user)
    assert p.returncode == 0, p.stderr.decode()
    return [(r["ref"], r["doc"]) for r in json.loads(p.stdout)]


def _cache_file(w, user="bob"):
    vault = w.open(user)
    return _cache.cache_dir(vault) / _searchcache.NAME


def _reads(monkeypatch) -> list[str]:
    """The case ids whose segments are read from now on."""
    read: list[str] = []
    real = searching.load_index

    def counting(v, case_id):
        read.append(case_id)
        return real(v, case_id)

    monkeypatch.setattr(searching, "load_index", counting)
    return read


@pytest.fixture
def two_cases(case_world, tmp_path):
    w = case_world
    w.ok("case", "create", "GT-0002", "--title", "Second", user="erin")
    w.ok("case", "grant", "GT-0002", "bob", user="erin")
    note = tmp_path / "note.txt"
    note.write_text(f"The shelter near {WORD} took the family in.\n", encoding="utf-8")
    w.note = w.ok("doc", "add", "GT-0002", str(note), "--type", "correspondence", user="bob").strip()
    return w


@pytest.mark.local_only("the cache is in REFUGE_HOME whatever the backend; one is enough")
def test_warm_cache_reads_no_segment_and_a_change_reads_only_its_case(two_cases, tmp_path, monkeypatch):
    w = two_cases
    assert _search(w, WORD.lower()) == [("GT-0002", w.note)]  # cold: fills the cache
    sealed = _cache_file(w).read_bytes()
    assert WORD.encode() not in sealed and b"shelter" not in sealed and b"SQLite" not in sealed
    assert WORD.lower().encode() not in sealed

    vault = w.open("bob")
    read = _reads(monkeypatch)
    found = searching.search(vault, WORD[:5])
    assert [f.doc.id for f in found.found] == [w.note] and read == []  # warm: no segment read

    extra = tmp_path / "extra.txt"
    extra.write_text(f"A second note on {WORD} and the border.\n", encoding="utf-8")
    added = w.ok("doc", "add", "GT-0002", str(extra), "--type", "correspondence", user="bob").strip()
    vault = w.open("bob")
    gt = vault.find_case("GT-0002").id
    found = searching.search(vault, WORD)
    assert sorted(f.doc.id for f in found.found) == sorted([w.note, added]) and read == [gt]
    assert searching.search(w.open("bob"), WORD).found and read == [gt]  # saved: warm again

    # a cache altered on disk, or another person's, is not used: rebuilt from the segments
    path = _cache_file(w)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    assert len(searching.search(w.open("bob"), WORD).found) == 2 and len(read) == 3
    erin_cache = _cache_file(w, "erin")
    erin_cache.parent.mkdir(parents=True, exist_ok=True)
    erin_cache.write_bytes(path.read_bytes())
    assert _searchcache._load(w.open("erin")) is None


@pytest.mark.s3_in_stress("the cache is the application's; it reads the vault through calls covered on both backends")
def test_removed_document_and_revoked_member_are_never_found_from_the_cache(two_cases):
    w = two_cases
    assert _search(w, WORD) == [("GT-0002", w.note)]
    assert _search(w, "Ficticia") == [("MX-0001", w.decl)]  # both cases are in the cache now
    before = _cache_file(w).read_bytes()

    w.ok("doc", "remove", w.note, "--reason", "duplicate", user="erin")
    assert _search(w, WORD) == []

    # revoked from MX-0001: the cache file from before the revocation still holds that case
    w.ok("case", "revoke", "MX-0001", "bob", user="erin")
    listed = w.ok("case", "list", user="bob")
    assert "GT-0002" in listed and "MX-0001" not in listed
    assert not _cache_file(w).exists()  # the listing saw MX-0001 leave: the search cache went with it
    _cache_file(w).write_bytes(before)  # and a copy put back is still never searched for MX-0001
    assert _search(w, "Ficticia") == []
    state = _searchcache._load(w.open("bob"))
    vault = w.open("erin")
    mx = vault.find_case("MX-0001").id
    assert state is not None and mx not in state.cases and state.cases  # its rows deleted, GT-0002's kept
    assert state.conn.execute("SELECT count(*) FROM cdocs WHERE case_id = ?", (mx,)).fetchone() == (0,)


@pytest.mark.local_only("in-process; one backend is enough")
def test_a_held_index_answers_from_memory_until_dropped(two_cases, monkeypatch):
    w = two_cases
    held = searching.Held()
    vault = w.open("bob")
    assert [f.doc.id for f in searching.search(vault, WORD, held=held).found] == [w.note]
    assert held.state is not None
    read = _reads(monkeypatch)
    monkeypatch.setattr(_cache, "load_bytes", lambda *a: pytest.fail("the held index was read from disk again"))
    assert [f.doc.id for f in searching.search(vault, "Ficticia", held=held).found] == [w.decl] and read == []
    held.drop()  # what the web desk's lock does
    assert held.state is None


@pytest.mark.local_only("the cache is in REFUGE_HOME whatever the backend; one is enough")
def test_a_purged_case_leaves_no_search_cache_behind(case_world):
    w = case_world
    assert _search(w, "Ficticia") == [("MX-0001", w.decl)]
    assert _cache_file(w).exists()
    cid = w.open("erin").find_case("MX-0001").id
    w.ok("case", "close", "MX-0001", user="erin")
    w.ok("case", "purge", cid, "--yes", user="alice")
    assert w.ok("case", "list", user="bob").strip() == "(none)"
    assert not _cache_file(w).exists()


def test_the_web_desk_keeps_the_index_while_unlocked_and_drops_it_on_lock(tmp_path):
    from test_web_support import WebWorld, client_for

    from refuge import indexing

    w = WebWorld(tmp_path / "web")
    v = w.open("bob")
    indexing.reindex(v, v.find_case(w.case))
    desk = w.desk("bob")
    bob = client_for(desk)
    r = bob.get("/search", params={"q": "protection"})
    assert r.status_code == 200 and f"/doc/{w.decl}" in r.text
    held = desk.search_held
    assert held.state is not None  # kept in memory for the next search
    assert f"/doc/{w.decl}" in bob.get("/search", params={"q": "protect"}).text
    assert bob.post("/lock", data={"csrf": bob.csrf}).status_code == 200
    assert held.state is None
