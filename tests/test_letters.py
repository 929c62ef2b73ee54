"""Case details, organisation details and the letters made from them (issue 18).

Attacks are written as an insider would: events signed with the attacker's own key and put
into the storage directly. Letters are read back with pdftotext, not with our own parser.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest
from reportlab.lib.pagesizes import letter

from conftest import ACCEPT_GAPS, derived_world, require_tool
from packets.assemble import build
from packets.model import Item, PacketRequest
from packets.profiles import get_profile, load_profiles
from test_render import make_pdf
from vault import age
from vault.events import canonical, now, sign_record

pytestmark = pytest.mark.s3_in_stress("case fields, organisation details and the letters' rules")

IRB = "irb-rpd-disclosure"
IRB_NUMBER = "TB1-12345"


def _text(data_or_path, first: int | None = None, last: int | None = None) -> str:
    args = [require_tool("pdftotext"), "-layout"]
    if first:
        args += ["-f", str(first), "-l", str(last or first)]
    if isinstance(data_or_path, bytes):
        return subprocess.run(args + ["-", "-"], input=data_or_path, capture_output=True, check=True).stdout.decode()
    return subprocess.run(args + [str(data_or_path), "-"], capture_output=True, check=True).stdout.decode()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _case_id(w) -> str:
    return w.decl.partition("-")[0]


@pytest.fixture
def letters_world(keyed_world, request):
    """The case with a signing key, the organisation's details and consent for every profile."""
    # Made once per session and backend, then copied (tests/conftest.py derived_world).
    return derived_world(request, keyed_world, "test_letters", _details_and_consents)


def _details_and_consents(w) -> dict:
    w.ok("org", "set", "name=Fictional Legal Clinic", "address=12 Example Street, Toronto ON",
         "contact=+1 416 555 0100, intake@clinic.example", "counsel=Jane Counsel", user="alice")
    passport = w.ok("doc", "add", "MX-0001", str(w.docs["passport"]), "--type", "identity", user="bob").strip()
    w.ok("redact", "reviewed", passport, "--page", "1", user="erin")  # shipped profiles hold unread pages for review
    # Consent for each profile through the library call and audit entry of `consent grant`, in this
    # process (one CLI process less per profile; tests/test_doc_lifecycle.py and others run the command).
    erin = w.open("erin")
    for profile in load_profiles():
        with erin.audited("consent.grant") as targets:
            case = erin.find_case("MX-0001")
            targets["case"] = case.id
            erin.record_consent(case, "granted", profile, [], None, "")
    return {}


# --- case details ----------------------------------------------------------------------------


def test_case_fields_are_checked_set_and_shown(case_world):
    w = case_world
    for bad, word in (("uci=12ab", b"uci"), ("irb_file_number=12345", b"TB1-12345"),
                      ("hearing_date=next week", b"YYYY-MM-DD"), ("uci", b"FIELD=VALUE")):
        p = w.run("case", "set", "MX-0001", bad, user="erin")
        assert p.returncode == 1 and word in p.stderr, (bad, p.stderr)
    p = w.run("case", "set", "MX-0001", "favourite_colour=blue", user="erin")
    assert p.returncode == 1 and b"unknown field favourite_colour" in p.stderr and b"irb_file_number" in p.stderr
    w.ok("case", "set", "MX-0001", "client_name=M. L.", "uci=1234-5678", f"irb-file-number={IRB_NUMBER.lower()}",
         "hearing_date=2027-03-01", user="erin")
    shown = json.loads(w.ok("case", "show", "MX-0001", "--json", user="bob"))
    assert shown["fields"] == {"client_name": "M. L.", "uci": "12345678", "irb_file_number": IRB_NUMBER,
                               "hearing_date": "2027-03-01"}
    w.ok("case", "set", "MX-0001", "uci=", user="erin")  # an empty value clears the field
    assert "uci" not in json.loads(w.ok("case", "show", "MX-0001", "--json", user="erin"))["fields"]
    assert "client_name: M. L." in w.ok("case", "show", "MX-0001", user="erin")
    # Values stay in the encrypted case: not in the audit log, not in any object name.
    log = w.ok("audit", "log", "--json", user="dave")
    assert "M. L." not in log and IRB_NUMBER not in log and '"case.set"' in log
    assert not any(IRB_NUMBER in name or "M. L." in name for name in w.object_names())


def test_the_vault_and_the_profiles_know_the_same_fields():
    from packets.profiles import CASE_FIELDS
    from vault.casefields import KNOWN

    assert tuple(KNOWN) == CASE_FIELDS


def test_a_field_a_profile_names_may_be_set(case_world, tmp_path):
    """A deployment's profile may require a field refuge does not know; only then may a case hold it."""
    import shutil

    from packets.profiles import default_templates_dir

    folder = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), folder)
    src = (folder / "ccvt-intake.toml").read_text(encoding="utf-8")
    (folder / "ccvt-intake.toml").write_text(src.replace('\n[cover]\n', '\nrequires_fields = ["intake_number"]\n[cover]\n', 1),
                                            encoding="utf-8")
    p = case_world.run("case", "set", "MX-0001", "intake_number=CC-77", user="erin")
    assert p.returncode == 1 and b"unknown field intake_number" in p.stderr
    p = case_world.run("case", "set", "MX-0001", "intake_number=CC-77", user="erin", REFUGE_TEMPLATES=str(folder))
    assert p.returncode == 0, p.stderr
    assert json.loads(case_world.ok("case", "show", "MX-0001", "--json", user="erin"))["fields"] == {
        "intake_number": "CC-77"}


def test_a_lawyer_cannot_set_case_fields(case_world):
    p = case_world.run("case", "set", "MX-0001", "client_name=X", user="bob")
    assert p.returncode == 4 and b"case-lead" in p.stderr


def test_case_fields_planted_by_a_lawyer_member_are_refused_on_read(case_world):
    """bob, a lawyer member, signs a case.fields event with the case key he holds and writes it
    to the storage: every reader refuses the case (exit 3) and fsck reports it."""
    w = case_world
    bob = w.open("bob")
    cid = _case_id(w)
    case = bob.load_case(cid)
    identity = bob._case_identities(cid)[case.key_version]
    record = sign_record(bob.me, {"seq": case.last_seq + 1, "prev": case.last_digest, "type": "case.fields",
                                  "time": now(), "data": {"set": {"irb_file_number": "TB9-99999"}, "unset": []},
                                  "case": cid, "dir": bob.directory.last_seq})
    w.storage().put(f"cases/{cid}/events/{case.last_seq + 1:08d}", age.encrypt_bytes([identity.recipient], canonical(record)))
    p = w.run("case", "show", "MX-0001", "--json", user="erin")
    assert p.returncode == 3 and b"case.fields" in p.stderr and b"lawyer" in p.stderr and b"TB9" not in p.stdout
    p = w.run("fsck", "--json", user="erin")
    assert p.returncode != 0 and any(pr["kind"] == "broken" for pr in json.loads(p.stdout)["problems"])


# --- organisation details --------------------------------------------------------------------


def test_org_details_are_an_admins(case_world):
    w = case_world
    p = w.run("org", "set", "name=Evil Twin Clinic", user="erin")
    assert p.returncode == 4 and b"admin" in p.stderr
    p = w.run("org", "set", "motto=x", user="alice")
    assert p.returncode == 1 and b"unknown detail motto" in p.stderr
    w.ok("org", "set", "name=Fictional Legal Clinic", "counsel=Jane Counsel", user="alice")
    assert json.loads(w.ok("org", "show", "--json", user="erin")) == {"name": "Fictional Legal Clinic",
                                                                       "counsel": "Jane Counsel"}
    assert "Jane Counsel" not in w.ok("audit", "log", "--json", user="dave")


def test_org_details_planted_by_a_case_lead_are_refused_on_read(case_world):
    """erin (a case lead, enrolled: she holds the directory key) signs an org.details directory
    event naming another organisation and writes it to the storage: every reader refuses it."""
    w = case_world
    w.ok("org", "set", "name=Fictional Legal Clinic", user="alice")
    erin = w.open("erin")
    d = erin.directory
    record = sign_record(erin.me, {"seq": d.last_seq + 1, "prev": d.last_digest, "type": "org.details",
                                   "time": now(), "data": {"fields": {"name": "Evil Twin Clinic"}}})
    w.storage().put(f"directory/events/{d.last_seq + 1:08d}",
                    age.encrypt_bytes([erin._dir_identity.recipient], canonical(record)))
    for user in ("alice", "bob"):
        p = w.run("org", "show", "--json", user=user)
        assert p.returncode == 3 and b"not signed by an enrolled admin" in p.stderr and b"Evil" not in p.stdout


# --- letters ---------------------------------------------------------------------------------


LETTER = {"sender": "Fictional Legal Clinic",
          "org": {"address": "12 Example Street, Toronto ON", "contact": "intake@clinic.example, +1 416 555 0100",
                  "counsel": "Jane Counsel"},
          "fields": {"client_name": "M. L.", "irb_file_number": IRB_NUMBER, "uci": "12345678",
                     "unhcr_case_number": "123-21C01234"}}
# IRB accepts English and French; the Spanish letter is the human rights defenders referral's.
PROFILE_FOR = {"en": IRB, "fr": IRB, "es": "ircc-hrd-stream"}
EXPECTED = {
    "en": ["Re: Client: M. L.", "IRB file number: TB1-12345", "UCI: 1234-5678", "Enclosures (2): Identity document (1);",
           "Please direct any question about this letter to Jane Counsel, Fictional Legal Clinic "
           "(intake@clinic.example, +1 416 555 0100).",
           "Yours sincerely,", "Counsel of record", "12 Example Street, Toronto ON"],
    "fr": ["Objet : Client(e) : M. L.", "Numéro de dossier de la CISR : TB1-12345", "IUC : 1234-5678",
           "Pièces jointes (2) : Pièce d'identité (1) ;", "veuillez communiquer avec Jane Counsel, Fictional Legal Clinic",
           "Conseil inscrit au dossier"],
    "es": ["Ref.: Cliente: M. L.", "Número de caso del ACNUR: 123-21C01234", "a M. L. a la vía canadiense",
           "Anexos (2): Documento de identidad (1);", "comuníquese con Jane Counsel, Fictional Legal Clinic",
           "Atentamente,"],
}


def _items() -> list[Item]:
    return [Item("id-0001", "Passport", "identity", "2026-10-01", "application/pdf", make_pdf(1, letter, label="id")),
            Item("decl-0002", "Statement", "legal-declaration", "2026-10-02", "application/pdf",
                 make_pdf(1, letter, label="decl"))]


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_letters_carry_the_case_and_org_details_in_each_language(lang):
    request = PacketRequest(profile=get_profile(PROFILE_FOR[lang]), items=_items(), sender_org="", date="2026-11-23", lang=lang,
                            letter=LETTER)
    [volume] = build(request)
    cover = _flat(_text(volume.data, 1))
    for words in EXPECTED[lang]:
        assert words in cover, (lang, words, cover)
    assert "Fictional Legal Clinic" in cover and "Jane Counsel" in cover
    assert "Intake@" not in cover  # the letterhead's contact line is shown as written


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_a_letter_without_a_sender_reads_as_sentences(lang):
    """No sender configured: no paragraph starts in lower case, and no empty part leaves a gap."""
    for pid in ("irb-rpd-disclosure", "unhcr-resettlement", "frontline-defenders", "ccvt-intake"):
        profile = get_profile(pid)
        if lang not in profile.accepted_languages:
            continue
        [volume] = build(PacketRequest(profile=profile, items=_items(), sender_org="", date="2026-11-23", lang=lang))
        cover = _text(volume.data, 1)
        lines = [ln.strip() for ln in cover.splitlines() if ln.strip()]
        assert "{" not in cover and "}" not in cover
        starts = [ln for ln in lines if ln[0].islower()]
        # a wrapped line may start in lower case; the sender never starts one on its own
        assert not any(ln.startswith(("the referring", "l'équipe", "el equipo")) for ln in starts), (pid, lang, starts)
        if pid == "unhcr-resettlement" and lang == "en":  # its letter begins "{sender_org} refers ..."
            assert "The referring legal team refers the enclosed file" in _flat(cover)


def test_a_profile_cover_using_a_field_must_require_it(tmp_path):
    src = get_profile("ircc-trafficking-trp").path.read_text(encoding="utf-8")
    broken = src.replace('requires_fields = ["client_name"]', "requires_fields = []")
    path = tmp_path / "ircc-trafficking-trp.toml"
    path.write_text(broken, encoding="utf-8")
    from packets.profiles import ProfileError, load_profile

    with pytest.raises(ProfileError, match=r"uses \{client_name\} but requires_fields does not list it"):
        load_profile(path)


# --- building: IRB naming, service, deadlines, required fields -----------------------------------


@pytest.mark.packet_content("what the build makes of the documents")
def test_irb_build_is_named_by_rule_and_carries_the_service_statement(letters_world, tmp_path):
    w = letters_world
    out = tmp_path / "out"
    out.mkdir()
    assert "note: the file name rule of irb-rpd-disclosure needs the case's irb_file_number" in w.ok(
        "packet", "plan", "MX-0001", "--for", IRB, user="erin")
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", IRB, "-o", str(out), user="erin")
    assert p.returncode == 4 and b"irb_file_number" in p.stderr and b"refuge case set" in p.stderr
    assert not list(out.iterdir())
    w.ok("case", "set", "MX-0001", "client_name=M. L.", f"irb_file_number={IRB_NUMBER}", user="erin")
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", IRB, "-o", str(out), "--served-on", "Minister's counsel",
              "--served-by", "email", "--served-at", "2026-11-20", user="erin")
    assert p.returncode == 0, p.stderr
    made = out / "TB1-12345 – RPD – Disclosure.pdf"
    assert made.is_file() and p.stdout.decode().strip() == str(made)
    text = _flat(_text(made))
    assert "Re: Client: M. L." in text and "IRB file number: TB1-12345" in text
    assert "Statement of service (Refugee Protection Division Rules, rule 34)" in text
    assert ("I, Jane Counsel, of Fictional Legal Clinic, state that on 2026-11-20 I provided a copy of this "
            "disclosure of 2 documents") in text and "to Minister's counsel by e-mail." in text
    # the statement has a page of its own, right after the letter
    assert "Statement of service" not in _text(made, 1) and "Statement of service" in _text(made, 2)
    log = w.ok("audit", "log", "--json", user="dave")
    assert IRB_NUMBER not in log and "M. L." not in log


def test_served_options_are_checked(letters_world, tmp_path):
    w = letters_world
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", IRB, "-o", str(tmp_path / "x.pdf"), "--served-on", "Minister",
              user="erin")
    assert p.returncode == 1 and b"--served-by" in p.stderr
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", IRB, "-o", str(tmp_path / "x.pdf"), "--served-on", "Minister",
              "--served-by", "pigeon", "--served-at", "2026-11-20", user="erin")
    assert p.returncode == 1 and b"pigeon" in p.stderr and not (tmp_path / "x.pdf").exists()
    w.ok("case", "set", "MX-0001", "other_party=the Minister's counsel", user="erin")  # --served-on's default
    w.ok("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", IRB, "-o", str(tmp_path / "x.pdf"), "--served-by", "registered-mail",
         "--served-at", "2026-11-20", user="erin")
    assert "to the Minister's counsel by registered mail." in _flat(_text(tmp_path / "x.pdf", 2))


@pytest.mark.packet_content("what the build makes of the documents")
def test_plan_warns_when_the_hearing_is_less_than_ten_days_away(letters_world):
    w = letters_world
    today = dt.date.today()
    hearing = today + dt.timedelta(days=7)
    w.ok("case", "set", "MX-0001", f"hearing_date={hearing.isoformat()}", user="erin")
    out = w.ok("packet", "plan", "MX-0001", "--for", IRB, user="erin")
    due = (hearing - dt.timedelta(days=10)).isoformat()
    assert f"warning: the hearing is on {hearing.isoformat()}, 7 days away" in out and f"by {due}" in out
    reply = json.loads(w.ok("packet", "plan", "MX-0001", "--for", IRB, "--reply", "--json", user="erin"))["deadline"]
    assert reply == {"hearing_date": hearing.isoformat(), "days": 5, "reply": True, "days_to_hearing": 7,
                     "receive_by": (hearing - dt.timedelta(days=5)).isoformat(), "late": False}
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", IRB, "-o", str(w.root / "late.pdf"), user="erin")
    assert p.returncode == 0 and f"had to be received by {due}".encode() in p.stderr
    w.ok("case", "set", "MX-0001", f"hearing_date={(today + dt.timedelta(days=30)).isoformat()}", user="erin")
    out = w.ok("packet", "plan", "MX-0001", "--for", IRB, user="erin")
    assert "warning" not in out and "deadline: documents must be received by" in out


def test_a_missing_required_field_stops_the_build_with_exit_4(letters_world, tmp_path):
    w = letters_world
    pid = "ircc-trafficking-trp"
    plan = w.ok("packet", "plan", "MX-0001", "--for", pid, user="erin")
    assert "missing: the case's client_name" in plan and "refuge case set MX-0001 client_name=VALUE" in plan
    assert json.loads(w.ok("packet", "plan", "MX-0001", "--for", pid, "--json", user="erin"))["missing_fields"] == [
        "client_name"]
    out = tmp_path / "trp.pdf"
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", pid, "-o", str(out), user="erin")
    assert p.returncode == 4 and b"client_name" in p.stderr and b"refuge case set" in p.stderr and not out.exists()


def test_a_profile_requiring_a_sender_stops_without_one(letters_world, tmp_path):
    w = letters_world
    w.ok("case", "set", "MX-0001", "client_name=M. L.", user="erin")
    w.ok("org", "set", "name=", user="alice")
    out = tmp_path / "trp.pdf"
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "ircc-trafficking-trp", "-o", str(out), user="erin")
    assert p.returncode == 4 and b"needs a sender" in p.stderr and b"refuge org set" in p.stderr and not out.exists()
    w.ok("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "ircc-trafficking-trp", "-o", str(out), "--from", "Shelter Network",
         user="erin")
    assert "Shelter Network" in _flat(_text(out, 1))


@pytest.mark.packet_content("what the build makes of the documents")
def test_new_profiles_build(letters_world, tmp_path):
    """Each new profile builds from the same case (one world for both)."""
    w = letters_world
    w.ok("case", "set", "MX-0001", "client_name=M. L.", "unhcr_case_number=123-21C01234", user="erin")
    for pid in ("ircc-trafficking-trp", "ircc-hrd-stream"):
        out = tmp_path / f"{pid}.pdf"
        w.ok("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", pid, "-o", str(out), user="erin")
        cover = _flat(_text(out, 1))
        assert "M. L." in cover and "Fictional Legal Clinic" in cover and "Jane Counsel" in cover, pid
        if pid == "ircc-hrd-stream":
            assert "UNHCR case number: 123-21C01234" in cover and "Front Line Defenders" in cover
        else:
            assert "at least 12 months" in cover and "UNHCR" not in cover  # the profile does not name that reference
        verify = subprocess.run([require_tool("qpdf"), "--check", str(out)], capture_output=True)
        assert verify.returncode == 0, pid


def test_new_profiles_state_their_sources_and_protect_the_person():
    trp, hrd = get_profile("ircc-trafficking-trp"), get_profile("ircc-hrd-stream")
    for profile, source in ((trp, "protection-assistance-victims-human-trafficking"), (hrd, "human-rights-defenders")):
        assert source in profile.path.read_text(encoding="utf-8")  # its sources, in the comments
        assert profile.requires_fields == ("client_name",) and profile.requires_sender
        assert profile.flatten == "all" and {"location", "contact"} <= set(profile.redaction_categories)
        for lang in profile.accepted_languages:
            text = profile.cover_letter(lang, sender_org="Legal Clinic", date="2024-05-01", document_count=3,
                                        page_count=9, volume_count=1, client_name="M. L.")
            assert "M. L." in text and "{" not in text
    assert "third-party" in trp.redaction_categories and "title" not in trp.index.columns
    assert "12 months" in trp.cover.en and "fee" in trp.cover.en
    assert "ProtectDefenders.eu" in hrd.path.read_text(encoding="utf-8") and not hrd.signature.visible
    assert "protection-grant profile" in get_profile("frontline-defenders").path.read_text(encoding="utf-8")
