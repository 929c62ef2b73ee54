"""Folding, term matching and the built-in detectors (packets.detectors)."""

import pytest

from packets.detectors import Needle, canonical_category, detect, fold, fold_text, redact_string


def found(text: str, only=None) -> list[tuple[str, str]]:
    folded = fold_text(text)
    return [(h.detector, h.value) for h in detect(folded, only)]


def values(text: str, detector: str) -> list[str]:
    return [v for d, v in found(text) if d == detector]


# ------------------------------------------------------------------------- folding


def test_fold_strips_accents_case_and_joins_hyphenated_line_breaks():
    folded, idx = fold("Exam-\nple  ÁNA\u00adDemo ﬁne Straße")
    assert folded == "example anademo fine strasse"
    assert len(idx) == len(folded) and idx[0] == 0 and idx[4] == 6  # "p" of "ple" after the join


def test_fold_keeps_a_map_to_the_source_characters():
    text = "Señora  María\tJosé"
    folded, idx = fold(text)
    start = folded.index("maria")
    assert text[idx[start]:idx[start + 4] + 1] == "María"


def test_fold_text_agrees_with_fold_on_ascii():
    for text in ("A  b\n\nc", "well-\n known", "x\x02\ny", "  lead", "tab\tstop-\r\nped"):
        assert fold_text(text) == fold(text)[0]


def test_pdfium_line_end_hyphen_marks_are_joined():
    assert fold_text("Quetza\ufffelina") == "quetzalina"
    assert fold_text("Quetza\x02lina") == "quetzalina"


# -------------------------------------------------------------------------- needles


@pytest.mark.parametrize("text", [
    "ANA DEMO EXAMPLE", "ana\ndemo-exam-\nple", "AnaDemoExample", "Ána  Démo\u00a0Example", "A na De mo Example",
    "(Ana Demo Example)", "Ana Demo Example's",
])
def test_a_term_matches_whatever_the_case_accents_spacing_and_hyphenation(text):
    assert Needle("r1", "always", "term", "Ana Démo Example").search(fold_text(text))


@pytest.mark.parametrize("text", ["Canada demo example", "Ana Demo Examples", "Banana Demo Example", "Ana Demo"])
def test_a_term_matches_whole_words_only(text):
    assert not Needle("r1", "always", "term", "Ana Demo Example").search(fold_text(text))


def test_a_number_term_matches_with_any_separators():
    n = Needle("r2", "contact", "term", "55 1234 5678")
    for text in ("5512345678", "55-1234-5678", "55.1234.5678", "(55) 1234 5678"):
        assert n.search(fold_text(text)), text
    assert not n.search(fold_text("155 1234 56789"))


def test_needles_never_show_their_text():
    n = Needle("r1", "always", "term", "Ana Demo Example")
    assert "Ana" not in repr(n) and "r1" in repr(n)


def test_terms_of_one_character_match_nothing():
    assert Needle("r1", "always", "term", "-").pattern is None
    assert not Needle("r1", "always", "term", "a").search("a b c")


# ------------------------------------------------------------------------ detectors


@pytest.mark.parametrize("text,expected", [
    ("Telephone: +52 55 1234 5678", "+52 55 1234 5678"),  # Mexico, international
    ("+52 1 33 1234 5678", "+52 1 33 1234 5678"),  # Mexican mobile with the old 1
    ("Cel. (55) 1234-5678", "(55) 1234-5678"),
    ("llame al 222 123 4567 hoy", "222 123 4567"),  # 3-3-4 area code
    ("Guatemala +502 5555 1234", "+502 5555 1234"),
    ("El Salvador 7123-4567", "7123-4567"),  # 8 digits, 4-4
    ("Honduras +504 9876-5432", "+504 9876-5432"),
    ("Belize +501 622-1234", "+501 622-1234"),
    ("Toronto +1 (416) 555-0123", "+1 (416) 555-0123"),  # Canada
    ("call 1-800-555-0199", "1-800-555-0199"),
    ("416.555.0123", "416.555.0123"),
    ("Geneva +41 22 739 81 11", "+41 22 739 81 11"),  # international
    ("0049 30 1234567", "0049 30 1234567"),
    ("WhatsApp: 5512345678", "5512345678"),  # any long number after a phone label
])
def test_phone_numbers(text, expected):
    assert expected.lower() in values(text, "phone")


@pytest.mark.parametrize("text", ["from 2019-2020 she hid", "page 12 of 30", "in 1990 and 2015", "ISBN 978",
                                  "case ref 12/2024"])
def test_not_phone_numbers(text):
    assert values(text, "phone") == []


def test_email_addresses():
    assert values("Write to Ana.Demo+asylum@example.org now", "email") == ["ana.demo+asylum@example.org"]
    assert values("correo: jose_perez@correo.gob.mx.", "email") == ["jose_perez@correo.gob.mx"]
    assert values("at the meeting @ noon", "email") == []


def test_curp():
    assert values("CURP: GOEA900312MDFMXN09", "curp") == ["goea900312mdfmxn09"]
    assert values("CURP GOEA901312MDFMXN09", "curp") == []  # month 13
    assert values("GOEA900312MZZMXN09", "curp") == []  # no such state


@pytest.mark.parametrize("text,expected", [
    ("Passport No: X0000000 issued in 2019", "x0000000"),
    ("Pasaporte: G12345678", "g12345678"),
    ("N° de passeport : 12AB34567", "12ab34567"),
    ("DUI: 01234567-8", "01234567-8"),
    ("DPI 1234 56789 0101 (Guatemala)", "1234 56789 0101"),
    ("Cédula de identidad: 1-0987-0654", "1-0987-0654"),
    ("Clave de elector GMVLMR80070501M100", "gmvlmr80070501m100"),
    ("Passport number\nAB123456", "ab123456"),
])
def test_id_numbers_next_to_their_labels(text, expected):
    assert values(text, "id-label") == [expected]


def test_numbers_without_a_label_are_not_id_numbers():
    assert values("invoice X0000000 paid", "id-label") == []
    assert values("passport photos taken", "id-label") == []


@pytest.mark.parametrize("text,expected", [
    ("Date of birth: 12/03/1990.", "12/03/1990"),
    ("DOB March 12, 1990", "march 12, 1990"),
    ("Fecha de nacimiento: 12 de marzo de 1990", "12 de marzo de 1990"),
    ("nacida el 3-7-85 en Tegucigalpa", "3-7-85"),
    ("Née le 1er mars 1990", "1er mars 1990"),
    ("Date de naissance : 12 févr. 1990", "12 fevr. 1990"),
    ("Born 1990-03-12", "1990-03-12"),
])
def test_dates_of_birth_next_to_their_labels(text, expected):
    assert values(text, "birth-date") == [expected]


def test_other_dates_are_not_dates_of_birth():
    assert values("Signed on 12/03/2024 in Tapachula", "birth-date") == []


def test_detectors_are_chosen_by_category():
    text = "Tel +52 55 1234 5678, CURP GOEA900312MDFMXN09, born 1990-03-12"
    assert {d for d, _v in found(text, {"contact"})} == {"phone"}
    assert {d for d, _v in found(text, {"id-number"})} == {"curp", "birth-date"}
    assert found(text, set()) == []


def test_identity_number_is_id_number():
    assert canonical_category("identity-number") == "id-number"
    assert canonical_category("location") == "location"


def test_redact_string_replaces_terms_and_detector_finds():
    n = Needle("r1", "always", "term", "Ana Demo Example")
    title = "Declaración de ANA DÉMO EXAMPLE (tel +52 55 1234 5678)"
    assert redact_string(title, [n], "[redacted]", {"contact"}) == "Declaración de [redacted] (tel [redacted])"
    assert redact_string(title, [n], "[redacted]", set()) == "Declaración de [redacted] (tel +52 55 1234 5678)"
    assert redact_string("ana-demo-example.pdf", [n]) == "[redacted].pdf"
