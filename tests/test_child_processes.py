"""What refuge hands the programs it starts: a day's work in a case, watched from inside.

Every Python process of the command (the command itself and each keyless worker it starts,
which get PYTHONPATH) loads a sitecustomize that records, through an audit hook, every program
it starts: its argument list, working folder and environment. A client's name in the file
names, titles and register, the case reference and the passphrase must reach none of them:
programs' arguments are visible to every local user (ps, /proc/PID/cmdline) and their
environments to whoever can read /proc/PID/environ.
"""

from __future__ import annotations

import json

import pytest

from conftest import ACCEPT_GAPS, PASSPHRASE

local = pytest.mark.parametrize("world", ["local"], indirect=True)  # the programs started do not depend on it

_SPY = """
import json, os, sys

def _spy(event, args):
    if event == "subprocess.Popen":
        exe, argv, cwd, env = args
    elif event in ("os.exec", "os.posix_spawn"):
        exe, argv, env, cwd = args[0], args[1], args[2], None
    else:
        return
    argv = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv or [])
    env = os.environ if env is None else env
    record = {"pid": os.getpid(), "argv": [os.fsdecode(a) for a in argv], "cwd": os.fsdecode(cwd) if cwd else None,
              "env": {os.fsdecode(k): os.fsdecode(v) for k, v in env.items()}}
    with open(os.path.join(os.path.dirname(__file__), "started.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\\n")

sys.addaudithook(_spy)
"""

CLIENT = "Lucía Hernández"


def _declaration(path):
    import docx

    d = docx.Document()
    d.add_paragraph(f"Declaración de {CLIENT}.")
    d.add_paragraph(f"Yo, {CLIENT}, salí de mi casa por las amenazas.")
    d.save(path)
    return path


@local
def test_no_program_refuge_starts_is_given_a_name_a_title_the_reference_or_the_passphrase(case_world, tmp_path):
    w = case_world
    spy = tmp_path / "spy"
    spy.mkdir()
    (spy / "sitecustomize.py").write_text(_SPY)
    log = spy / "started.jsonl"
    watched = {"PYTHONPATH": str(spy)}
    incoming = tmp_path / f"{CLIENT} expediente"
    incoming.mkdir()
    declaration = _declaration(incoming / f"{CLIENT} declaración.docx")
    photo = incoming / f"{CLIENT} pasaporte.jpg"
    photo.write_bytes(w.docs["passport"].read_bytes())

    def ok(*args, user):
        p = w.run(*args, user=user, **watched)
        assert p.returncode == 0, p.stderr.decode()
        return p.stdout.decode()

    ok("doc", "add", "MX-0001", str(declaration), "--type", "legal-declaration", "--title",
       f"Declaración jurada de {CLIENT}", user="bob")
    ok("doc", "add", "MX-0001", str(photo), "--type", "identity", user="bob")
    ok("person", "add", "MX-0001", CLIENT, "--role", "principal", user="erin")
    ok("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", user="erin")
    ok("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice")
    build = ("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "unhcr-resettlement", "--ocr", "--allow-incomplete",
             "-o", str(incoming / f"{CLIENT} paquete.pdf"))
    p = w.run(*build, user="erin", **watched)  # the photo's page: recognised, yet too little read to check the rules
    err = p.stderr.decode().splitlines()[-1]
    assert p.returncode == 4 and "recognition read too little" in err and "--ocr" not in err, err
    photo_id = json.loads(ok("doc", "list", "MX-0001", "--json", user="erin"))[-1]["id"]
    ok("redact", "reviewed", photo_id, "--page", "1", user="erin")
    ok(*build, user="erin")
    ok("search", "Hernández", user="erin")
    started = [json.loads(line) for line in log.read_text().splitlines()]
    programs = {r["argv"][0].rsplit("/", 1)[-1] for r in started}
    assert {"soffice", "python"} & {p.split(".")[0].rstrip("0123456789") for p in programs}, programs
    secrets = ["Lucía", "Hernández", "Lucia", "Hernandez", "jurada", "MX-0001", "expediente", PASSPHRASE]
    for r in started:
        seen = json.dumps(r, ensure_ascii=False)
        assert not [s for s in secrets if s in seen], (r["argv"], [s for s in secrets if s in seen])
        assert not [k for k in r["env"] if k.startswith(("REFUGE_", "AWS_"))], (r["argv"], sorted(r["env"]))
