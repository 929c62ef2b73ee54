"""Files are judged by content; a refused file leaves no trace in the vault."""

import os

import pikepdf
import pytest

pytestmark = pytest.mark.s3_in_stress("intake refusals, decided before anything is stored")


def _refused(world, path, *extra):
    before = set(world.object_names()) - {n for n in world.object_names() if n.startswith("audit/")}
    p = world.run("doc", "add", "MX-0001", str(path), "--type", "medical", *extra, user="bob")
    after = {n for n in world.object_names() if not n.startswith("audit/")}
    assert p.returncode == 1, p.stderr
    err = p.stderr.decode()
    assert err.startswith("refuge: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert after == before, "a refused file left objects behind"
    assert not (world.vault / ".tmp").exists() or not any((world.vault / ".tmp").iterdir())
    assert os.path.basename(str(path)) not in err, "errors must not name the file"
    return err


@pytest.mark.local_only("checks the local backend's .tmp folder for leftovers (tests/test_s3.py checks S3 uploads)")
def test_executable_disguised_as_pdf_is_refused(case_world, tmp_path):
    evil = tmp_path / "evil.pdf"
    evil.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 200)
    assert "executable" in _refused(case_world, evil)


@pytest.mark.local_only("checks the local backend's .tmp folder for leftovers (tests/test_s3.py checks S3 uploads)")
def test_empty_file_is_refused(case_world, tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    assert "empty" in _refused(case_world, tmp_path / "empty.pdf")


@pytest.mark.local_only("checks the local backend's .tmp folder for leftovers (tests/test_s3.py checks S3 uploads)")
def test_jpeg_named_pdf_is_refused_and_told_to_rename(case_world, tmp_path):
    fake = tmp_path / "scan.pdf"
    fake.write_bytes(case_world.docs["passport"].read_bytes())
    assert "rename it to .jpg" in _refused(case_world, fake)


@pytest.mark.local_only("checks the local backend's .tmp folder for leftovers (tests/test_s3.py checks S3 uploads)")
def test_password_protected_pdf_is_refused(case_world, tmp_path):
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(case_world.docs["declaration"]) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o" * 12, user="u" * 12))
    assert "password" in _refused(case_world, locked)


@pytest.mark.local_only("checks the local backend's .tmp folder for leftovers (tests/test_s3.py checks S3 uploads)")
def test_truncated_pdf_is_refused(case_world, tmp_path):
    data = case_world.docs["declaration"].read_bytes()
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(data[: len(data) // 3])
    err = _refused(case_world, bad)
    assert "damaged" in err or "cannot be read" in err


@pytest.mark.local_only("checks the local backend's .tmp folder for leftovers (tests/test_s3.py checks S3 uploads)")
def test_symlink_is_refused(case_world, tmp_path):
    link = tmp_path / "link.pdf"
    link.symlink_to(case_world.docs["declaration"])
    assert "symbolic link" in _refused(case_world, link)


@pytest.mark.local_only("checks the local backend's .tmp folder for leftovers (tests/test_s3.py checks S3 uploads)")
def test_missing_file_is_refused(case_world, tmp_path):
    assert "does not exist" in _refused(case_world, tmp_path / "nope.pdf")


def test_file_over_the_size_limit_is_refused(case_world, tmp_path):
    from vault import intake
    from vault.errors import InvalidInput

    with pytest.raises(InvalidInput, match="larger than"):
        intake.inspect(case_world.docs["declaration"], limit=100)


def test_batch_files_succeed_or_fail_alone(case_world, tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    p = case_world.run("doc", "add", "MX-0001", str(case_world.docs["medical"]), str(tmp_path / "empty.pdf"),
                       "--type", "medical", user="bob")
    assert p.returncode == 1 and len(p.stdout.split()) == 1 and b"empty.pdf: the file is empty" in p.stderr
    assert len(case_world.ok("doc", "list", "MX-0001", "--json", user="bob").split('"id"')) == 3


def test_pdf_with_javascript_is_stored_and_flagged(case_world, tmp_path):
    js = tmp_path / "js.pdf"
    with pikepdf.open(case_world.docs["declaration"]) as pdf:
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        pdf.save(js)
    doc_id = case_world.ok("doc", "add", "MX-0001", str(js), "--type", "other", user="bob").strip()
    import json

    [d] = [d for d in json.loads(case_world.ok("doc", "list", "MX-0001", "--json", user="bob")) if d["id"] == doc_id]
    assert d["flags"] == ["actions"]
