"""Importing a folder: `doc add REF DIR --recursive`, with types from a map or the extension.

A hurried user's folder: good files, an empty one and a disguised one in the middle, a
copy of a file already in the case, hidden files. Every refused file is named (as typed)
with its reason, the rest stay added, and the exit status says that not all succeeded.
"""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import holds
from test_doc_lifecycle import _on_terminal

pytestmark = pytest.mark.s3_in_stress("how a batch of files is named, typed and refused")


def _folder(w, tmp_path):
    """incoming/: a.pdf (good), b-empty.pdf (empty), c.pdf (good), sub/d.jpg (a photo), .hidden.pdf."""
    folder = tmp_path / "box"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(w.docs["medical"], folder / "a.pdf")
    (folder / "b-empty.pdf").write_bytes(b"")
    (folder / "c.pdf").write_bytes(w.docs["declaration"].read_bytes().replace(b"FICTIONAL DEMO", b"FICTIONAL DEMX"))
    shutil.copy(w.docs["passport"], folder / "sub" / "d.jpg")
    shutil.copy(w.docs["medical"], folder / ".hidden.pdf")
    return folder


def _docs(w) -> list[dict]:
    return json.loads(w.ok("doc", "list", "MX-0001", "--json", user="bob"))


def test_a_bad_file_in_the_middle_is_named_and_the_others_are_added(case_world, tmp_path):
    w = case_world
    folder = _folder(w, tmp_path)
    p = w.run("doc", "add", "MX-0001", "box", "--recursive", "--type", "medical", user="bob")
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert "box (file 2 of 4): the file is empty" in err  # off a terminal: the folder typed, and the place in it
    assert "b-empty" not in err  # a name the person did not type goes to their terminal only
    assert "added 3 of 4 files; 1 refused" in err
    assert len(p.stdout.split()) == 3
    docs = _docs(w)
    assert sorted(d["title"] for d in docs) == ["a", "c", "d", "declaration"]
    assert {d["title"]: d["type"] for d in docs}["d"] == "medical"  # --type wins over the extension default
    entries = json.loads(w.ok("audit", "log", "--action", "doc.add", "--json", user="alice"))
    assert len(entries[-1]["docs"]) == 3 and "b-empty" not in json.dumps(entries)
    assert not holds(w.vault_bytes(), b"b-empty") and not holds(w.vault_bytes(), str(folder).encode())


def test_types_come_from_the_map_then_the_extension_and_a_file_without_one_is_refused(case_world, tmp_path):
    w = case_world
    _folder(w, tmp_path)
    (tmp_path / "box" / "b-empty.pdf").unlink()
    mapping = tmp_path / "types.txt"
    mapping.write_text("# how our scanner names things\na.pdf = psychological\n")
    p = w.run("doc", "add", "MX-0001", str(tmp_path / "box"), "-r", "--type-map", str(mapping), user="bob")
    err = p.stderr.decode()
    assert p.returncode == 1 and "box (file 2 of 3): no type for this file" in err
    types = {d["title"]: d["type"] for d in _docs(w)}
    assert types["a"] == "psychological" and types["d"] == "photo" and "c" not in types
    mapping.write_text("a.pdf = nonsense\n")
    p = w.run("doc", "add", "MX-0001", str(tmp_path / "box"), "-r", "--type-map", str(mapping), user="bob")
    assert p.returncode == 1 and b"--type-map line 1" in p.stderr


def test_duplicates_in_the_folder_and_in_the_case_are_refused_by_name(case_world, tmp_path):
    w = case_world
    folder = _folder(w, tmp_path)
    (folder / "b-empty.pdf").unlink()
    shutil.copy(w.docs["declaration"], folder / "again.pdf")  # already in the case
    shutil.copy(folder / "a.pdf", folder / "sub" / "a-copy.pdf")  # twice in the folder
    p = w.run("doc", "add", "MX-0001", "box", "-r", "--type", "medical", user="bob")
    err = p.stderr.decode()
    assert p.returncode == 1
    assert f"box (file 2 of 5): the case already holds this file as document {w.decl.partition('-')[2]}" in err
    assert "box (file 4 of 5): it is the same file as box (file 1 of 5)" in err
    code, err = _on_terminal(w, "doc", "add", "MX-0001", "box", "-r", "--type", "medical", user="bob")
    assert "box/again.pdf: the case already holds this file as document" in err and "(declaration)" in err
    assert "box/sub/a-copy.pdf: it is the same file as box/a.pdf" not in err  # a.pdf is in the case now:
    assert "box/sub/a-copy.pdf: the case already holds this file" in err
    assert len(_docs(w)) == 4


def test_a_folder_needs_recursive_and_everything_good_exits_0(case_world, tmp_path):
    w = case_world
    folder = _folder(w, tmp_path)
    (folder / "b-empty.pdf").unlink()
    p = w.run("doc", "add", "MX-0001", "box", "--type", "medical", user="bob")
    assert p.returncode == 1 and b"--recursive" in p.stderr and len(_docs(w)) == 1
    p = w.run("doc", "add", "MX-0001", "box", "-r", "--type", "medical", "--json", user="bob")
    assert p.returncode == 0 and len(json.loads(p.stdout)) == 3 and b"added 3 of 3 files" in p.stderr


def test_all_files_refused_exits_1_with_each_named(case_world, tmp_path):
    w = case_world
    (tmp_path / "x.pdf").write_bytes(b"")
    (tmp_path / "y.pdf").write_bytes(b"not a pdf at all")
    p = w.run("doc", "add", "MX-0001", "x.pdf", "y.pdf", "--type", "medical", user="bob")
    err = p.stderr.decode()
    assert p.returncode == 1 and "x.pdf: " in err and "y.pdf: " in err and "none of the 2 files" in err
    assert len(_docs(w)) == 1


def test_on_a_terminal_a_progress_bar_then_the_refused_files(case_world, tmp_path):
    w = case_world
    _folder(w, tmp_path)
    code, err = _on_terminal(w, "doc", "add", "MX-0001", "box", "-r", "--type", "medical", user="bob")
    assert code == 1 and "adding" in err and "4/4" in err
    assert "box/b-empty.pdf: the file is empty" in err and "added 3 of 4 files; 1 refused" in err
