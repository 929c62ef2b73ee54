"""The strings that stand for a registered person or place: what redaction burns and the leak check seeks.

A person registered as "Ana María Pérez López" appears in documents as "Ana María",
"PÉREZ LÓPEZ, Ana María", "Sra. Pérez", "ANA MARIA PEREZ LOPEZ" (a passport), and in a
passport's machine-readable zone as ``PEREZ<LOPEZ<<ANA<MARIA`` with the document number
followed by its check digit (``A012345674``). :func:`person_variants` makes every such
form from the entry; :func:`register_rules` turns a case's people and places into term
rules (like ``redact term``'s), which the redaction stage and the leak check both use.

Case, accents, spacing and punctuation between words are the matcher's concern
(:class:`packets.detectors.Needle` folds them: "Perez Lopez Ana" also matches
``PEREZ<LOPEZ<<ANA``); this module chooses the word sequences:

* the full name and every alias;
* each given name and each surname alone, where that is unambiguous: not a particle
  (de, la, van, ...) and at least 3 letters (a name that is also a common word, "Rosa",
  "Paz", is still redacted alone: a lost word costs less than a named sister; a surname
  two people share is redacted in both people's categories);
* for Spanish-style names, both surnames together and either one alone, and the
  surname-first form (surnames, then given names);
* initials ("A. M. P." and "A. P."), when the profile asks (``redact_initials``);
* document numbers, and each followed by its ICAO 9303 check digit (as in an MRZ);
* dates of birth in the usual numeric and written forms (en, es, fr) and the MRZ's YYMMDD.

A name is split into given names and surnames at its comma ("PÉREZ LÓPEZ, Ana María"),
or else: one or two given names, then the rest (both splits are tried for three words).
"""

from __future__ import annotations

import unicodedata
from typing import Iterable

from vault.categories import canonical

from .detectors import Needle, fold_text

__all__ = ["check_digit", "mrz_name", "mrz_number", "person_variants", "place_variants", "register_needles",
           "register_rules"]

PARTICLES = {"de", "del", "la", "las", "los", "y", "e", "da", "das", "do", "dos", "di", "du", "des", "le", "van",
             "von", "der", "den", "ter", "bin", "ben", "ibn", "al", "el", "st", "ste", "saint", "sainte", "mc"}
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
}


def _ascii_upper(text: str) -> str:
    d = unicodedata.normalize("NFKD", text)
    return "".join(c for c in d if not unicodedata.combining(c)).upper()


def _splits(name: str) -> list[tuple[list[str], list[str]]]:
    """(given names, surnames) ways to read ``name``."""
    if "," in name:
        surnames, _, given = name.partition(",")
        return [(given.split(), surnames.split())]
    words = name.split()
    if len(words) < 2:
        return [(words, [])]
    if len(words) == 2:
        return [([words[0]], [words[1]])]
    if len(words) == 3:
        return [([words[0]], words[1:]), (words[:2], [words[2]])]
    return [(words[:2], words[2:])]


def _single_ok(word: str, taken: set[str]) -> bool:
    f = fold_text(word).strip(" .")
    return len(f) >= 3 and f not in PARTICLES and f not in taken


def check_digit(text: str) -> str:
    """The ICAO 9303 check digit of ``text`` (digits, A-Z as 10-35, ``<`` as 0; weights 7, 3, 1)."""
    total = 0
    for i, ch in enumerate(text.upper()):
        if ch.isdigit():
            value = int(ch)
        elif "A" <= ch <= "Z":
            value = ord(ch) - 55
        else:
            value = 0
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def mrz_name(name: str) -> str:
    """``name`` as an MRZ writes it: SURNAMES<<GIVEN<NAMES (upper case, no accents)."""
    given, surnames = _splits(name)[0]
    part = lambda ws: "<".join(_ascii_upper(w).replace("-", "<").replace("'", "") for w in ws)  # noqa: E731
    return f"{part(surnames)}<<{part(given)}" if surnames else part(given)


def mrz_number(number: str) -> str:
    """A document number as the MRZ gives it: padded with ``<`` to 9 characters, then its check digit."""
    n = "".join(ch for ch in _ascii_upper(number) if ch.isalnum())
    field = n if len(n) >= 9 else n + "<" * (9 - len(n))
    return field.rstrip("<") + ("" if len(n) >= 9 else "<" * (9 - len(n))) + check_digit(field)


def _name_variants(name: str, taken: set[str], initials: bool) -> list[str]:
    out = [name]
    for given, surnames in _splits(name):
        if given and surnames:
            out += [" ".join(surnames + given), " ".join(given + surnames[:1])]
            if len(surnames) >= 2:
                out += [" ".join(surnames), " ".join(given + surnames[1:])]
            out.append(mrz_name(f"{' '.join(surnames)}, {' '.join(given)}"))
        for w in given + surnames:
            if _single_ok(w, taken):
                out.append(w)
        if len(given) > 1:
            out.append(" ".join(given))
        if initials and given and surnames:
            out.append(" ".join(f"{w[0]}." for w in given + surnames[:1]))
            out.append(f"{given[0][0]}. {surnames[0][0]}.")
            out.append(f"{given[0][0]}. {' '.join(surnames)}")
    return out


def _dob_variants(dob: str) -> list[str]:
    y, m, d = dob.split("-")
    mi = int(m) - 1
    out = [dob, f"{d}/{m}/{y}", f"{m}/{d}/{y}", f"{d}.{m}.{y}", f"{d}-{m}-{y}", f"{y}/{m}/{d}",
           f"{int(d)} {_MONTHS['en'][mi]} {y}", f"{_MONTHS['en'][mi]} {int(d)}, {y}",
           f"{int(d)} de {_MONTHS['es'][mi]} de {y}", f"{int(d)} {_MONTHS['fr'][mi]} {y}"]
    yymmdd = f"{y[2:]}{m}{d}"
    return out + [yymmdd, yymmdd + check_digit(yymmdd)]


def _person_parts(person: dict, taken: set[str], initials: bool) -> tuple[list[str], list[str]]:
    names: list[str] = []
    for name in [person.get("name", ""), *person.get("aliases", [])]:
        if name:
            names += _name_variants(name, taken, initials)
    numbers: list[str] = []
    for number in person.get("doc_numbers", []):
        numbers += [number, mrz_number(number).replace("<", " ").strip(), mrz_number(number)]
    if person.get("dob"):
        numbers += _dob_variants(person["dob"])
    return _unique(names), _unique(numbers)


def person_variants(person: dict, taken: Iterable[str] = (), initials: bool = False) -> list[str]:
    """Every string that stands for ``person`` (a register entry), without repeats.

    ``taken`` are folded words never to redact alone (besides particles and words
    under 3 letters).
    """
    names, numbers = _person_parts(person, set(taken), initials)
    return _unique(names + numbers)


def place_variants(place: dict) -> list[str]:
    """Every string that stands for ``place``: its text, and for an address its street and postal code."""
    text = place.get("text", "")
    out = [text]
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if place.get("kind") == "address" and len(parts) > 1:
        out.append(parts[0])
        out += [p for p in parts[1:] if sum(c.isdigit() for c in p) >= 2]  # a postal code, a unit
    return _unique(out)


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for v in values:
        key = fold_text(v)
        if v and key not in seen and Needle("x", "x", "term", v).pattern is not None:
            seen.add(key)
            out.append(v)
    return out


def register_rules(people: Iterable[dict], places: Iterable[dict], initials: bool = False) -> list[dict]:
    """The case's people and places as term rules (``{"id", "kind": "term", "text", "category"}``).

    A person's names go in the entry's category; document numbers and the date of
    birth in ``id-number``. The rule id is the entry's id.
    """
    rules: list[dict] = []
    for p in people:
        cat = canonical(p.get("category", "third-party"))
        names, numbers = _person_parts(p, set(), initials)
        pid = p.get("id", "register")
        rules += [{"id": pid, "kind": "term", "text": t, "category": cat, "source": "register"} for t in names]
        rules += [{"id": pid, "kind": "term", "text": t, "category": "id-number", "source": "register"}
                  for t in numbers]
    for pl in places:
        for text in place_variants(pl):
            rules.append({"id": pl.get("id", "register"), "kind": "term", "text": text,
                          "category": canonical(pl.get("category", "location")), "source": "register"})
    return rules


def register_needles(people: Iterable[dict], places: Iterable[dict], categories: set[str] | None = None,
                     initials: bool = False) -> list[Needle]:
    """:func:`register_rules` as needles, limited to ``categories`` (None: all)."""
    return [Needle(r["id"], r["category"], "term", r["text"]) for r in register_rules(people, places, initials)
            if categories is None or r["category"] in categories]
