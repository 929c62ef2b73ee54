"""What a new team member meets first: the README's commands exist, and each error names the way out.

Every message is checked as the person reads it: the one line on stderr of the
command run as a user runs it (tests/conftest.py), with its exit code.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from refuge import _hints
from refuge.cli import cli

ROOT = Path(__file__).resolve().parent.parent
#: The pages a newcomer reads for commands to type (architecture.md and format.md describe, not instruct).
DOCS = ["README.md", "keys/README.md", "templates/README.md", *(f"docs/{n}" for n in ("audit.md", "kms.md", "scale.md", "web.md"))]
LOCAL = pytest.mark.parametrize("world", ["local"], indirect=True)  # rules of the CLI's words, not of storage


def _error(p: subprocess.CompletedProcess) -> str:
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1, p.stderr.decode()
    return lines[0]


# --- the commands the pages name exist, with the options they give ---------------------------


def _code_lines(text: str) -> list[str]:
    """Command lines of indented code blocks (continued with a backslash) and inline `refuge ...` spans."""
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and not (raw.startswith(("    ", "\t")) and re.match(r"(\$ )?refuge( |$)", line)):
            continue
        buf = f"{buf} {line}" if buf else line.removeprefix("$ ")
        if buf.endswith("\\"):
            buf = buf[:-1]
            continue
        out.append(buf)
        buf = ""
    return out + re.findall(r"`(refuge [^`]+)`", text)


def _phrases(text: str) -> list[str]:
    """The `refuge COMMAND ...` phrases of a sentence, each up to where the prose resumes."""
    commands = set(cli.list_commands(click.Context(cli)))
    out = []
    for m in re.finditer(r"refuge (?=[a-z])", text):
        phrase = re.split(r"[);,'`]|\.(?:\s|$)| or | and | for | to | with | if | where | then | shows ", text[m.start():])[0]
        if phrase.split()[1] in commands:
            out.append(phrase.strip())
    return out


def _unknown(line: str) -> str | None:
    """What of ``line`` refuge does not have (a command or an option), or None."""
    tokens = shlex.split(line, comments=True)
    ctx, command, path, i = click.Context(cli), cli, ["refuge"], 1
    while i < len(tokens) and isinstance(command, click.Group):
        token = tokens[i]
        if token in ("--vault", "--as"):
            i += 2
            continue
        if token in ("-h", "--help", "--version") or token.isupper() or "|" in token or token == "...":
            return None  # a placeholder (refuge case COMMAND) or refuge's own options
        sub = command.get_command(ctx, token)
        if sub is None:
            return f"no command {' '.join(path)} {token}"
        command, path, i = sub, [*path, token], i + 1
    known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"-h", "--help"}
    for token in tokens[i:]:
        name = token.split("=", 1)[0]
        if name.startswith("-") and name != "-" and not re.match(r"-\d", name) and "|" not in name and name not in known:
            return f"{' '.join(path)} has no option {name}"
    return None


def test_the_pages_a_newcomer_follows_name_only_commands_and_options_that_exist():
    checked, wrong = 0, []
    for page in DOCS:
        for line in _code_lines((ROOT / page).read_text(encoding="utf-8")):
            checked += 1
            if problem := _unknown(line):
                wrong.append(f"{page}: {problem}: {line}")
    assert checked > 40 and not wrong, "\n".join(wrong)


def test_every_way_out_and_command_message_names_commands_and_options_that_exist():
    texts = list(_hints.HINTS.values())
    for path in sorted((ROOT / "refuge" / "commands").glob("*.py")):
        texts += [n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
                  and isinstance(n.value, str)]
    phrases = [p for t in texts for p in _phrases(t)]
    wrong = [f"{problem}: {p}" for p in phrases if (problem := _unknown(p))]
    assert len(phrases) > 100 and not wrong, "\n".join(wrong)
    assert _unknown("refuge doc add MX-1 a.pdf --tpye photo") and _unknown("refuge case frobnicate X")  # it can fail


def _literal_codes(node) -> set[str]:
    """The codes an expression given as a hint can be: a string, either side of a conditional, an
    f-string's fixed start (marked with a final "*")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literal_codes(node.body) | _literal_codes(node.orelse)
    if isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant):
        return {node.values[0].value + "*"}
    return set()


def _hint_codes() -> set[str]:
    """Every hint code the libraries and the application raise, given as ``hint=`` or set as ``hint``."""
    codes = set()
    for package in ("vault", "packets", "refuge"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call):
                    codes |= {c for k in node.keywords if k.arg == "hint" for c in _literal_codes(k.value)}
                elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "hint" for t in node.targets):
                    codes |= {c for c in _literal_codes(node.value) if re.fullmatch(r"[a-z0-9-]+\*?", c)}
    return codes


def test_every_hint_code_raised_has_its_way_out_worded():
    codes = _hint_codes()
    assert {"case-list", "packet-incomplete", "packet-incomplete-translator", "role", "case-id-*"} <= codes  # found
    worded = set(_hints.HINTS)
    assert not [c for c in codes if c not in worded and not (c.endswith("*") and any(w.startswith(c[:-1]) for w in worded))]


# --- typing --------------------------------------------------------------------------------------


def test_a_mistyped_command_or_a_global_option_after_the_command_says_what_was_meant(tmp_path):
    expected = {
        ("docs", "add", "MX-0001", "x.pdf"): "no such command 'docs' (did you mean 'doc'?); see refuge --help",
        ("doc", "ad", "MX-0001", "x.pdf"): "no such command 'ad' (did you mean 'add'?); see refuge doc --help",
        ("case", "list", "--jsn"): "no such option '--jsn' (did you mean '--json'?); see refuge case list --help",
        ("case", "list", "--as", "dave"): "--as is an option of refuge itself: give it before the command "
                                          "(refuge --as NAME case list ...)",
        ("doc", "list", "MX-0001", "--vault", "/srv/vault"): "--vault is an option of refuge itself: give it before "
                                                            "the command (refuge --vault LOCATION doc list ...)",
        ("frobnicate",): "no such command 'frobnicate'; see refuge --help",
    }
    for args, line in expected.items():
        p = _refuge(tmp_path, *args)
        assert (p.returncode, _error(p)) == (2, "refuge: error: " + line)


# --- the passphrase, with no terminal to type it on ------------------------------------------


def _refuge(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REFUGE_")}
    clean.update(REFUGE_HOME=str(tmp_path / "home"), REFUGE_TEST_WORK_FACTOR="10", **env)
    return subprocess.run([sys.executable, "-P", "-m", "refuge", *args], env=clean, stdin=subprocess.DEVNULL,
                          capture_output=True, cwd=tmp_path, timeout=60)


def test_init_with_no_terminal_asks_for_a_terminal_not_for_an_unlock(tmp_path):
    p = _refuge(tmp_path, "init", str(tmp_path / "vault"), "--admin", "alice")
    assert p.returncode == 1
    assert _error(p) == ("refuge: error: no terminal to type the new passphrase on: run this on a terminal, or set "
                         "REFUGE_PASSPHRASE_FILE for scripts")
    assert not (tmp_path / "vault").exists() and not (tmp_path / "home").exists()


@LOCAL
def test_a_command_with_no_passphrase_and_no_terminal_says_unlock_on_a_terminal(world):
    for args in (("unlock",), ("case", "list")):
        p = world.run(*args, user="erin", REFUGE_PASSPHRASE="")
        assert p.returncode == 1
        assert _error(p) == ("refuge: error: no passphrase and no terminal to ask for it: run refuge unlock on a "
                             "terminal first, or set REFUGE_PASSPHRASE_FILE for scripts")


def test_org_set_warns_at_once_when_the_letterhead_is_not_the_name_packets_are_signed_for(tmp_path):
    (tmp_path / "pass.txt").write_text("amber otter violin lamp\n")
    env = {"REFUGE_PASSPHRASE_FILE": str(tmp_path / "pass.txt")}
    p = _refuge(tmp_path, "init", str(tmp_path / "vault"), "--admin", "alice", "--org", "Fictional Legal Clinic", **env)
    assert p.returncode == 0, p.stderr
    p = _refuge(tmp_path, "org", "set", "name=Other Clinic", "counsel=Jane Counsel", **env)
    assert p.returncode == 0 and p.stdout == b"set counsel, name\n"
    assert _error(p) == ("refuge: warning: packets are signed for Fictional Legal Clinic (the signing certificate); "
                         "builds stop until the two names agree: make a key for this name (refuge keys org generate "
                         "--name ORG, for a pilot) or import a certificate issued to it (refuge keys org import)")
    p = _refuge(tmp_path, "org", "set", "name=fictional legal clinic", **env)  # the same name, as builds compare them
    assert p.returncode == 0 and p.stderr == b""


# --- who acts -----------------------------------------------------------------------------------


@LOCAL
def test_with_several_identities_and_none_chosen_the_error_lists_them(world):
    p = world.run("case", "list")
    assert (p.returncode, _error(p)) == (1, "refuge: error: which identity acts? set REFUGE_USER or use refuge --as "
                                            "NAME (identities here: alice, bob, carol, dave, erin)")


@LOCAL
def test_a_mistyped_identity_is_named_before_any_passphrase_is_asked_for(world):
    for args in (("case", "list"), ("unlock",)):
        p = world.run("--as", "erinn", *args, REFUGE_PASSPHRASE="")  # no passphrase, no terminal: not asked for
        assert (p.returncode, _error(p)) == (1, "refuge: error: no identity named erinn in REFUGE_HOME (identities "
                                                "here: alice, bob, carol, dave, erin); set REFUGE_HOME or REFUGE_USER")


@LOCAL
def test_a_role_refusal_says_who_may_do_it(world):
    p = world.run("case", "create", "MX-0009", user="alice")
    assert p.returncode == 4
    assert _error(p) == ("refuge: error: creating cases needs the case-lead role; alice is admin; someone who holds "
                         "it must do it (refuge user list shows each person's role)")
    assert "MX-0009" not in world.ok("case", "list", user="erin")


@LOCAL
def test_audit_log_of_a_mistyped_name_is_an_error_and_of_an_idle_person_is_empty(world):
    p = world.run("audit", "log", "--user", "carl", user="dave")
    assert p.returncode == 1
    assert _error(p) == "refuge: error: no user named carl in this vault; see refuge user list"
    assert world.ok("audit", "log", "--user", "carol", "--json", user="dave") == "[]\n"  # enrolled, did nothing


@LOCAL
def test_audit_log_of_a_mistyped_action_says_which_actions_the_entries_hold(world):
    """An auditor who types doc.gte must not read "(none)" as "nobody read a document"."""
    world.ok("user", "list", user="alice")
    p = world.run("audit", "log", "--action", "user.lst", user="dave")
    assert p.returncode == 0 and p.stdout.decode() == "(none)\n", p.stdout
    warning = p.stderr.decode().strip()
    assert warning.startswith("refuge: warning: no entry has an action named user.lst or in its group; "
                              "the entries asked for hold: ") and "user.list" in warning, warning
    for found in ("user.list", "user"):  # an action, or its group
        p = world.run("audit", "log", "--action", found, "--json", user="dave")
        assert p.returncode == 0 and json.loads(p.stdout) and not p.stderr, p.stderr


@LOCAL
def test_an_unknown_document_points_to_the_list_of_its_case(case_world):
    p = case_world.run("doc", "tag", "zzzzzzzz", "--add", "urgent", user="bob")
    assert (p.returncode, _error(p)) == (1, "refuge: error: no document zzzzzzzz; see refuge doc list REF")


# --- recipients, plans and builds ------------------------------------------------------------


@LOCAL
def test_a_mistyped_recipient_is_pointed_to_the_near_one_and_nothing_is_recorded(case_world):
    w = case_world
    p = w.run("consent", "grant", "MX-0001", "--recipient", "unhcr-resetlement", user="erin")
    assert p.returncode == 1
    assert _error(p) == "refuge: error: no recipient profile unhcr-resetlement; did you mean \"unhcr-resettlement\"?"
    p = w.run("consent", "grant", "MX-0001", "--recipient", "nowhere", user="erin")
    assert _error(p) == "refuge: error: no recipient profile nowhere; see refuge packet profiles"
    assert json.loads(w.ok("consent", "list", "MX-0001", "--json", user="erin")) == []


@LOCAL
def test_a_consent_recorded_as_already_ended_is_pointed_out(case_world):
    p = case_world.run("consent", "grant", "MX-0001", "--recipient", "ccvt-intake", "--expires", "2000-01-01",
                       user="erin")
    assert p.returncode == 0 and p.stdout == b"recorded consent for ccvt-intake until 2000-01-01\n"
    assert _error(p) == ("refuge: warning: that consent ended on 2000-01-01, before today: it lets nothing be sent; "
                         "record it again with the right --expires")
    p = case_world.run("consent", "grant", "MX-0001", "--recipient", "ccvt-intake", "--expires", "2999-12-31",
                       user="erin")
    assert p.returncode == 0 and p.stderr == b""


@LOCAL
def test_plan_says_why_the_case_s_own_document_does_not_count_and_whom_the_recipient_sees(case_world, tmp_path):
    w = case_world
    (tmp_path / "name.txt").write_text("Mariela Quintero Ruiz\n")
    w.ok("person", "add", "MX-0001", f"@{tmp_path / 'name.txt'}", "--role", "principal", user="erin")
    out = w.ok("packet", "plan", "MX-0001", "--for", "frontline-defenders", user="erin").splitlines()
    assert ("missing: a document of type legal-declaration, which frontline-defenders requires; the case holds 1 "
            "document of that type, left out: no valid consent (missing); record it with refuge consent grant "
            "MX-0001 --recipient frontline-defenders") in out
    assert ("shown to frontline-defenders: 1 applicant-name registered (it withholds only identity-number, location, "
            "contact, third-party, network); refuge person edit or place edit with --category always withholds one "
            "from every recipient") in out
    assert ("gap: network (a defender's colleagues, sources and partner organisations): nothing covers it: no entry "
            "registered and no redaction term") in out  # the category's meaning, in words
    assert ("the build stops on these gaps unless each is covered (refuge person add, refuge place add, refuge redact "
            "term --category NAME) or accepted: --accept-gap NAME --reason TEXT") in out


def test_the_profiles_list_says_what_each_recipient_withholds():
    import tomllib

    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "packet", "profiles", "--json"], capture_output=True)
    listed = {row["id"]: row["withholds"] for row in json.loads(p.stdout)}
    on_disk = {t.stem: tomllib.loads(t.read_text())["redaction_categories"] for t in (ROOT / "templates").glob("*.toml")}
    assert listed == on_disk and listed["irb-rpd-disclosure"] == ["location", "contact"]


@LOCAL
def test_an_incomplete_packet_names_the_command_that_adds_what_it_lacks(case_world, tmp_path):
    w = case_world
    w.ok("consent", "grant", "MX-0001", "--recipient", "ircc-resettlement", user="erin")
    p = w.run("packet", "build", "MX-0001", "--for", "ircc-resettlement", "-o", str(tmp_path / "p.pdf"), user="erin")
    assert p.returncode == 1
    line = _error(p)
    assert line.startswith("refuge: error: the packet for ircc-resettlement lacks a document of type identity")
    assert line.endswith("; add them (refuge doc add REF FILE --type TYPE), or build with --allow-incomplete")
    assert not list(tmp_path.glob("p*.pdf"))


def test_verify_without_trust_says_where_the_certificate_comes_from(tmp_path):
    from signing_fixtures import org_key, pdf_bytes

    from packets.sign import sign_pdf

    key, _ = org_key("Fictional Legal Clinic")
    (tmp_path / "packet.pdf").write_bytes(sign_pdf(pdf_bytes(1), key, signer_name="erin", visible=False))
    p = _refuge(tmp_path, "packet", "verify", str(tmp_path / "packet.pdf"))
    assert p.returncode == 3
    assert _error(p) == ("refuge: error: the packet does not verify: no trusted certificate was given; pass the "
                         "sender's certificate with --trust FILE (senders hand it out with refuge keys org cert -o FILE)")


# --- names kept off the command line ---------------------------------------------------------


WARNED = ("refuge: warning: a name or note typed as an argument is visible to every user of this machine while the "
          "command runs, and stays in your shell history; next time read it from a file (@FILE, @- or --from-file, "
          "as the command's --help says)")


def _at_a_terminal(w, *args: str, user: str) -> tuple[int, str]:
    """Run refuge as a person at a terminal does (standard input and error a pseudo-terminal); its exit code and
    what the terminal showed of standard error."""
    import pty

    leader, follower = pty.openpty()
    p = subprocess.Popen([sys.executable, "-P", "-m", "refuge", *args], env=w.env(user), cwd=w.root,
                         stdin=follower, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal is gone once the command has ended and all it wrote was read
            break
        if not chunk:
            break
        shown += chunk
    p.wait(timeout=60)
    os.close(leader)
    return p.returncode, shown.decode().replace("\r\n", "\n").strip()


@LOCAL
def test_a_secret_typed_as_an_argument_is_pointed_out_at_a_terminal_only(case_world, tmp_path):
    w = case_world
    assert _at_a_terminal(w, "person", "add", "MX-0001", "Lucia Quintero", "--role", "family", "--alias", "La Nina",
                          user="erin") == (0, WARNED)  # once, however many were typed
    assert _at_a_terminal(w, "redact", "term", "MX-0001", "Colonia San Rafael", "--category", "location",
                          user="erin") == (0, WARNED)
    (tmp_path / "terms.txt").write_text("Tegucigalpa\n")
    assert _at_a_terminal(w, "redact", "term", "MX-0001", "--from-file", str(tmp_path / "terms.txt"), "--category",
                          "location", user="erin") == (0, "")
    p = w.run("person", "add", "MX-0001", "Octavio Salgado", "--role", "perpetrator", user="erin")
    assert p.returncode == 0 and p.stderr == b""  # a script's standard error stays as it was


@LOCAL
def test_aliases_and_document_numbers_read_from_a_file_as_their_help_says(case_world, tmp_path):
    w = case_world
    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "person", "add", "--help"], capture_output=True, text=True)
    assert re.sub(r"\s+", " ", p.stdout).count("Give @FILE (or @- for standard input) to keep it off the command line") == 2
    (tmp_path / "alias.txt").write_text("La Flaca\n")
    (tmp_path / "number.txt").write_text("HN-4411-0021\n")
    (tmp_path / "name.txt").write_text("Mariela Quintero Ruiz\n")
    w.ok("person", "add", "MX-0001", f"@{tmp_path / 'name.txt'}", "--role", "principal",
         "--alias", f"@{tmp_path / 'alias.txt'}", "--doc-number", f"@{tmp_path / 'number.txt'}", user="bob")
    [person] = json.loads(w.ok("person", "list", "MX-0001", "--json", user="bob"))
    assert (person["name"], person["aliases"], person["doc_numbers"]) == ("Mariela Quintero Ruiz", ["La Flaca"],
                                                                          ["HN-4411-0021"])


def _make_variable(name: str) -> set[str]:
    """The words a Makefile variable is given (``:=`` and ``+=`` lines), other variables expanded."""
    words: list[str] = []
    for m in re.finditer(rf"(?m)^{name}\s*(?::=|\+=)(.*)$", (ROOT / "Makefile").read_text()):
        for word in m.group(1).split():
            inner = re.fullmatch(r"\$\((\w+)\)", word)
            words += _make_variable(inner.group(1)) if inner else [word]
    return set(words)


def test_make_demo_installs_what_every_build_needs():
    """`make demo` builds a packet, whose every page is read back by Tesseract: the packages the missing-Tesseract
    message asks for are among the demo's, as the README says."""
    source = (ROOT / "packets" / "ocr.py").read_text()
    asked = set(re.findall(r"\btesseract-ocr(?:-[a-z]+)?\b", source))
    assert {"tesseract-ocr", "tesseract-ocr-eng"} <= asked
    assert asked | {"libmagic1"} <= _make_variable("DEMO_DEBS") <= _make_variable("TEST_DEBS")
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "`make demo` installs `libmagic1` and Tesseract (`tesseract-ocr` with its `eng`, `spa` and `fra` data" in readme
