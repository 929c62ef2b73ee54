"""Declarations made by code, in English, Spanish and French, naming a principal, family, perpetrators and places.

Each :class:`Declaration` holds its text lines, the people and places it names (as a
case would register them) and control lines no rule may touch. :func:`text_pdf` makes a
PDF with a text layer (Helvetica, WinAnsi: accents and œ included); :func:`scan` renders
the same lines to a page image (DejaVu Sans at 200 dpi) as a scanner would give it, and
:func:`phone_photo` a blurred, JPEG-compressed one. The names are fictional.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFilter, ImageFont

CONTROL = {
    "en": ["The weather in the valley was dry that year and the harvest was poor",
           "We walked for many days along the river before we reached the border"],
    "es": ["El clima en el valle fue seco ese año y la cosecha fue mala",
           "Caminamos muchos días por el río antes de llegar a la frontera"],
    "fr": ["Le temps dans la vallée était sec cette année et la récolte fut mauvaise",
           "Nous avons marché plusieurs jours le long du fleuve avant la frontière"],
}

_PEOPLE = [  # principal, sister, brother, perpetrator, perpetrator 2
    ("Ana María Pérez López", "Blessing Okafor", "Chinedu Okafor", "Osvaldo Ramírez Tello", "Kwame Mensah"),
    ("Xiomara Guadalupe Ortiz Vega", "Rosa Méndez Ortiz", "Julio Méndez Ortiz", "Ernesto Salgado Ruiz", "Hamid Karimi"),
    ("Amélie Dubois Kasongo", "Chantal Mbuyi", "Patrice Mbuyi", "Joseph Kabila Mutombo", "Reza Tehrani"),
]
_PLACES = [
    ("Lagos", "4520 rue Saint-Denis", "Clinique Saint-Luc", "Tapachula"),
    ("Kinshasa", "Calle Hidalgo 12", "Clínica San Rafael", "Goma"),
    ("Abuja", "12 rue des Lilas", "Casa Alianza", "Ndjili"),
]
PASSPORTS = ["A01234567", "G98765432", "P55512340"]


def _lines(lang: str, p, pl, passport: str) -> list[str]:
    principal, sister, brother, perp, perp2 = p
    town, address, clinic, hideout = pl
    if lang == "en":
        return [f"Declaration of {principal}",
                f"My name is {principal} and my passport number is {passport}.",
                f"My sister {sister} is hiding in {town} since the attack.",
                f"My brother {brother} lives in {hideout} with his children.",
                f"I now live at {address}, Montréal, near the market.",
                f"I was treated at the {clinic} after I arrived.",
                f"The man who threatened us was {perp}, a police commander.",
                f"He worked with Mr. {perp2} who watched our house.",
                *CONTROL["en"]]
    if lang == "es":
        return [f"Declaración de {principal}",
                f"Me llamo {principal} y mi pasaporte es {passport}.",
                f"Mi hermana {sister} se esconde en {town} desde el ataque.",
                f"Mi hermano {brother} vive en {hideout} con sus hijos.",
                f"Ahora vivo en {address}, Montréal, cerca del mercado.",
                f"Fui atendida en la {clinic} cuando llegué.",
                f"El hombre que nos amenazó fue el señor {perp}, comandante de policía.",
                f"Trabajaba con el señor {perp2}, que vigilaba nuestra casa.",
                *CONTROL["es"]]
    return [f"Déclaration de {principal}",
            f"Je m'appelle {principal} et mon passeport porte le numéro {passport}.",
            f"Ma sœur {sister} est cachée à {town} depuis l'attaque.",
            f"Mon frère {brother} habite à {hideout} avec ses enfants.",
            f"J'habite maintenant au {address}, Montréal, près du marché.",
            f"J'ai été soignée à la {clinic} à mon arrivée.",
            f"L'homme qui nous a menacés était M. {perp}, commandant de police.",
            f"Il travaillait avec Monsieur {perp2} qui surveillait notre maison.",
            *CONTROL["fr"]]


@dataclass
class Declaration:
    """One declaration: its lines, and what a case would register for it."""

    lang: str
    lines: list[str]
    people: list[dict] = field(default_factory=list)  # {name, role, doc_numbers}
    places: list[dict] = field(default_factory=list)  # {text, kind}
    control: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def names(self) -> list[str]:
        """Every registered name and place text (what must not survive)."""
        return [p["name"] for p in self.people] + [pl["text"] for pl in self.places]


def declaration(lang: str, n: int = 0) -> Declaration:
    """Declaration number ``n`` (people and places vary with ``n``) in ``lang`` (en, es, fr)."""
    p, pl, passport = _PEOPLE[n % 3], _PLACES[(n + n // 3) % 3], PASSPORTS[n % 3]
    people = [{"name": p[0], "role": "principal", "doc_numbers": [passport]},
              {"name": p[1], "role": "family"}, {"name": p[2], "role": "family"},
              {"name": p[3], "role": "perpetrator"}, {"name": p[4], "role": "perpetrator"}]
    places = [{"text": pl[0], "kind": "town"}, {"text": pl[1], "kind": "address"},
              {"text": pl[2], "kind": "clinic"}, {"text": pl[3], "kind": "town"}]
    return Declaration(lang, _lines(lang, p, pl, passport), people, places, list(CONTROL[lang]))


def text_pdf(decl: Declaration) -> bytes:
    """The declaration as a one-page PDF with a text layer (Helvetica, WinAnsiEncoding)."""
    import pikepdf
    from pikepdf import Dictionary, Name

    def esc(text: str) -> bytes:
        return text.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")

    content = b"".join(b"BT /F1 11 Tf 60 %d Td (" % (760 - 24 * i) + esc(line) + b") Tj ET\n"
                       for i, line in enumerate(decl.lines))
    pdf = pikepdf.new()
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica,
                                        Encoding=Name.WinAnsiEncoding))
    page = pdf.add_blank_page(page_size=(612, 792))
    page.obj.Resources = Dictionary(Font=Dictionary(F1=font))
    page.obj.Contents = pikepdf.Stream(pdf, content)
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _page_image(decl: Declaration, seed: int = 0) -> Image.Image:
    rng = random.Random(seed)
    im = Image.new("RGB", (1700, 2200), (244, 243, 240))
    d = ImageDraw.Draw(im)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 34)
    y = 160
    for line in decl.lines:
        d.text((120 + rng.randrange(0, 4), y), line, font=font, fill=(25, 25, 35))
        y += 78
    return im


def scan(decl: Declaration, seed: int = 0) -> bytes:
    """The declaration as a scanned page: a PNG at 200 dpi, no text layer."""
    buf = io.BytesIO()
    _page_image(decl, seed).save(buf, "PNG")
    return buf.getvalue()


def phone_photo(decl: Declaration, seed: int = 0) -> bytes:
    """The declaration as a phone photo: turned 1 degree, slightly blurred, JPEG at quality 60."""
    im = _page_image(decl, seed).rotate(1.0, expand=True, fillcolor=(200, 200, 200))
    im = im.filter(ImageFilter.GaussianBlur(0.8))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=60)
    return buf.getvalue()
