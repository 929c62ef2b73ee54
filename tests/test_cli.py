"""The command line speaks in one voice: one-line errors, exit codes of DESIGN.md."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import passphrase_file

pytestmark = pytest.mark.s3_in_stress("exit codes, usage and enrolment rules of the CLI")


def test_unknown_document_is_exit_1_one_line(case_world):
    p = case_world.run("doc", "get", "does-not-exist", user="bob")
    assert p.returncode == 1 and p.stderr.decode().count("\n") == 1 and b"Traceback" not in p.stderr


def test_usage_error_is_exit_2(case_world):
    p = case_world.run("doc", "add", "MX-0001", user="bob")
    assert p.returncode == 2 and p.stderr.startswith(b"refuge: error: ")


def test_unknown_type_is_a_usage_error(case_world):
    p = case_world.run("doc", "add", "MX-0001", str(case_world.docs["medical"]), "--type", "recipe", user="bob")
    assert p.returncode == 2 and b"recipe" in p.stderr


def test_no_vault_configured_says_how_to_fix(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "REFUGE_HOME": str(tmp_path / "h"), "REFUGE_PASSPHRASE": "x" * 20}
    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "case", "list"], env=env, capture_output=True)
    assert p.returncode == 1 and b"REFUGE_VAULT" in p.stderr


def test_init_refuses_an_existing_vault(world):
    p = world.run("init", str(world.vault), "--admin", "alice")
    assert p.returncode == 1 and b"already exists" in p.stderr


def test_an_init_stopped_before_its_organisation_key_is_finished_by_running_it_again(tmp_path):
    """Ctrl-C (or a kill) after the vault was written and before its signing key: the same admin
    running init again finishes it; once finished, or once used, init refuses as for any vault."""
    from vault.core import Vault
    from vault.identity import Home, SecretIdentity

    env = {"PATH": "/usr/bin:/bin", "REFUGE_HOME": str(tmp_path / "h"), "REFUGE_PASSPHRASE": "correct horse battery staple",
           "REFUGE_TEST_WORK_FACTOR": "10"}
    home, secret = Home(tmp_path / "h"), SecretIdentity.generate("alice")
    home.create(secret, env["REFUGE_PASSPHRASE"])
    Vault.init(str(tmp_path / "v"), home, secret)  # what the stopped init left

    def run(*a):
        return subprocess.run([sys.executable, "-P", "-m", "refuge", *a], capture_output=True, env=env)

    p = run("init", str(tmp_path / "v"), "--admin", "alice")
    assert p.returncode == 0 and b"stopped before its organisation key: finishing it" in p.stderr, p.stderr
    assert run("keys", "org", "show").returncode == 0  # the home now names the vault and alice
    p = run("init", str(tmp_path / "v"), "--admin", "alice")
    assert p.returncode == 1 and b"a vault already exists" in p.stderr


def test_short_passphrase_is_refused(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "REFUGE_HOME": str(tmp_path / "h"), "REFUGE_PASSPHRASE": "short",
           "REFUGE_TEST_WORK_FACTOR": "10"}
    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "init", str(tmp_path / "v"), "--admin", "alice"], env=env,
                       capture_output=True)
    assert p.returncode == 1 and b"at least 12" in p.stderr and not (tmp_path / "v").exists()


def test_wrong_passphrase_is_exit_1(case_world):
    p = case_world.run("case", "list", user="bob", REFUGE_PASSPHRASE="wrong passphrase here")
    assert p.returncode == 1 and b"wrong passphrase" in p.stderr


def test_init_from_the_command_line_then_enroll_and_list(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "REFUGE_HOME": str(tmp_path / "h"), "REFUGE_PASSPHRASE": "correct horse battery staple",
           "REFUGE_TEST_WORK_FACTOR": "10"}

    def run(*a, user=None):
        return subprocess.run([sys.executable, "-P", "-m", "refuge", *a], capture_output=True,
                              env=dict(env, **({"REFUGE_USER": user} if user else {})))

    assert run("init", str(tmp_path / "v"), "--admin", "alice").returncode == 0
    # the home remembers the vault and the default user
    assert run("user", "add", "erin", "--role", "case-lead", "--passphrase-file", passphrase_file(tmp_path)).returncode == 0
    users = json.loads(run("user", "list", "--json").stdout)
    assert {(u["name"], u["role"]) for u in users} == {("alice", "admin"), ("erin", "case-lead")}


def test_user_keygen_then_enroll_public_identity(world, tmp_path):
    other = tmp_path / "other-home"
    p = world.run("user", "keygen", "zoe", "-o", str(tmp_path / "zoe.pub"), REFUGE_HOME=str(other))
    assert p.returncode == 0 and b'"recipient": "age1' in p.stdout
    world.ok("user", "add", "zoe", "--role", "lawyer", "--public", str(tmp_path / "zoe.pub"), user="alice")
    assert any(u["name"] == "zoe" for u in json.loads(world.ok("user", "list", "--json", user="alice")))
    # zoe, on her own machine, opens the vault
    assert world.run("case", "list", user="zoe", REFUGE_HOME=str(other)).returncode == 0


def test_swapped_public_key_in_a_public_file_is_detected(world, tmp_path):
    other = tmp_path / "other-home"
    world.run("user", "keygen", "zoe", "-o", str(tmp_path / "zoe.pub"), REFUGE_HOME=str(other))
    world.run("user", "keygen", "mallory", "-o", str(tmp_path / "m.pub"), REFUGE_HOME=str(other))
    zoe, mallory = (json.loads((tmp_path / n).read_text()) for n in ("zoe.pub", "m.pub"))
    zoe["recipient"] = mallory["recipient"]
    (tmp_path / "swapped.pub").write_text(json.dumps(zoe))
    p = world.run("user", "add", "zoe", "--role", "lawyer", "--public", str(tmp_path / "swapped.pub"), user="alice")
    assert p.returncode == 3


def test_help_lists_the_command_groups(world):
    out = world.ok("--help")
    for group in ("init", "unlock", "lock", "user", "case", "doc", "demo"):
        assert group in out


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_output_files_are_never_replaced_without_force(case_world, tmp_path):
    target = tmp_path / "precious.pdf"
    target.write_bytes(b"the only copy of something else")
    for args in (("doc", "get", case_world.decl, "-o", str(target)), ("case", "export-key", "MX-0001", "-o", str(target))):
        p = case_world.run(*args, user="erin")
        assert p.returncode == 1
        assert p.stderr.decode() == "refuge: error: the output file already exists; nothing was written; give --force to replace it\n"
        assert target.read_bytes() == b"the only copy of something else"
    assert [x.name for x in tmp_path.iterdir() if x.name.startswith(".refuge-")] == []
    case_world.ok("doc", "get", case_world.decl, "-o", str(target), "--force", user="erin")
    assert target.read_bytes() == Path(case_world.docs["declaration"]).read_bytes()
    key = tmp_path / "case.key"
    case_world.ok("case", "export-key", "MX-0001", "-o", str(key), user="erin")
    assert key.stat().st_mode & 0o777 == 0o600


def _doc_count(world) -> int:
    return len(json.loads(world.run("doc", "list", "MX-0001", "--json", user="bob").stdout))


def _vault_bytes(world) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(Path(world.vault).rglob("*")) if p.is_file())


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_a_standard_stream_closed_by_the_caller_is_nothing_and_no_vault_file_takes_its_place(case_world, tmp_path):
    """A hurried script closes stdout or stderr (`>&-`): the add still stores and exits 0 (an internal error
    before); a refused add still exits 1, and its error line lands in no file of the vault (a closed
    descriptor 2 is the number the next file opened would take)."""
    world = case_world
    note = tmp_path / "note.txt"
    note.write_text("a note added with a closed stream\n")
    refuge = f"{sys.executable} -P -m refuge"
    before = _doc_count(world)
    for closed in (">&-", "2>&-", "<&-"):
        p = subprocess.run(["sh", "-c", f"{refuge} doc add MX-0001 {note} --type other --allow-duplicate {closed}"],
                           env=world.env("bob"), capture_output=True, cwd=world.root, timeout=120)
        assert p.returncode == 0 and b"internal error" not in p.stderr, (closed, p.stderr)
    assert _doc_count(world) == before + 3
    p = subprocess.run(["sh", "-c", f"{refuge} doc add MX-0001 {tmp_path / 'missing.txt'} --type other 2>&-"],
                       env=world.env("bob"), capture_output=True, cwd=world.root, timeout=120)
    assert p.returncode == 1 and _doc_count(world) == before + 3
    assert b"refuge: error" not in _vault_bytes(world)


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_an_argument_that_is_not_utf8_is_one_line_exit_2_and_nothing_is_stored(case_world, tmp_path):
    """A file named in another encoding (Latin-1 from an old archive) and a title typed in one: each was an
    internal error or a misleading "could not be checked ... decompression bomb" with a thread's traceback;
    now one line naming the argument's place (never its bytes), exit 2, nothing stored."""
    world = case_world
    latin = str(tmp_path / "d\xe9claration.txt".encode("latin-1").decode("utf-8", "surrogateescape"))
    Path(latin).write_text("a declaration\n")
    before = _doc_count(world)
    for args in ([b"doc", b"add", b"MX-0001", bytes(latin, "utf-8", "surrogateescape"), b"--type", b"other"],
                 [b"doc", b"add", b"MX-0001", str(world.docs["medical"]).encode(), b"--type", b"medical",
                  b"--title", "Dossier m\xe9dical".encode("latin-1")]):
        p = subprocess.run([sys.executable.encode(), b"-P", b"-m", b"refuge", *args], env=world.env("bob"),
                           capture_output=True, cwd=world.root, timeout=120)
        assert p.returncode == 2 and p.stderr.count(b"\n") == 1 and b"Traceback" not in p.stderr, p.stderr
        assert p.stderr.startswith(b"refuge: error: argument ") and b"not UTF-8" in p.stderr
        assert b"\xe9" not in p.stderr
    assert _doc_count(world) == before
