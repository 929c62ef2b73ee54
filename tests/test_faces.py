"""Faces, tried on a real face as a recipient would look for one.

A real photograph (scikit-image's bundled ``astronaut.png``: Eileen Collins, a NASA portrait
in the public domain, read from the installed wheel; nothing is downloaded) goes into a case
twice: as a JPEG photo document, and drawn by reportlab on a declaration page next to text.
The case is built through the CLI for frontline-defenders (``blur_faces = true``) and for
irb-rpd-disclosure (the tribunal needs the face). The packets' page images are extracted with
pdfimages and searched with OpenCV's own face detector, more eagerly than refuge searches;
the photo is found on each page by its other features (ORB), not by where refuge put it.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from conftest import ACCEPT_GAPS, PASSPHRASE, World, require_tool

#: The face in astronaut.png (x, y, w, h), as OpenCV's frontal cascade finds it.
FACE = (177, 66, 95, 95)
#: The words printed beside the photo on the declaration page.
BESIDE = "This photograph was taken at our office during the interview"
PHOTO_AT = (72, 842 - 72 - 216, 216, 216)  # x, y, width, height on the A4 page, in points


def _astronaut() -> Path:
    try:
        import skimage.data
    except ImportError:
        pytest.fail("scikit-image is not installed; run make test, which installs the test extras")
    path = Path(skimage.data.__file__).parent / "astronaut.png"
    assert path.is_file(), "scikit-image's wheel no longer ships astronaut.png"  # never fetched
    return path


def _cv2():
    import cv2

    assert hasattr(cv2, "CascadeClassifier"), "OpenCV without its Haar cascades (OpenCV 5): pyproject pins <5"
    return cv2


#: OpenCV's frontal face cascades (not alt_tree, its strictest, which misses this face at 150 dpi).
CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt.xml",
            "haarcascade_frontalface_alt2.xml")


def detect(image, cascades=CASCADES, eager: bool = False) -> list[tuple[int, int, int, int]]:
    """Faces OpenCV's frontal cascades find in ``image`` (RGB or grey numpy array): with its
    default settings, or ``eager`` (finer scale steps, and the image's contrast stretched too)."""
    cv2 = _cv2()
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    views = (gray, cv2.equalizeHist(gray)) if eager else (gray,)
    found = []
    for name in cascades:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        for view in views:
            for step in ((1.05,) if eager else (1.1,)):
                found += [tuple(int(v) for v in box) for box in cascade.detectMultiScale(view, step, 3, minSize=(20, 20))]
    return found


def _on(found: tuple, face: tuple) -> bool:
    """Whether a detection ``found`` is the face ``face``: its centre lies inside it."""
    cx, cy = found[0] + found[2] / 2, found[1] + found[3] / 2
    return face[0] <= cx <= face[0] + face[2] and face[1] <= cy <= face[1] + face[3]


def _photo_detections(page: dict, **options) -> list[tuple[int, int, int, int]]:
    """Detections in the photo alone, cut out of the page (so its own contrast counts) and, when
    larger, brought down to the original's size (where every cascade finds the face), in page pixels."""
    cv2 = _cv2()
    x, y, w, h = page["photo"]
    x, y = max(0, x), max(0, y)
    photo = _crop(page["pixels"], (x, y, w, h))
    k = max(1.0, w / 512)
    if k > 1:
        photo = cv2.resize(photo, (512, 512), interpolation=cv2.INTER_AREA)
    return [(round(fx * k) + x, round(fy * k) + y, round(fw * k), round(fh * k)) for fx, fy, fw, fh in detect(photo, **options)]


def _photo_files(folder: Path) -> tuple[Path, Path]:
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    rgb = Image.open(_astronaut()).convert("RGB")
    jpeg = folder / "photo.jpg"
    rgb.save(jpeg, "JPEG", quality=90)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    x, y, w, h = PHOTO_AT
    c.drawImage(str(jpeg), x, y, w, h)
    c.setFont("Helvetica", 12)
    words = BESIDE.split()
    for i, line in enumerate((" ".join(words[:3]), " ".join(words[3:7]), " ".join(words[7:]))):
        c.drawString(x + w + 24, y + h - 20 - 18 * i, line)
    c.drawString(x, y - 40, "The applicant agreed that the photograph is shared with the recipient.")
    c.showPage()
    c.save()
    pdf = folder / "declaration.pdf"
    pdf.write_bytes(buf.getvalue())
    return jpeg, pdf


def _world(root: Path) -> World:
    from vault.core import Vault
    from vault.identity import Home, SecretIdentity

    home = Home(root / "home")
    people = {n: SecretIdentity.generate(n) for n in ("alice", "erin", "bob")}
    for secret in people.values():
        home.create(secret, PASSPHRASE)
    vault = Vault.init(str(root / "vault"), home, people["alice"])
    vault.add_user(people["erin"].public, "case-lead")
    vault.add_user(people["bob"].public, "lawyer")
    return World(root, root / "home", root / "vault", {})


@pytest.fixture(scope="module")
def faces_world(tmp_path_factory):
    """One case holding the photo as a JPEG and on a declaration page, built once for a profile
    that blurs faces and once for one that does not; the packets' page images extracted."""
    root = tmp_path_factory.mktemp("faces")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REFUGE_TEST_WORK_FACTOR", "10")
        w = _world(root)
    w.jpeg, w.pdf = _photo_files(root)
    w.ok("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice")
    w.ok("case", "create", "MX-0001", "--title", "Resettlement referral", user="erin")
    w.ok("case", "grant", "MX-0001", "bob", user="erin")
    photo = w.ok("doc", "add", "MX-0001", str(w.jpeg), "--type", "photo", "--title", "Photo", user="bob").strip()
    w.ok("doc", "add", "MX-0001", str(w.pdf), "--type", "legal-declaration", "--lang", "en", "--title", "Statement",
         user="bob")
    w.ok("redact", "reviewed", photo, "--page", "1", user="erin")  # a photo has no words to recognise
    w.packets, w.images = {}, {}
    for profile in ("frontline-defenders", "irb-rpd-disclosure"):
        w.ok("consent", "grant", "MX-0001", "--recipient", profile, user="erin")
        out = root / f"{profile}.pdf"
        p = w.run("packet", "build", "MX-0001", "--for", profile, "-o", str(out), "--allow-incomplete",
                  *ACCEPT_GAPS, user="erin")
        assert p.returncode == 0, p.stderr.decode()
        w.packets[profile] = out
        folder = root / f"{profile}-images"
        folder.mkdir()
        # PPM (PGM if grey): the pixels a PNG would hold, without pdfimages' PNG compression (a second a page)
        subprocess.run([require_tool("pdfimages"), "-p", str(out), str(folder / "im")], check=True)
        w.images[profile] = _photo_pages(sorted(folder.glob("im-*")))
    return w


def _photo_pages(paths: list[Path]) -> list[dict]:
    """The extracted images showing the astronaut photo, each with where its face is, found by
    matching the photo's features (ORB) outside the face, so blurring cannot hide the photo."""
    import numpy as np
    from PIL import Image

    cv2 = _cv2()
    source = np.asarray(Image.open(_astronaut()).convert("L"))
    orb = cv2.ORB_create(4000)
    kp_s, des_s = orb.detectAndCompute(source, None)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
    pages = []
    for path in paths:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        kp, des = orb.detectAndCompute(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), None)
        if des is None:
            continue
        matches = matcher.match(des_s, des)
        if len(matches) < 20:
            continue
        src = np.float32([kp_s[m.queryIdx].pt for m in matches])
        dst = np.float32([kp[m.trainIdx].pt for m in matches])
        affine, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3)
        if affine is None or int(inliers.sum()) < 20:
            continue
        scale = float(np.hypot(affine[0, 0], affine[1, 0]))
        x, y = affine @ np.array([FACE[0], FACE[1], 1.0])
        face = (int(x), int(y), int(FACE[2] * scale), int(FACE[3] * scale))
        corner = affine @ np.array([0, 0, 1.0])
        photo = (int(corner[0]), int(corner[1]), int(512 * scale), int(512 * scale))
        pages.append({"path": path, "pixels": rgb, "face": face, "photo": photo})
    return pages


def _crop(pixels, box):
    x, y, w, h = box
    return pixels[max(0, y):y + h, max(0, x):x + w]


def _detail(pixels, box) -> float:
    """High-frequency energy of ``box``: the variance of its Laplacian, in grey levels."""
    cv2 = _cv2()
    gray = cv2.cvtColor(_crop(pixels, box), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


# --- the detector does find this face -----------------------------------------------------------


def test_the_detector_finds_the_face_in_the_originals(faces_world, tmp_path):
    import numpy as np
    from PIL import Image

    photo = np.asarray(Image.open(faces_world.jpeg).convert("RGB"))
    for name in CASCADES:
        assert any(_on(b, FACE) for b in detect(photo, (name,))), name
    subprocess.run([require_tool("pdftoppm"), "-r", "150", "-png", "-singlefile", str(faces_world.pdf),
                    str(tmp_path / "page")], check=True)
    page = np.asarray(Image.open(tmp_path / "page.png").convert("RGB"))
    x, top, w = (v * 150 / 72 for v in (PHOTO_AT[0], 72, PHOTO_AT[2]))  # the photo's top is 72 pt below the edge
    face = (x + FACE[0] * w / 512, top + FACE[1] * w / 512, FACE[2] * w / 512, FACE[3] * w / 512)
    assert any(_on(b, face) for b in detect(page, ("haarcascade_frontalface_alt2.xml",))), "the page shows the face"


def test_a_profile_that_needs_faces_keeps_them(faces_world):
    pages = faces_world.images["irb-rpd-disclosure"]
    assert len(pages) == 2, [p["path"].name for p in pages]  # the photo document and the declaration page
    for page in pages:
        assert any(_on(b, page["face"]) for b in detect(page["pixels"], ("haarcascade_frontalface_alt2.xml",)))
        for name in CASCADES:  # each cascade finds it in the photo as large as the original
            assert any(_on(b, page["face"]) for b in _photo_detections(page, cascades=(name,))), (page["path"].name, name)


# --- blur_faces: no face left on any rebuilt page ---------------------------------------------------


def test_no_face_is_found_on_any_page_of_the_packet(faces_world):
    pages = faces_world.images["frontline-defenders"]
    assert len(pages) == 2, [p["path"].name for p in pages]  # the photo is still there, in both documents
    for page in pages:
        name = page["path"].name
        # OpenCV's most careful cascade, as it comes, finds nothing on the page
        assert detect(page["pixels"], ("haarcascade_frontalface_alt2.xml",)) == [], name
        # every cascade, searched eagerly on the photo cut out of the page: nothing where the face was
        found = _photo_detections(page, eager=True)
        assert not [b for b in found if _on(b, page["face"])], name


def test_the_face_is_blocks_of_colour_and_the_rest_of_the_photo_is_kept(faces_world):
    import numpy as np
    from PIL import Image

    cv2 = _cv2()
    source = np.asarray(Image.open(_astronaut()).convert("RGB"))
    for page in faces_world.images["frontline-defenders"]:
        scale = page["photo"][2] / 512
        original = cv2.resize(source, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)  # as large as on the page
        face = tuple(round(v * scale) for v in FACE)
        assert _detail(page["pixels"], page["face"]) < _detail(original, face) / 10, page["path"].name
        # the photo's lower part (the suit, the patch, the helmet) is not blurred away with the face
        x, y, w, h = page["photo"]
        assert _detail(page["pixels"], (x, y + int(h * 0.7), w, int(h * 0.3))) > \
            _detail(original, (0, int(h * 0.7), w, int(h * 0.3))) / 3, page["path"].name


def test_the_words_beside_the_photo_stay_legible(faces_world, tmp_path):
    (page,) = [p for p in faces_world.images["frontline-defenders"] if p["photo"][2] < p["pixels"].shape[1] / 2]
    # at 72 dpi, which pdfimages writes in a PNG's header (the PPM has none): as tesseract reads the PNG
    read = subprocess.run([require_tool("tesseract"), str(page["path"]), "-", "--psm", "3", "--dpi", "72"],
                          capture_output=True, check=True).stdout.decode()
    assert " ".join(BESIDE.split()[:3]) in " ".join(read.split()), read
    layer = subprocess.run([require_tool("pdftotext"), str(faces_world.packets["frontline-defenders"]), "-"],
                           capture_output=True, check=True).stdout.decode()
    assert "during the interview" in " ".join(layer.split()), layer[-2000:]


def test_the_review_report_and_the_record_count_the_faces(faces_world):
    import json

    w = faces_world
    records = {r["profile"]: r for r in json.loads(w.ok("packet", "history", "MX-0001", "--json", user="erin"))}
    # the face in the photo document (before rendering) and on the declaration page (rebuilt), and
    # whatever else the cascades took for a face (on this photo: parts of the suit)
    assert records["frontline-defenders"]["redactions"]["faces_pixelated"] >= 2, records["frontline-defenders"]
    assert "faces_pixelated" not in records["irb-rpd-disclosure"]["redactions"]
    report = w.packets["frontline-defenders"].with_suffix(".review.pdf")
    text = subprocess.run([require_tool("pdftotext"), str(report), "-"], capture_output=True, check=True).stdout.decode()
    assert "Face areas pixelated: " in text and "a face it missed stays" in " ".join(text.split()), text[:1500]


# --- where faces are looked for --------------------------------------------------------------------


def test_a_photo_cut_in_strips_inside_nested_scaled_forms_is_blurred(tmp_path):
    """The cut runs through the eyes, the strips sit in a form inside a form, drawn scaled and
    moved: the page is still searched where the whole photo is (library call, no build)."""
    import numpy as np
    import pikepdf
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    from packets._flatten import flatten_pdf

    rgb = Image.open(_astronaut()).convert("RGB")
    cut = FACE[1] + FACE[3] // 3
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.beginForm("strips")
    c.drawImage(ImageReader(rgb.crop((0, 0, 512, cut))), 0, 400 - cut * 300 / 512, 300, cut * 300 / 512)
    c.drawImage(ImageReader(rgb.crop((0, cut, 512, 512))), 0, 100, 300, (512 - cut) * 300 / 512)
    c.endForm()
    c.beginForm("outer")
    c.doForm("strips")
    c.endForm()
    c.transform(0.7, 0, 0, 0.7, 60, 300)
    c.doForm("outer")
    c.showPage()
    c.save()
    source = tmp_path / "strips.pdf"
    source.write_bytes(buf.getvalue())

    def pages(path: Path) -> np.ndarray:
        subprocess.run([require_tool("pdftoppm"), "-r", "150", "-png", "-singlefile", str(path), str(path.with_suffix(""))],
                       check=True)
        return np.asarray(Image.open(path.with_suffix(".png")).convert("RGB"))

    k = 150 / 72
    x, top, w = 60 * k, (A4[1] - 580) * k, 210 * k  # the strips' 300 pt at 0.7: 60 pt in, their top 580 pt up
    face = (x + FACE[0] * w / 512, top + FACE[1] * w / 512, FACE[2] * w / 512, FACE[3] * w / 512)
    assert any(_on(b, face) for b in detect(pages(source), ("haarcascade_frontalface_alt2.xml",))), "the strips show it"
    with pikepdf.open(source) as pdf:
        flatten_pdf(pdf, source.read_bytes(), {0: []}, workers=1, faces=True)
        pdf.save(tmp_path / "flat.pdf")
    flat = pages(tmp_path / "flat.pdf")
    assert detect(flat, ("haarcascade_frontalface_alt2.xml",)) == []
    photo = {"pixels": flat, "photo": tuple(round(v) for v in (x, top, w, w))}
    assert not [b for b in _photo_detections(photo, eager=True) if _on(b, face)]


# --- the pixelation itself ------------------------------------------------------------------------


def test_faces_are_pixelated_beyond_recognition():
    """The pixelation alone, on noise: detail gone inside the box, nothing changed outside."""
    import numpy as np

    from packets.faces import pixelate

    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)
    before = image.copy()
    pixelate(image, [(60, 60, 80, 80)])
    face = image[70:130, 70:130].astype(int)
    assert np.abs(face - before[70:130, 70:130]).mean() > 40  # the detail is gone
    assert face.std() < before[70:130, 70:130].std() / 3
    assert (image[:30, :30] == before[:30, :30]).all()  # outside the box nothing changes
