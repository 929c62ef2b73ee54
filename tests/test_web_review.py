"""Regions drawn on a page, pages marked reviewed and a packet's review report, in the web desk, over HTTP.

Written the way a hurried user and an attacker work: a rectangle dragged on the preview (the fractions the
page's script sends), typed boxes off the page or of no size, forms without their token, a lawyer and a
non-member trying what is a case lead's, and the built packet read back with poppler and tesseract's own
tools, not refuge's.
"""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from conftest import require_tool
from test_web_support import WebWorld, client_for

SECRET, KEPT = "SECRETPLACE", "KEEPWORD"
GAPS = {"allow_incomplete": "1", "accept_gaps": "location, third-party, network, legal-strategy, faces",
        "gap_reason": "fictional case: nobody of these kinds"}


def _letter() -> bytes:
    """A text PDF: the secret alone on the first line, a word to keep far below it."""
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(612, 792), invariant=1)
    c.setFont("Helvetica", 28)
    c.drawString(72, 700, f"Hiding at {SECRET}")
    c.drawString(72, 380, f"Statement {KEPT} continues")
    c.showPage()
    c.save()
    return buf.getvalue()


def _scan() -> bytes:
    """A page with no text at all (a photographed form): only a person can review it."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (600, 800), 235)
    draw = ImageDraw.Draw(im)
    for y in range(80, 720, 90):
        draw.rectangle((60, y, 540, y + 40), outline=90, width=3)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = WebWorld(tmp_path_factory.mktemp("web"))
    assert w.cli("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice").returncode == 0
    folder = w.root / "fixtures"
    folder.mkdir()
    (folder / "letter.pdf").write_bytes(_letter())
    (folder / "scan.png").write_bytes(_scan())
    erin = w.open("erin")  # a case of its own: two documents, so that recognising and building stay quick
    erin.grant(erin.create_case("MX-0002", "Regions and reviews"), ["bob"])
    bob = w.open("bob")
    case = bob.find_case("MX-0002")
    w.case = case.id
    w.letter = bob.add_documents(case, [str(folder / "letter.pdf")], "legal-declaration")[0].document.id
    w.scan = bob.add_documents(case, [str(folder / "scan.png")], "civil-status")[0].document.id
    return w


@pytest.fixture(scope="module")
def erin(world):
    return client_for(world.desk("erin"))


@pytest.fixture(scope="module")
def bob(world):
    return client_for(world.desk("bob"))


@pytest.fixture(scope="module")
def carol(world):
    return client_for(world.desk("carol"))


def _cli_error(p: subprocess.CompletedProcess) -> str:
    lines = [x for x in p.stderr.decode().splitlines() if x.startswith("refuge: error: ")]
    assert len(lines) == 1, p.stderr
    return lines[0].removeprefix("refuge: error: ")


def _stored(world) -> list[str]:
    """Every object of the case in the storage, read raw (what a refusal must leave as it was)."""
    root = Path(world.location) / "cases" / world.case
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _dark_box(png: bytes, top: float, bottom: float) -> tuple[int, int, int, int, int, int]:
    """(x0, y0, x1, y1, width, height): the ink of the image's band between ``top`` and ``bottom`` (fractions)."""
    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("L")
    w, h = im.size
    band = im.crop((0, int(top * h), w, int(bottom * h))).point(lambda v: 255 if v < 100 else 0)
    x0, y0, x1, y1 = band.getbbox()
    return x0, y0 + int(top * h), x1, y1 + int(top * h), w, h


def _build(erin, world) -> str:
    r = erin.post(f"/case/{world.case}/packets", data={"csrf": erin.csrf, "profile": "unhcr-resettlement", **GAPS},
                  headers={"accept": "application/json"})
    assert r.status_code == 200, r.text
    job = r.json()["job"]
    for _ in range(600):
        state = erin.get(f"/job/{job}", headers={"accept": "application/json"}).json()
        if state["state"] != "running":
            break
        time.sleep(0.25)
    assert state["state"] == "done", state
    return state["packet"]


def _text(pdf: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        p = subprocess.run([require_tool("pdftotext"), "-layout", f.name, "-"], capture_output=True, text=True,
                           check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_pages_no_rule_could_search_are_listed_and_marked_reviewed(world, erin, bob):
    page = erin.get(f"/case/{world.case}/review", params={"profile": "unhcr-resettlement"})
    assert page.status_code == 200
    rows = set(re.findall(r'<tr data-doc="([^"]+)" data-page="(\d+)" class="needs"', page.text))
    assert (world.scan, "1") in rows and (world.letter, "1") not in rows  # the letter has text; the scan none
    assert f'id="reviewed-{world.scan}-1"' in page.text
    assert f'id="reviewed-{world.scan}-1"' not in bob.get(f"/case/{world.case}/review").text  # a lawyer: no button
    here = f"/case/{world.case}/review?profile=unhcr-resettlement&ocr=0"
    r = erin.post(f"/doc/{world.scan}/reviewed", data={"csrf": erin.csrf, "page": "1", "next": here})
    assert r.status_code == 303 and r.headers["location"] == erin.desk_prefix + here
    case = world.open("erin").find_case(world.case)
    reviews = [x for x in case.reviews if x["doc"] == world.scan]
    assert [(x["page"], x["version"]) for x in reviews] == [(1, case.documents[world.scan].version)]
    entry = [e for e in world.open("dave").audit_entries(user="erin") if e["action"] == "redact.reviewed"][-1]
    assert entry["result"] == "ok" and entry["doc"] == world.scan and entry["pages"] == [1]
    page = erin.get(here).text
    assert f'data-doc="{world.scan}" data-page="1" class="done"' in page and f'id="reviewed-{world.scan}-1"' not in page
    r = erin.post(f"/doc/{world.scan}/reviewed", data={"csrf": erin.csrf, "page": "7"},
                  headers={"accept": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == _cli_error(
        world.cli("redact", "reviewed", world.scan, "--page", "7", user="erin"))
    r = erin.post(f"/doc/{world.scan}/reviewed", data={"csrf": erin.csrf, "page": "1",
                                                       "next": "https://elsewhere.example/"})
    assert r.status_code == 303  # never an address elsewhere: back to the case's list
    assert r.headers["location"] == f"{erin.desk_prefix}/case/{world.case}/review"


def test_a_region_dragged_on_the_preview_is_blacked_out_of_the_built_packet(world, erin):
    _region_and_build(world, erin)


def _region_and_build(world, erin) -> None:
    """A region dragged on the letter's preview, then a build: the secret's line is gone from the packet.
    Sets world.packet and world.region (the report test uses them, on whichever xdist worker it runs)."""
    if not [x for x in world.open("erin").find_case(world.case).reviews if x["doc"] == world.scan]:
        # the scan has no text: reviewed (as the test above does in the page), or the build is held
        assert world.cli("redact", "reviewed", world.scan, "--page", "1", user="erin").returncode == 0
    page = erin.get(f"/doc/{world.letter}/regions?page=1")
    assert page.status_code == 200 and 'id="region-canvas"' in page.text and "regions.js" in page.text
    png = erin.get(f"/doc/{world.letter}/page/1").content
    # where the secret's line shows on the preview, found in its pixels, as a person's drag would cover it
    x0, y0, x1, y1, w, h = _dark_box(png, 0.0, 0.35)
    frac = f"{(x0 - 6) / w:.5f},{(y0 - 6) / h:.5f},{(x1 + 6) / w:.5f},{(y1 + 6) / h:.5f}"
    r = erin.post(f"/doc/{world.letter}/regions", data={"csrf": erin.csrf, "action": "add", "page": "1",
                                                        "frac": frac, "category": "always", "box": ""})
    assert r.status_code == 303 and r.headers["location"].endswith(f"/doc/{world.letter}/regions?page=1")
    rules = [x for x in world.open("erin").find_case(world.case).redactions if x.get("doc") == world.letter]
    assert [(x["kind"], x["page"], x["category"]) for x in rules] == [("region", 1, "always")]
    bx0, by0, bx1, by1 = rules[0]["box"]  # in the source page's points: the line drawn at y=700 in 28 pt
    assert bx0 < 72 and bx1 > 300 and 600 < by0 < 700 and by1 > 720, rules[0]["box"]
    entry = [e for e in world.open("dave").audit_entries(user="erin") if e["action"] == "redact.region"][-1]
    assert entry["result"] == "ok" and entry["doc"] == world.letter and SECRET not in str(entry)
    # the rule shows on the page, over the preview, and in the case's list like redact list shows it
    assert f'data-rule="{rules[0]["id"]}"' in erin.get(f"/doc/{world.letter}/regions?page=1").text
    assert rules[0]["id"] in erin.get(f"/case/{world.case}/redactions").text

    erin.post(f"/case/{world.case}/consent", data={"csrf": erin.csrf, "action": "grant",
                                                  "recipient": "unhcr-resettlement", "note": "form signed"})
    packet = _build(erin, world)
    text = _text(erin.get(f"/packet/{packet}/download").content)
    assert KEPT in text and SECRET not in text  # read back by pdftotext from the packet's (recognised) pages
    world.packet, world.region = packet, rules[0]["id"]


def test_the_review_report_of_a_build_is_viewable_from_the_packet_history(world, erin, bob, carol):
    if getattr(world, "packet", None) is None:  # the test above ran on another xdist worker (its own world)
        _region_and_build(world, erin)
    packet = world.packet
    history = erin.get(f"/case/{world.case}/packets").text
    assert f'href="{erin.desk_prefix}/packet/{packet}/review"' in history
    page = erin.get(f"/packet/{packet}/review")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f"/packet/{packet}/review/page/1" in page.text
    image = erin.get(f"/packet/{packet}/review/page/1")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    report = erin.get(f"/packet/{packet}/review.pdf").content
    text = _text(report)
    assert world.region in text and "always" in text and world.scan in text
    entries = [e for e in world.open("dave").audit_entries(user="erin") if e["action"] == "packet.review"]
    assert entries and entries[-1]["packet"] == packet and entries[-1]["result"] == "ok"
    # the same report the CLI build writes beside the packet is the one kept: the CLI reads it back too
    out = world.root / "report.pdf"
    p = world.cli("packet", "review", packet, "-o", str(out), user="erin")
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == report
    # a non-member cannot reach it, by page or by address
    r = carol.get(f"/packet/{packet}/review.pdf", headers={"accept": "application/json"})
    assert r.status_code == 403 and r.json()["error"] == _cli_error(
        world.cli("packet", "review", packet, "-o", str(world.root / "carol.pdf"), user="carol"))
    assert not (world.root / "carol.pdf").exists()
    # the report's blob is one the vault accounts for; one rewritten in the storage is refused, not shown
    fsck = world.cli("fsck", "--json", user="erin")
    assert fsck.returncode == 0, fsck.stdout
    [record] = [x for x in world.open("erin").find_case(world.case).packets if x["id"] == packet]
    blob = Path(world.location) / "cases" / world.case / "blobs" / record["review"]["blob"]
    blob.chmod(0o600)
    blob.write_bytes(blob.read_bytes()[:-40] + bytes(40))
    r = erin.get(f"/packet/{packet}/review.pdf", headers={"accept": "application/json"})
    assert r.status_code == 409 and r.json()["error"] == f"the review report of packet {packet} does not decrypt: it was altered"


def test_a_region_off_the_page_or_of_no_size_is_refused_with_the_cli_line_and_nothing_written(world, erin):
    before = _stored(world)
    cases = [("700,800,900,900", None), ("100,100,100,300", None), (None, "0.3,0.3,0.3,0.3"),
             (None, "0.0,0.0,0.05,0.05")]  # the last: a drag wholly in the margin around the document
    lines = []
    for box, frac in cases:
        r = erin.post(f"/doc/{world.letter}/regions", data={"csrf": erin.csrf, "action": "add", "page": "1",
                                                            "box": box or "", "frac": frac or "", "category": "always"},
                      headers={"accept": "application/json"})
        assert r.status_code == 400, r.text
        assert "\n" not in r.json()["error"]
        lines.append(r.json()["error"])
    assert lines[0] == _cli_error(world.cli("redact", "region", world.letter, "--page", "1", "--box", cases[0][0],
                                            user="erin"))
    assert lines[1] == _cli_error(world.cli("redact", "region", world.letter, "--page", "1", "--box", cases[1][0],
                                            user="erin"))
    assert lines[0].startswith(f"the region 700,800,900,900 lies outside page 1 of {world.letter}")
    assert lines[1].startswith("a region needs a size") and lines[2].startswith("a region needs a size")
    assert "lies outside page 1" in lines[3]
    r = erin.post(f"/doc/{world.letter}/regions", data={"csrf": erin.csrf, "action": "add", "page": "2",
                                                        "box": "10,10,50,50"}, headers={"accept": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == _cli_error(
        world.cli("redact", "region", world.letter, "--page", "2", "--box", "10,10,50,50", user="erin"))
    assert _stored(world) == before  # no event, no blob: nothing written


def test_regions_and_reviews_refused_to_those_who_may_not(world, erin, bob, carol):
    before = _stored(world)
    # a form without the page's token: refused before any route runs
    r = erin.post(f"/doc/{world.letter}/regions", data={"action": "add", "page": "1", "box": "72,600,300,640"})
    assert r.status_code == 403
    r = erin.post(f"/doc/{world.scan}/reviewed", data={"csrf": "forged", "page": "1"})
    assert r.status_code == 403
    # a non-member: the CLI's own line
    r = carol.post(f"/doc/{world.letter}/regions", data={"csrf": carol.csrf, "action": "add", "page": "1",
                                                         "box": "72,600,300,640"}, headers={"accept": "application/json"})
    assert r.status_code == 403 and r.json()["error"] == _cli_error(
        world.cli("redact", "region", world.letter, "--page", "1", "--box", "72,600,300,640", user="carol"))
    assert "not a member" in r.json()["error"]
    r = carol.get(f"/doc/{world.letter}/regions", headers={"accept": "application/json"})
    assert r.status_code == 403
    # a lawyer may not mark a page reviewed (a case lead's, as every reader checks): the CLI's line, exit 4's 403
    r = bob.post(f"/doc/{world.scan}/reviewed", data={"csrf": bob.csrf, "page": "1"},
                 headers={"accept": "application/json"})
    assert r.status_code == 403 and r.json()["error"] == _cli_error(
        world.cli("redact", "reviewed", world.scan, "--page", "1", user="bob"))
    # nor remove a rule of another document through this document's page
    r = erin.post(f"/doc/{world.scan}/regions", data={"csrf": erin.csrf, "action": "remove",
                                                      "rule": getattr(world, "region", "r0"), "page": "1"},
                  headers={"accept": "application/json"})
    assert r.status_code == 400
    assert _stored(world) == before
    denied = [e for e in world.open("dave").audit_entries(user="bob") if e["action"] == "redact.reviewed"]
    assert denied[-1]["result"] == "denied"


def test_a_lawyer_adds_a_region_as_the_cli_lets_them_and_a_case_lead_removes_it(world, erin, bob):
    """Adding a region only hides more, so a lawyer member may (the readers' rule for redaction rules)."""
    r = bob.post(f"/doc/{world.letter}/regions", data={"csrf": bob.csrf, "action": "add", "page": "1",
                                                       "box": "72,370,200,400", "category": "always"},
                 headers={"accept": "application/json"})
    assert r.status_code == 200, r.text
    rule = r.json()["id"]
    assert r.json()["box"] == [72.0, 370.0, 200.0, 400.0]
    r = erin.post(f"/doc/{world.letter}/regions", data={"csrf": erin.csrf, "action": "remove", "rule": rule,
                                                        "page": "1"})
    assert r.status_code == 303
    assert rule not in {x["id"] for x in world.open("erin").find_case(world.case).redactions}
    entry = [e for e in world.open("dave").audit_entries(user="erin") if e["action"] == "redact.remove"][-1]
    assert entry["result"] == "ok"


def test_marking_a_page_reviewed_refuses_a_version_added_after_the_page_was_opened(world, erin):
    """The review page names the version the case lead looked at: a new version uploaded meanwhile
    must be reviewed again, not marked reviewed unseen."""
    bob = world.open("bob")
    case = bob.find_case(world.case)
    path = world.root / "fixtures" / "form.png"
    path.write_bytes(_scan())
    doc = bob.add_documents(case, [str(path)], "civil-status")[0].document.id
    page = erin.get(f"/case/{world.case}/review", params={"profile": "unhcr-resettlement"}).text
    form = re.search(rf'action="[^"]*/doc/{doc}/reviewed".*?</form>', page, re.S).group(0)
    seen = re.search(r'name="version" value="(\d+)"', form).group(1)
    from PIL import Image

    Image.new("L", (600, 800), 200).save(path, "PNG")  # a different image: its second version
    bob.add_documents(bob.find_case(world.case), [str(path)], "civil-status", supersedes=doc)
    before = _stored(world)
    r = erin.post(f"/doc/{doc}/reviewed", data={"csrf": erin.csrf, "page": "1", "version": seen},
                  headers={"accept": "application/json"})
    assert r.status_code == 400 and "newer version" in r.json()["error"]
    assert _stored(world) == before
    assert not [x for x in world.open("erin").find_case(world.case).reviews if x["doc"] == doc]
