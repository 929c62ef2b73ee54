"""The index of my cases and the cached directory: a pointer that saves work, never a source of trust.

Attacks tried here: a case planted in storage by a stranger (keys wrapped to a
member, a reference that copies theirs), a revoked member who keeps and puts
back every cache file they had, a cache file copied from another person,
altered on disk, or forged by encrypting to the victim's public key.
"""

from __future__ import annotations

import json
import shutil

import pytest

from vault import _cache, age
from vault.errors import InvalidInput, NotFound, NotPermitted
from vault.events import EventLog, canonical, now, sign_record
from vault.identity import SecretIdentity

pytestmark = pytest.mark.s3_in_stress("the per-user cache of case references, a local file")

local = pytest.mark.parametrize("world", ["local"], indirect=True)
CACHES = ("cases.index", "cases.rows", "directory")  # vault/_caseindex.py, vault/_cache.py


def _refs(world, user: str) -> list[str]:
    return sorted(row["ref"] for row in json.loads(world.ok("case", "list", "--json", user=user)))


def _cache_dir(world, user: str):
    v = world.open(user)
    return _cache.cache_dir(v)


def _plant_case(world, ref: str, victim: str) -> str:
    """A stranger (never enrolled) writes a whole case into storage: a key wrapped to ``victim``, a
    signed marker and a creation event under the case key, naming ``ref``."""
    v = world.open(victim)
    mallory = SecretIdentity.generate("mallory")
    case_id = "plantedcase2345a"
    key = age.X25519Identity.generate()
    store = world.storage()
    store.put(f"cases/{case_id}/keys/0001/{v.me.user_id}", age.encrypt_bytes([v.me.age_identity.recipient],
                                                                              f"{key}\n".encode()))
    marker = sign_record(mallory, {"case": case_id, "version": 1, "members": [v.me.user_id], "time": now()})
    store.put(f"cases/{case_id}/versions/0001", canonical(marker))
    EventLog(store, f"cases/{case_id}/events").append(
        mallory, "case.created", {"ref": ref, "title": "planted"}, [key.recipient], lambda: (0, ""),
        extra={"case": case_id, "dir": v.directory.last_seq})
    return case_id


def test_references_match_whatever_the_case_and_the_spaces(case_world):
    v = case_world.open("bob")
    case = v.find_case("MX-0001")
    assert v.find_case("  mx-0001 ").id == case.id and v.find_case("Mx-0001").id == case.id
    rows = json.loads(case_world.ok("doc", "list", " mx-0001", "--json", user="bob"))
    assert [r["id"] for r in rows] == [case_world.decl]


def test_two_references_differing_only_by_case_are_refused_at_creation(case_world):
    p = case_world.run("case", "create", "mx-0001", user="erin")
    assert p.returncode == 1 and b"already have a case MX-0001" in p.stderr
    with pytest.raises(InvalidInput):
        case_world.open("erin").create_case(" MX-0001  ")
    assert _refs(case_world, "erin") == ["MX-0001"]


@local
def test_a_planted_case_is_never_one_of_mine(case_world):
    planted = _plant_case(case_world, "MX-0001", "bob")
    assert _refs(case_world, "bob") == ["MX-0001"]  # the planted copy of the reference is not listed
    rows = json.loads(case_world.ok("doc", "list", "MX-0001", "--json", user="bob"))
    assert [r["id"] for r in rows] == [case_world.decl]  # the reference still names the real case
    v = case_world.open("bob")
    assert planted not in v.case_index() and planted not in v.my_case_ids()
    assert all(c.id != planted for c in v.cases())


@local
def test_a_planted_case_with_its_own_reference_is_not_found(case_world):
    _plant_case(case_world, "PLANTED-9", "bob")
    assert _refs(case_world, "bob") == ["MX-0001"]
    p = case_world.run("doc", "list", "PLANTED-9", user="bob")
    assert p.returncode == 1 and b"no case PLANTED-9" in p.stderr


def test_a_revoked_member_who_puts_back_every_cache_file_reads_nothing(case_world, tmp_path):
    case_world.ok("case", "create", "MX-0002", user="erin")
    case_world.ok("case", "grant", "MX-0002", "bob", user="erin")
    case_id = case_world.open("erin").find_case("MX-0002").id
    assert _refs(case_world, "bob") == ["MX-0001", "MX-0002"]  # bob's index and caches now hold MX-0002
    case_world.ok("doc", "list", "MX-0002", user="bob")
    saved, mine = tmp_path / "bob-cache", _cache_dir(case_world, "bob")
    shutil.copytree(mine, saved)
    case_world.ok("case", "revoke", "MX-0002", "bob", user="erin")
    shutil.rmtree(mine)
    shutil.copytree(saved, mine)  # the index, the directory's fold, the case state
    assert _refs(case_world, "bob") == ["MX-0001"]
    p = case_world.run("doc", "list", "MX-0002", user="bob")
    assert p.returncode == 1 and b"no case MX-0002" in p.stderr
    shutil.rmtree(mine)
    shutil.copytree(saved, mine)
    p = case_world.run("doc", "list", case_id, user="bob")  # by id: the case is opened, and refuses him
    assert p.returncode == 4
    v = case_world.open("bob")
    with pytest.raises(NotPermitted):
        v.load_case(case_id)
    with pytest.raises(NotFound):
        v.find_case("MX-0002")


def test_another_persons_cache_files_are_not_used(case_world):
    case_world.ok("case", "create", "MX-0003", user="erin")  # erin's alone
    assert _refs(case_world, "erin") == ["MX-0001", "MX-0003"]
    case_world.ok("doc", "list", "MX-0003", user="erin")
    erin, bob = _cache_dir(case_world, "erin"), _cache_dir(case_world, "bob")
    bob.mkdir(parents=True, exist_ok=True)
    for name in CACHES:
        shutil.copyfile(erin / name, bob / name)
    assert _refs(case_world, "bob") == ["MX-0001"]
    p = case_world.run("doc", "list", "MX-0003", user="bob")
    assert p.returncode == 1
    for name in CACHES:  # refused, and rebuilt as bob's own
        assert (bob / name).read_bytes() != (erin / name).read_bytes()
        assert _cache.load(case_world.open("bob"), name) is not None
    (bob / "directory").write_bytes((erin / "directory").read_bytes())
    v = case_world.open("bob")
    assert _cache.load(v, "cases.index") is not None  # bob's index opens for bob
    shutil.copyfile(bob / "cases.index", erin / "cases.index")
    assert _cache.load(case_world.open("erin"), "cases.index") is None  # and for no one else


def test_an_altered_or_forged_cache_is_rebuilt(case_world):
    assert _refs(case_world, "bob") == ["MX-0001"]
    case_world.ok("doc", "list", "MX-0001", user="bob")
    bob = _cache_dir(case_world, "bob")
    for name in CACHES:
        data = bytearray((bob / name).read_bytes())
        data[len(data) // 2] ^= 1
        (bob / name).write_bytes(bytes(data))
    v = case_world.open("bob")  # (opening rebuilds the directory's fold)
    assert _cache.load(v, "cases.index") is None and _cache.load(v, "cases.rows") is None
    assert _refs(case_world, "bob") == ["MX-0001"]
    case_world.ok("doc", "list", "MX-0001", user="bob")
    assert all(_cache.load(case_world.open("bob"), name) is not None for name in CACHES)
    # Forged: anyone can encrypt to bob's public key; the index claims erin's own case for him.
    case_world.ok("case", "create", "MX-0004", user="erin")
    secret = case_world.open("erin").find_case("MX-0004").id
    forged = {"fmt": 1, "authority": True, "cases": {secret: {"ref": "MX-0004", "seq": 1, "digest": "", "object": "",
                                                              "row": {"ref": "MX-0004", "title": "", "members": []}}}}
    (bob / "cases.index").write_bytes(age.encrypt_bytes([v.me.age_identity.recipient], json.dumps(forged).encode()))
    assert _refs(case_world, "bob") == ["MX-0001"]
    assert case_world.run("doc", "list", "MX-0004", user="bob").returncode == 1


@local
def test_the_cached_directory_sees_what_was_appended_and_refuses_a_rewrite(case_world):
    v = case_world.open("bob")
    assert _cache.load(v, "directory") is not None
    case_world.ok("case", "create", "MX-0005", user="erin")
    case_world.ok("case", "grant", "MX-0005", "bob", user="erin")  # directory events after bob's cached fold
    assert _refs(case_world, "bob") == ["MX-0001", "MX-0005"]
    # The event the cache ends at is replaced: the cache is not used, and the full fold refuses the rewrite.
    seq = case_world.open("bob").directory.last_seq
    key = f"directory/events/{seq:08d}"
    case_world.replace_object(key, case_world.read_object(f"directory/events/{seq - 1:08d}"))
    assert case_world.run("case", "list", user="bob").returncode == 3
