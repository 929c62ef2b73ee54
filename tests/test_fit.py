"""Portal limits, per-type output and fitting images under the limit (issue #18), tried the
way a hurried user or an attacker would: big 300 dpi scans, an incompressible scan, images
hidden behind nested forms, profiles that lie about their portals.

Sizes are checked with the file system, resolutions with ``pdfimages -list`` (poppler),
pixels with ``pdftoppm``: tools refuge did not write.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

import fit_scans
from conftest import ACCEPT_GAPS, require_tool
from packets import _fit
from packets._portals import for_portal
from packets.assemble import AssembleError, build
from packets.model import Item, PacketRequest
from packets.profiles import ProfileError, get_profile, profile_from_dict

DATE = "2026-11-23"
IRCC = get_profile("ircc-resettlement")


def pdfimages(path) -> list[dict]:
    """Every image of a PDF as pdfimages -list reports it (width, height, enc, x-ppi, y-ppi)."""
    out = subprocess.run([require_tool("pdfimages"), "-list", str(path)], capture_output=True, check=True).stdout.decode()
    rows = []
    for line in out.splitlines()[2:]:
        f = line.split()
        rows.append({"page": int(f[0]), "width": int(f[3]), "height": int(f[4]), "color": f[5], "bpc": int(f[7]),
                     "enc": f[8], "x_ppi": int(f[12]), "y_ppi": int(f[13])})
    return rows


def render_gray(path, page: int = 1, dpi: int = 50) -> Image.Image:
    out = subprocess.run([require_tool("pdftoppm"), "-r", str(dpi), "-f", str(page), "-l", str(page), "-gray",
                          str(path)], capture_output=True, check=True).stdout
    return Image.open(io.BytesIO(out))


# --------------------------------------------------------------------------- fitting itself


def test_a_black_and_white_300_dpi_scan_becomes_1_bit_at_150_dpi_and_stays_legible(tmp_path):
    scan = fit_scans.text_scan(2)
    pdf = pikepdf.open(io.BytesIO(scan))
    before = len(scan)
    _fit.fit_pdf(pdf, _fit.Step(150, 75))
    out = tmp_path / "fitted.pdf"
    pdf.save(out)
    rows = pdfimages(out)
    assert len(rows) == 2 and all(r["bpc"] == 1 and r["enc"] in ("ccitt", "image") for r in rows)
    assert all(r["x_ppi"] <= 150 and r["y_ppi"] <= 150 for r in rows)
    assert out.stat().st_size < before / 10
    # ink is dark and paper light, as in the scan (CCITT's polarity is easy to get backwards)
    original, fitted = render_gray(io_file(tmp_path, scan)), render_gray(out)
    hist = fitted.histogram()
    assert sum(hist[:64]) > 0.005 * sum(hist) and sum(hist[192:]) > 0.8 * sum(hist)
    from PIL import ImageChops, ImageFilter

    def ink(im):
        return im.point(lambda v: 255 if v < 160 else 0)

    def outside(a, b):  # ink of a farther than a pixel from any ink of b, as a share of a's ink
        stray = ImageChops.subtract(ink(a), ink(b).filter(ImageFilter.MaxFilter(3))).histogram()[255]
        return stray / max(1, ink(a).histogram()[255])

    assert outside(fitted, original) < 0.05 and outside(original, fitted) < 0.05  # the ink is where it was


def io_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"in-{len(data)}.pdf"
    path.write_bytes(data)
    return path


def test_a_photograph_stays_a_colour_jpeg(tmp_path):
    """Fitting must not turn a photograph (an ID photo) into black and white."""
    gradient = Image.linear_gradient("L").resize((1200, 1600))
    photo = Image.merge("RGB", [gradient, gradient.rotate(90), gradient.transpose(Image.Transpose.FLIP_TOP_BOTTOM)])
    buf = io.BytesIO()
    photo.save(buf, "PDF", resolution=300.0)
    pdf = pikepdf.open(io.BytesIO(buf.getvalue()))
    _fit.fit_pdf(pdf, _fit.Step(150, 75))
    out = tmp_path / "photo.pdf"
    pdf.save(out)
    [row] = pdfimages(out)
    assert row["enc"] == "jpeg" and row["color"] == "rgb" and row["x_ppi"] <= 150


def test_an_image_drawn_small_through_nested_forms_is_measured_where_it_is_drawn(tmp_path):
    """A 600 x 600 image drawn one inch wide inside two forms, one scaled by half: 1200 dpi
    on the page, although each stream alone suggests less. Fitting finds the real figure."""
    im = Image.effect_noise((600, 600), 60).convert("RGB")
    pdf = pikepdf.new()
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95)
    image = pdf.make_stream(buf.getvalue(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=600,
                            Height=600, ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8,
                            Filter=pikepdf.Name.DCTDecode)
    inner = pdf.make_stream(b"q 144 0 0 144 0 0 cm /Im0 Do Q", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                            BBox=[0, 0, 200, 200], Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)))
    outer = pdf.make_stream(b"/Fx1 Do", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=[0, 0, 400, 400],
                            Matrix=[0.5, 0, 0, 0.5, 0, 0],
                            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fx1=inner)))
    page = pdf.add_blank_page(page_size=(612, 792))
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fx0=outer))
    page.obj.Contents = pdf.make_stream(b"q 1 0 0 1 100 100 cm /Fx0 Do Q")
    [(_img, dpi)] = _fit.drawn_images(pdf).values()
    assert round(dpi) == 600  # 600 px over 72 pt = 1 inch
    _fit.fit_pdf(pdf, _fit.Step(150, 75))
    out = tmp_path / "nested.pdf"
    pdf.save(out)
    [row] = pdfimages(out)
    assert row["width"] == 150 and row["x_ppi"] <= 151


def test_the_ladder_starts_at_the_recipients_resolution_and_never_goes_below_the_floor():
    assert _fit.steps(150)[0] == _fit.Step(150, 75)
    assert min(s.dpi for s in _fit.steps(150)) >= _fit.FLOOR_DPI
    assert _fit.steps(None)[0].dpi == _fit.DEFAULT_DPI


# ----------------------------------------------------------------- assembling under a limit


def _items(scan: bytes) -> list[Item]:
    return [Item("c1-scan0001", "Passport scan", "identity", DATE, "application/pdf", scan),
            Item("c1-decl0002", "Declaration", "legal-declaration", DATE, "text/plain", b"I declare this is true.\n"),
            Item("c1-med00003", "Report", "medical", DATE, "text/plain", b"Medical report.\n")]


def test_per_type_output_gives_one_file_per_section_each_under_the_2_mb_portal(tmp_path):
    scan = fit_scans.text_scan(20)
    assert len(scan) > 2_000_000 * 4  # far over the limit as scanned
    volumes = build(PacketRequest(IRCC, _items(scan), "Clinic", DATE))
    assert [v.items for v in volumes] == [[], ["c1-scan0001"], ["c1-decl0002"], ["c1-med00003"]]
    for v in volumes:
        assert len(v.data) <= 2_000_000 - 64 * 1024
        path = tmp_path / f"v{v.number}.pdf"
        path.write_bytes(v.data)
        for row in pdfimages(path):
            assert row["x_ppi"] <= 150 and row["y_ppi"] <= 150
    # pages numbered across the files, as one packet
    assert [(v.first_page, v.last_page) for v in volumes][1:] == [(volumes[0].last_page + 1, volumes[0].last_page + 20),
                                                                   (volumes[0].last_page + 21,) * 2,
                                                                   (volumes[0].last_page + 22,) * 2]
    names = [IRCC.output_name(DATE, v.number, t) for v, t in zip(volumes, ["cover", "identity", "protection",
                                                                           "medical"])]
    assert names[1] == "ircc-resettlement-2026-11-23-identity.pdf"


def test_a_scan_that_cannot_fit_is_one_error_naming_the_document_its_size_and_the_limit():
    noise = fit_scans.noise_scan(20, size=(900, 1165), quality=80)
    assert 5_000_000 < len(noise) < 12_000_000
    with pytest.raises(AssembleError) as info:
        build(PacketRequest(IRCC, _items(noise), "Clinic", DATE))
    e = info.value
    msg = str(e)
    assert e.hint == "packet-too-big" and e.exit_code == 1 and "\n" not in msg
    assert "document c1-scan0001" in msg and "after fitting its images" in msg
    size = int(re.search(r"about (\d+) bytes", msg).group(1))
    assert size > 2_000_000 and f"{2_000_000 - 64 * 1024}-byte limit" in msg and "ircc-portal" in msg
    assert "Passport" not in msg


def test_the_4_mb_portal_needs_less_fitting_than_the_2_mb_one():
    scan = fit_scans.text_scan(6)
    small = build(PacketRequest(IRCC, _items(scan), "Clinic", DATE))
    large = build(PacketRequest(for_portal(IRCC, "ircc-pr-portal"), _items(scan), "Clinic", DATE))
    assert for_portal(IRCC, "ircc-pr-portal").volumes.max_bytes == 4_000_000
    assert all(len(v.data) <= 2_000_000 for v in small) and all(len(v.data) <= 4_000_000 for v in large)


def test_a_profile_that_splits_volumes_fits_only_a_document_too_big_for_any_volume():
    profile = dataclasses.replace(IRCC, output="volumes", volumes=dataclasses.replace(IRCC.volumes, split=True))
    scan = fit_scans.text_scan(8)
    volumes = build(PacketRequest(profile, _items(scan), "Clinic", DATE))
    assert all(len(v.data) <= 2_000_000 - 64 * 1024 for v in volumes)
    assert sorted(d for v in volumes for d in v.items) == sorted(i.doc_id for i in _items(scan))


# ------------------------------------------------------------------------------- profiles


def _base(**changes) -> dict:
    import tomllib

    data = tomllib.loads(IRCC.path.read_text())
    data.update(changes)
    return data


def test_per_type_output_needs_a_type_in_the_file_name():
    with pytest.raises(ProfileError, match=r"file_name: has no \{type\} but output is per-type"):
        profile_from_dict(_base(file_name="{profile}-{date}.pdf"), "ircc-resettlement.toml")


def test_a_portal_must_cite_its_source_and_the_default_must_exist():
    data = _base()
    del data["portals"]["ircc-portal"]["source"]
    with pytest.raises(ProfileError, match=r"portals.ircc-portal.source: missing"):
        profile_from_dict(data, "ircc-resettlement.toml")
    with pytest.raises(ProfileError, match=r"portal: \"nowhere\" is not one of the profile's portals"):
        profile_from_dict(_base(portal="nowhere"), "ircc-resettlement.toml")
    with pytest.raises(ProfileError, match=r"output: \"zip\" is not one of"):
        profile_from_dict(_base(output="zip"), "ircc-resettlement.toml")


def test_an_unknown_portal_is_refused_naming_the_portals():
    with pytest.raises(ProfileError) as info:
        for_portal(IRCC, "ircc-portall")
    assert info.value.hint == "packet-portal" and "ircc-portal, ircc-citizenship" in str(info.value)


def test_ircc_cites_its_portals_and_reads_mb_as_a_million_bytes():
    limits = {p.name: p.max_bytes for p in IRCC.portals}
    assert limits == {"ircc-portal": 2_000_000, "ircc-citizenship": 2_000_000, "ircc-secure-account": 4_000_000,
                      "ircc-asylum-portal": 4_000_000, "ircc-pr-portal": 4_000_000}
    assert all(p.source for p in IRCC.portals) and IRCC.portal == "ircc-portal" and IRCC.output == "per-type"
    assert IRCC.image_dpi == 150 and "2000000 < 2097152" in IRCC.path.read_text()


# --------------------------------------------------------------------------- the command


@pytest.mark.parametrize("world", ["local"], indirect=True)
@pytest.mark.parametrize("pages", [4, pytest.param(20, marks=pytest.mark.slow)])  # 4 pages: 3.2 MB before fitting
def test_an_ircc_build_for_the_2_mb_portal_of_a_300_dpi_scan(keyed_world, tmp_path, pages):
    w = keyed_world  # with the organisation's key
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(fit_scans.text_scan(pages))
    assert scan.stat().st_size > 2_000_000  # the portal's limit: only fitting the images brings it under
    doc = w.ok("doc", "add", "MX-0001", str(scan), "--type", "identity", user="bob").strip()
    w.ok("consent", "grant", "MX-0001", "--recipient", "ircc-resettlement", user="erin")
    out = tmp_path / "out"
    out.mkdir()
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "ircc-resettlement", "--portal", "ircc-portal", "-o", str(out),
              "--allow-incomplete", user="erin")
    assert p.returncode == 0, p.stderr
    paths = [Path(x) for x in p.stdout.decode().split()]
    names = [x.name for x in paths]
    assert all(re.fullmatch(r"ircc-resettlement-\d{4}-\d{2}-\d{2}-(cover|identity|protection)\.pdf", n) for n in names)
    assert {n.rsplit("-", 1)[1] for n in names} == {"cover.pdf", "identity.pdf", "protection.pdf"}
    index = " ".join(subprocess.run([require_tool("pdftotext"), str(out / names[0]), "-"], capture_output=True,
                                    check=True).stdout.decode().split())
    assert [m.group(1) for m in re.finditer(r"[Ff]ile (\S+\.pdf)", index)] == names  # named by the profile's rule
    for path in paths:
        assert path.parent == out and path.stat().st_size < 2_000_000
        for row in pdfimages(path):
            assert row["x_ppi"] <= 150 and row["y_ppi"] <= 150
        data = path.read_bytes()
        assert b"erin" not in data.lower()  # signed by the organisation, never a login name
        sig = subprocess.run([require_tool("pdfsig"), str(path)], capture_output=True).stdout.decode()
        assert "Signature is Valid" in sig and "Fictional Legal Clinic" in sig
    assert not (out.parent / "out.review.pdf").is_relative_to(out)
    [rec] = json.loads(w.ok("packet", "history", "MX-0001", "--json", user="erin"))
    assert rec["files"] == names and rec["portal"] == "ircc-portal" and rec["output"] == "per-type"
    assert doc in [d["id"] for d in rec["documents"]]


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_a_scan_too_big_for_the_portal_is_a_clear_error_and_nothing_is_written(keyed_world, tmp_path):
    w = keyed_world  # with the organisation's key
    scan = tmp_path / "noise.pdf"
    scan.write_bytes(fit_scans.noise_scan(15, quality=80))  # about 2.4 MB after fitting (20 pages: the library test)
    assert 5_000_000 < scan.stat().st_size
    doc = w.ok("doc", "add", "MX-0001", str(scan), "--type", "identity", user="bob").strip()
    w.ok("consent", "grant", "MX-0001", "--recipient", "ircc-resettlement", user="erin")
    out = tmp_path / "ircc.pdf"
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "ircc-resettlement", "-o", str(out), "--allow-incomplete",
              user="erin")
    err = p.stderr.decode()
    assert p.returncode == 1 and "internal error" not in err and sum(line.startswith("refuge: error:") for line in err.splitlines()) == 1  # after progress lines
    assert f"document {doc}" in err and "after fitting its images" in err and "byte limit of the ircc-portal" in err
    assert "refuge packet build --portal" in err  # the way out
    assert not list(tmp_path.glob("ircc*")) and not list(tmp_path.glob(".refuge-*"))
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "ircc-resettlement", "-o", str(out), "--portal", "ircc-nowhere",
              "--allow-incomplete", user="erin")
    assert p.returncode == 1 and b"is not a portal of ircc-resettlement" in p.stderr


def test_images_that_lie_about_themselves_are_left_alone_without_a_crash(tmp_path):
    """A JPEG whose stream disagrees with its dictionary, a truncated one, a Flate stream of
    garbage: fitting skips each (the render and leak-check stages judge the page), never raises."""
    pdf = pikepdf.new()
    big = Image.new("L", (2000, 2000), 255)
    buf = io.BytesIO()
    big.save(buf, "JPEG")
    jpeg = buf.getvalue()
    lies = [dict(data=jpeg, Width=100, Height=100, Filter=pikepdf.Name.DCTDecode),
            dict(data=jpeg[:200], Width=2000, Height=2000, Filter=pikepdf.Name.DCTDecode),
            dict(data=b"\x00garbage" * 50, Width=2000, Height=2000, Filter=pikepdf.Name.FlateDecode)]
    names = {}
    for n, lie in enumerate(lies):
        data = lie.pop("data")
        names[f"/Im{n}"] = pdf.make_stream(data, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                                           ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=8, **lie)
    page = pdf.add_blank_page(page_size=(612, 792))
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(names))
    page.obj.Contents = pdf.make_stream(b" ".join(f"q 10 0 0 10 0 {k * 20} cm {name} Do Q".encode()
                                                 for k, name in enumerate(names)))
    assert len(_fit.drawn_images(pdf)) == 3
    assert _fit.fit_pdf(pdf, _fit.Step(150, 75)) == 0


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_per_type_files_next_to_a_file_name_and_never_replaced_without_force(keyed_world, tmp_path):
    w = keyed_world  # with the organisation's key
    passport = w.ok("doc", "add", "MX-0001", str(w.docs["passport"]), "--type", "identity", "--allow-duplicate",
                    user="bob").strip()
    w.ok("redact", "reviewed", passport, "--page", "1", user="erin")  # shipped profiles hold unread pages for review
    w.ok("consent", "grant", "MX-0001", "--recipient", "ircc-resettlement", user="erin")
    out = tmp_path / "ircc.pdf"
    # the plan shows the portal's limits and what the build will make, and the build then makes it
    plan = json.loads(w.ok("packet", "plan", "MX-0001", "--for", "ircc-resettlement", "--portal", "ircc-pr-portal",
                           "--json", user="erin"))
    assert plan["portal"]["name"] == "ircc-pr-portal" and plan["portal"]["max_bytes"] == 4_000_000
    assert "pdf" in plan["portal"]["accepted_types"] and plan["portal"]["page_size"] == "letter"
    assert "4 MB" in plan["portal"]["source"] and plan["portal"]["image_dpi"] == 150
    assert plan["fit"]["downsample"] is False and plan["fit"]["files"] == 3
    assert [f["type"] for f in plan["fit"]["file_list"]] == ["cover", "identity", "protection"]
    assert all(f["size_class"] == "under the limit" for f in plan["fit"]["file_list"])
    text = w.ok("packet", "plan", "MX-0001", "--for", "ircc-resettlement", "--portal", "ircc-pr-portal", user="erin")
    assert "portal: ircc-pr-portal: 4000000 bytes a file; letter pages; accepts pdf, tiff, jpg, png, doc, docx" in text
    assert "files: 3 (per-type: cover, identity, protection)" in text and "fitting: none expected" in text
    args = ("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "ircc-resettlement", "-o", str(out), "--allow-incomplete",
            "--portal", "ircc-pr-portal")
    p = w.run(*args, user="erin")
    assert p.returncode == 0, p.stderr
    paths = p.stdout.decode().split()
    assert len(paths) == plan["fit"]["files"]
    assert [Path(x).name for x in paths] == ["ircc-cover.pdf", "ircc-identity.pdf", "ircc-protection.pdf"]
    # the index (in the cover file) names each file as written and lists its documents under it, no "Vol. N"
    index = " ".join(subprocess.run([require_tool("pdftotext"), paths[0], "-"], capture_output=True,
                                    check=True).stdout.decode().split())
    assert "Vol." not in index and "This letter and the index: file ircc-cover.pdf" in index
    files = [m.group(1) for m in re.finditer(r"File (\S+\.pdf)", index)]
    assert files == ["ircc-identity.pdf", "ircc-protection.pdf"] and all(Path(out.parent / f).exists() for f in files)
    listed = index.split("File ircc-identity.pdf", 1)[1].split("File ircc-protection.pdf")
    assert "Identity document" in listed[0] and "Declaration" not in listed[0] and "Declaration" in listed[1]
    for path in paths[1:]:  # each file's own pages are the ones the index gives it
        text = subprocess.run([require_tool("pdftotext"), path, "-"], capture_output=True, check=True).stdout.decode()
        assert "Index of documents" not in text
    before = {x: Path(x).read_bytes() for x in paths}
    again = w.run(*args, user="erin")
    assert again.returncode == 1 and b"already exists" in again.stderr
    assert {x: Path(x).read_bytes() for x in paths} == before
    [rec, *_] = json.loads(w.ok("packet", "history", "MX-0001", "--json", user="erin"))
    assert rec["portal"] == "ircc-pr-portal" and rec["max_bytes"] == 4_000_000


def test_the_plan_forecasts_fitting_for_a_big_scan_and_none_for_a_small_one():
    """The forecast of packet plan, from stored sizes and page counts: a 20-page 6 MB scan is over
    the 2 MB portal as rendered (images will be downsampled), a 1-page text is not."""
    from types import SimpleNamespace

    from packets._fitplan import fit_of, portal_of
    from refuge.commands.packets import _fit_lines as describe

    def entry(doc_id, size, pages, section):
        return SimpleNamespace(doc=SimpleNamespace(id=doc_id, size=size), pages=pages, section=section)

    big = SimpleNamespace(included=[entry("c1-scan", 6_000_000, 20, "identity"), entry("c1-decl", 3_000, 1, "protection")])
    fit = fit_of(big, IRCC)
    assert fit["downsample"] and fit["files"] == 3 and fit["image_dpi"] == 150
    assert [f["size_class"] for f in fit["file_list"]] == ["under the limit", "over the limit as rendered",
                                                          "under the limit"]
    lines = describe(fit, portal_of(IRCC))
    assert any(line.startswith("fitting: images will be downsampled to 150 dpi") for line in lines)
    assert any("ircc-secure-account (4000000 bytes)" in line for line in lines)
    small = fit_of(SimpleNamespace(included=[entry("c1-decl", 3_000, 1, "protection")]), IRCC)
    assert not small["downsample"] and small["files"] == 2
    single = dataclasses.replace(IRCC, output="single")
    assert fit_of(big, single)["files"] == 1 and fit_of(big, single)["downsample"]


def test_file_types_a_worker_answers_are_checked_before_they_name_a_file(tmp_path):
    """A subverted worker answering types that climb out of the folder, repeat or are missing: the
    build refuses (nothing is named by them); a good answer names the files as the index does."""
    from packets.build import Packet, _file_types, typed_paths, typed_pattern
    from vault.worker import WorkerFailed

    def packet(types):
        return Packet([b"%PDF"] * 3, {"manifest": {}}, b"", b"", types=types)

    for bad in (["cover", "../../etc", "medical"], ["cover", "identity", "identity"], ["cover", None, "x"],
                ["cover", "identity"]):
        with pytest.raises(WorkerFailed):
            _file_types(packet(bad), IRCC)
    good = _file_types(packet(["cover", "identity", "identity-3"]), IRCC)
    assert [Path(p).name for p in typed_paths(str(tmp_path), IRCC, DATE, good)] == [
        "ircc-resettlement-2026-11-23-cover.pdf", "ircc-resettlement-2026-11-23-identity.pdf",
        "ircc-resettlement-2026-11-23-identity-3.pdf"]
    odd = str(tmp_path / "a{b}.pdf")  # braces in the name the case lead chose are kept as typed
    assert typed_pattern(odd, IRCC, DATE).format(type="cover") == "a{b}-cover.pdf"
    assert typed_paths(odd, IRCC, DATE, ["cover"]) == [str(tmp_path / "a{b}-cover.pdf")]
