"""Recipient profiles: the shipped templates, every validation rule, placeholders, fuzzing."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packets import profiles as P
from packets.profiles import (
    COVER_PLACEHOLDERS,
    DOCUMENT_TYPES,
    Profile,
    ProfileError,
    get_profile,
    load_profile,
    load_profiles,
    profile_from_dict,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SHIPPED = (
    "irb-rpd-disclosure",
    "ircc-resettlement",
    "unhcr-resettlement",
    "ccvt-intake",
    "frontline-defenders",
)
F = "test-recipient.toml"  # the file name every rule test writes


# ------------------------------------------------------------------------- TOML writer


# The placeholders issue 18 added after the first seven (letters and case details).
LETTER_PLACEHOLDERS = (", {letterhead}, {references}, {enclosures}, {contact}, {signoff}, {client_name}, {uci},"
                       " {irb_file_number}, {unhcr_case_number}, {hearing_date}, {other_party}")

def _toml_str(s: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; TOML also forbids raw DEL.
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(k: str) -> str:
    if k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k):
        return k
    return _toml_str(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(data: dict[str, Any]) -> str:
    """Serialize a dict as TOML (inline tables throughout); enough for these tests."""
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in data.items())


def test_toml_writer_round_trips() -> None:
    data = base()
    assert tomllib.loads(to_toml(data)) == data


# ------------------------------------------------------------------------- fixtures


def base(pid: str = "test-recipient") -> dict[str, Any]:
    """A small valid profile as a dict."""
    return {
        "id": pid,
        "version": 1,
        "name": "Test recipient",
        "organisation": "Test Organisation",
        "language": "en",
        "accepted_languages": ["en", "fr"],
        "page_size": "letter",
        "cover": {
            "en": "{date} To {recipient}: {document_count} documents from {sender_org}.",
            "fr": "{date} À {recipient} : {document_count} documents de {sender_org}.",
        },
        "sections": [
            {
                "id": "identity",
                "title": {"en": "Identity", "fr": "Identité"},
                "admits": ["identity", "civil-status"],
                "requires": ["identity"],
            },
            {
                "id": "health",
                "title": {"en": "Health", "fr": "Santé"},
                "admits": ["medical", "psychological"],
            },
        ],
    }


def write(tmp_path: Path, data: dict[str, Any], name: str = F) -> Path:
    path = tmp_path / name
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def error_of(tmp_path: Path, data: dict[str, Any], name: str = F) -> str:
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, data, name))
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture(scope="module")
def shipped() -> dict[str, Profile]:
    return load_profiles(TEMPLATES)


# ------------------------------------------------------------------ shipped profiles


def test_all_shipped_profiles_load(shipped: dict[str, Profile]) -> None:
    assert set(SHIPPED) <= set(shipped)
    for pid, profile in shipped.items():
        assert profile.id == pid
        assert profile.path is not None and profile.path.name == f"{pid}.toml"
        assert profile.version >= 1


def test_default_directory_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(P.ENV_VAR, raising=False)
    assert P.templates_dir() == TEMPLATES
    assert set(SHIPPED) <= set(load_profiles())
    write(tmp_path, base())
    monkeypatch.setenv(P.ENV_VAR, str(tmp_path))
    assert list(load_profiles()) == ["test-recipient"]
    assert get_profile("test-recipient").organisation == "Test Organisation"


@pytest.mark.parametrize("pid", SHIPPED)
def test_shipped_profile_names_its_sources(pid: str) -> None:
    text = (TEMPLATES / f"{pid}.toml").read_text(encoding="utf-8")
    assert text.startswith("#")
    assert "Sources" in text.split("\nid = ")[0]


@pytest.mark.parametrize("pid", SHIPPED)
def test_shipped_profiles_require_a_signature(shipped: dict[str, Profile], pid: str) -> None:
    assert shipped[pid].signature.required


def test_irb_letter_index_consecutive_numbering_translator_declaration(
    shipped: dict[str, Profile],
) -> None:
    irb = shipped["irb-rpd-disclosure"]
    assert (irb.page_size, irb.page_width, irb.page_height) == ("letter", 612.0, 792.0)
    assert irb.language == "en" and irb.accepted_languages == ("en", "fr")
    assert irb.index.style != "none" and irb.index.columns  # r. 31(3)
    assert irb.numbering.consecutive  # r. 31(4)
    assert irb.translations.follow_original and irb.translations.declaration_required
    for lang in irb.accepted_languages:
        text = irb.translator_declaration(
            lang, translator_name="T. Name", source_language="Dari", dialect="Kabuli",
            target_language="English", date="2024-05-01",
        )
        assert "T. Name" in text and "Dari" in text and "Kabuli" in text
    assert "accurate" in irb.translations.declaration.en
    assert "exacte" in irb.translations.declaration.fr
    assert irb.required_types == ("identity",)
    assert irb.output_types == ("pdf",)


def test_ircc_letter_per_type_files_under_the_portal_limit(shipped: dict[str, Profile]) -> None:
    ircc = shipped["ircc-resettlement"]
    assert ircc.page_size == "letter"
    assert set(ircc.accepted_languages) == {"en", "fr"}
    assert ircc.volumes.limited and not ircc.volumes.split and ircc.output == "per-type"
    assert ircc.volumes.max_bytes == 2_000_000 and ircc.portal == "ircc-portal"  # the smallest IRCC limit
    assert "{type}" in ircc.file_name
    assert ircc.output_name(dt.date(2024, 5, 1), 2, "identity") == "ircc-resettlement-2024-05-01-identity.pdf"


@pytest.mark.parametrize("pid", ["unhcr-resettlement", "frontline-defenders"])
def test_unhcr_and_frontline_are_a4(shipped: dict[str, Profile], pid: str) -> None:
    profile = shipped[pid]
    assert (profile.page_size, profile.page_width, profile.page_height) == ("a4", 595.28, 841.89)
    assert isinstance(profile.page_width, float) and isinstance(profile.page_height, float)


def test_ccvt_admits_assessments_and_excludes_legal_strategy(shipped: dict[str, Profile]) -> None:
    ccvt = shipped["ccvt-intake"]
    assert {"medical", "psychological"} <= ccvt.admitted_types
    assert ccvt.section_for("medical") is ccvt.section_for("psychological")
    for legal in ("legal-declaration", "correspondence"):
        assert ccvt.excludes(legal)
        assert ccvt.section_for(legal) is None
    assert "legal-strategy" in ccvt.redaction_categories


def test_frontline_defenders_protects_the_defender(shipped: dict[str, Profile]) -> None:
    fld = shipped["frontline-defenders"]
    assert fld.excludes("identity") and fld.excludes("civil-status")
    assert fld.flatten == "all"
    assert fld.signature.required and not fld.signature.visible
    assert not fld.translations.declaration_required
    assert "title" not in fld.index.columns


@pytest.mark.parametrize("pid", SHIPPED)
def test_shipped_covers_render_in_every_accepted_language(
    shipped: dict[str, Profile], pid: str,
) -> None:
    profile = shipped[pid]
    fields = dict(sender_org="Legal Clinic", date="2024-05-01", document_count=7,
                  page_count=42, volume_count=2)
    for lang in profile.accepted_languages:
        text = profile.cover_letter(lang, **fields)
        assert "{" not in text and "}" not in text
        assert "Legal Clinic" in text
        for section in profile.sections:
            assert section.title.get(lang)
        assert profile.index.title.get(lang)
        assert profile.page_label(1, 2, lang)


def test_no_placeholder_can_carry_a_secret() -> None:
    """Only the case details a case lead set for recipients (issue 18) reach a letter or a file
    name: never the case reference, a title or a person named in a document."""
    details = set(P.CASE_FIELDS) | {"references"}
    everything = (P.COVER_PLACEHOLDERS + P.DECLARATION_PLACEHOLDERS + P.LABEL_PLACEHOLDERS
                  + P.FILE_NAME_PLACEHOLDERS + P.SERVICE_PLACEHOLDERS)
    for name in everything:
        if name not in details:
            assert not any(word in name for word in ("case", "ref", "title", "person", "client"))
    assert COVER_PLACEHOLDERS[:7] == ("recipient", "sender_org", "date", "document_count",
                                      "page_count", "volume_count", "redactions")
    assert P.FILE_NAME_PLACEHOLDERS == ("profile", "date", "volume", "type", "irb_file_number", "uci", "unhcr_case_number")
    assert "client_name" not in P.FILE_NAME_PLACEHOLDERS  # a name never goes into a file name


def test_profiles_are_frozen_and_hashable(shipped: dict[str, Profile]) -> None:
    profile = shipped["irb-rpd-disclosure"]
    with pytest.raises(AttributeError):
        profile.version = 2  # type: ignore[misc]
    assert len({hash(p) for p in shipped.values()}) == len(shipped)


def test_module_does_not_import_click() -> None:
    source = Path(P.__file__).read_text(encoding="utf-8")
    assert "import click" not in source and "from click" not in source


# ------------------------------------------------------------------ defaults


def test_minimal_profile_defaults(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, base()))
    assert profile.margins == P.Margins(54.0, 54.0, 54.0, 54.0)
    assert profile.flatten == "all" and profile.ocr_text_layer and profile.ocr is False and not profile.require_review
    assert profile.volumes == P.Volumes(max_bytes=None, split=True)
    assert profile.file_name == "{profile}-{date}-{volume}.pdf"
    assert profile.output_types == ("pdf",)
    assert profile.signature == P.Signature(required=True, visible=True)
    assert profile.index.style == "table" and profile.index.title.fr == "Index des documents"
    assert profile.numbering.consecutive and profile.numbering.bates_prefix is None
    assert profile.bates_label(1) is None
    assert profile.page_label(3, 40) == "Page 3 of 40"
    assert profile.page_label(3, 40, "fr") == "Page 3 de 40"
    assert profile.excluded_types == () and profile.redaction_categories == ()


def test_page_size_is_case_insensitive_and_margins_accept_one_number(tmp_path: Path) -> None:
    data = base()
    data.update(page_size="A4", margins=20)
    profile = load_profile(write(tmp_path, data))
    assert (profile.page_size, profile.page_width, profile.page_height) == ("a4", 595.28, 841.89)
    assert profile.margins == P.Margins(20.0, 20.0, 20.0, 20.0)
    data["margins"] = {"left": 72, "bottom": 36.5}
    profile = load_profile(write(tmp_path, data))
    assert profile.margins == P.Margins(top=54.0, right=54.0, bottom=36.5, left=72.0)


def test_bates_numbering(tmp_path: Path) -> None:
    data = base()
    data["numbering"] = {"bates_prefix": "REF-", "bates_digits": 4, "bates_start": 7}
    data["index"] = {"columns": ["number", "bates", "pages"]}
    profile = load_profile(write(tmp_path, data))
    assert profile.numbering.bates
    assert profile.bates_label(1) == "REF-0007" and profile.bates_label(4) == "REF-0010"


# ------------------------------------------------------------------ validation rules


def test_page_size_must_be_letter_or_a4(tmp_path: Path) -> None:
    data = base("ircc-resettlement")
    data["page_size"] = "legal"
    assert error_of(tmp_path, data, "ircc-resettlement.toml") == (
        'ircc-resettlement.toml: page_size: "legal" is not one of letter, a4; use letter or a4'
    )


def test_unknown_top_level_key_suggests(tmp_path: Path) -> None:
    data = base()
    data["page_sise"] = "a4"
    assert error_of(tmp_path, data) == (
        f'{F}: page_sise: unknown key; did you mean "page_size"?'
    )


def test_unknown_nested_key_suggests(tmp_path: Path) -> None:
    data = base()
    data["numbering"] = {"postion": "top-right"}
    assert error_of(tmp_path, data) == (
        f'{F}: numbering.postion: unknown key; did you mean "position"?'
    )


def test_unknown_key_in_section_suggests(tmp_path: Path) -> None:
    data = base()
    data["sections"][1]["require"] = ["medical"]
    assert error_of(tmp_path, data) == (
        f'{F}: sections[2].require: unknown key; did you mean "requires"?'
    )


def test_unknown_key_without_suggestion_lists_allowed_keys(tmp_path: Path) -> None:
    data = base()
    data["signature"] = {"colour": "blue"}
    assert error_of(tmp_path, data) == (
        f"{F}: signature.colour: unknown key; remove it (allowed keys: required, visible, show_counsel)"
    )


def test_missing_required_key(tmp_path: Path) -> None:
    data = base()
    del data["name"]
    assert error_of(tmp_path, data) == (
        f'{F}: name: missing; add name = "Recipient display name"'
    )


def test_wrong_type(tmp_path: Path) -> None:
    data = base()
    data["version"] = "1"
    assert error_of(tmp_path, data) == (
        f'{F}: version: expected an integer, got a string ("1"); write version = 1'
    )


def test_boolean_is_not_an_integer(tmp_path: Path) -> None:
    data = base()
    data["version"] = True
    assert error_of(tmp_path, data) == (
        f"{F}: version: expected an integer, got a boolean (true); write version = 1"
    )


def test_version_must_be_positive(tmp_path: Path) -> None:
    data = base()
    data["version"] = 0
    assert error_of(tmp_path, data) == (
        f"{F}: version: 0 is out of range; use an integer at least 1"
    )


def test_table_expected(tmp_path: Path) -> None:
    data = base()
    data["numbering"] = 3
    assert error_of(tmp_path, data) == (
        f"{F}: numbering: expected a table, got an integer (3); write [numbering]"
    )


def test_id_must_equal_file_stem(tmp_path: Path) -> None:
    data = base("other-id")
    assert error_of(tmp_path, data) == (
        f'{F}: id: "other-id" does not match the file name;'
        ' rename the file to other-id.toml or write id = "test-recipient"'
    )


def test_id_must_be_a_slug(tmp_path: Path) -> None:
    data = base("Bad_Id")
    assert error_of(tmp_path, data, "Bad_Id.toml") == (
        'Bad_Id.toml: id: "Bad_Id" is not a lowercase slug; use lowercase letters, digits'
        ' and hyphens, e.g. "unhcr-resettlement"'
    )


def test_language_must_be_en_fr_or_es(tmp_path: Path) -> None:
    data = base()
    data["language"] = "de"
    assert error_of(tmp_path, data) == (
        f'{F}: language: "de" is not one of en, fr, es; use en, fr or es'
    )


def test_accepted_languages_must_include_language(tmp_path: Path) -> None:
    data = base()
    data["language"] = "es"
    assert error_of(tmp_path, data) == (
        f'{F}: accepted_languages: does not include language (es); add "es" to accepted_languages'
    )


def test_accepted_language_value_suggests(tmp_path: Path) -> None:
    data = base()
    data["accepted_languages"] = ["en", "fra"]
    assert error_of(tmp_path, data) == (
        f'{F}: accepted_languages: "fra" is not one of en, fr, es; did you mean "fr"?'
    )


def test_cover_needs_every_accepted_language(tmp_path: Path) -> None:
    data = base()
    del data["cover"]["fr"]
    assert error_of(tmp_path, data) == (
        f'{F}: cover.fr: no text for accepted language fr;'
        ' add cover.fr = "..." or remove fr from accepted_languages'
    )


def test_cover_is_required(tmp_path: Path) -> None:
    data = base()
    del data["cover"]
    assert error_of(tmp_path, data) == (
        f"{F}: cover: missing; add a [cover] table with en, fr, es letter text"
    )


def test_cover_language_key_suggests(tmp_path: Path) -> None:
    data = base()
    data["cover"]["EN"] = "Hello"
    assert error_of(tmp_path, data) == f'{F}: cover.EN: unknown key; did you mean "en"?'


def test_cover_unknown_placeholder(tmp_path: Path) -> None:
    data = base()
    data["cover"]["en"] = "Re: case {case_ref}"
    assert error_of(tmp_path, data) == (
        f"{F}: cover.en: unknown placeholder {{case_ref}}; use only {{recipient}},"
        " {sender_org}, {date}, {document_count}, {page_count}, {volume_count}, {redactions}" + LETTER_PLACEHOLDERS
    )


def test_cover_malformed_placeholder(tmp_path: Path) -> None:
    data = base()
    data["cover"]["en"] = "Hello {"
    assert error_of(tmp_path, data) == (
        f"{F}: cover.en: malformed placeholder (Single '{{' encountered in format string);"
        " write {{ and }} for literal braces"
    )


def test_cover_placeholder_attribute_access_is_refused(tmp_path: Path) -> None:
    data = base()
    data["cover"]["en"] = "{recipient.__class__}"
    assert error_of(tmp_path, data) == (
        f"{F}: cover.en: unknown placeholder {{\"recipient.__class__\"}}; use only"
        " {recipient}, {sender_org}, {date}, {document_count}, {page_count}, {volume_count}, {redactions}" + LETTER_PLACEHOLDERS
    )


def test_cover_placeholder_conversion_is_refused(tmp_path: Path) -> None:
    data = base()
    data["cover"]["en"] = "{date!r}"
    assert error_of(tmp_path, data) == (
        f"{F}: cover.en: placeholder {{date}} has a conversion or format spec; write {{date}}"
    )


def test_margins_must_be_non_negative(tmp_path: Path) -> None:
    data = base()
    data["margins"] = -1
    assert error_of(tmp_path, data) == (
        f"{F}: margins: -1 is not a non-negative number of points; write margins = 54"
    )


def test_margins_must_leave_room(tmp_path: Path) -> None:
    data = base()
    data["margins"] = {"left": 300, "right": 300}
    assert error_of(tmp_path, data) == (
        f"{F}: margins: left + right leave less than 72 points of a letter page's width"
        " (612); use smaller left and right margins"
    )


def test_margin_side_must_be_a_number(tmp_path: Path) -> None:
    data = base()
    data["margins"] = {"top": "1in"}
    assert error_of(tmp_path, data) == (
        f'{F}: margins.top: expected a number of points, got a string ("1in"); write top = 54'
    )


def test_sections_are_required(tmp_path: Path) -> None:
    data = base()
    del data["sections"]
    assert error_of(tmp_path, data) == (
        f"{F}: sections: missing; add at least one [[sections]] table"
    )


def test_unknown_document_type_suggests(tmp_path: Path) -> None:
    data = base()
    data["sections"][1]["admits"] = ["medicall"]
    assert error_of(tmp_path, data) == (
        f'{F}: sections.health.admits: "medicall" is not one of {", ".join(DOCUMENT_TYPES)};'
        ' did you mean "medical"?'
    )


def test_section_admits_is_required(tmp_path: Path) -> None:
    data = base()
    del data["sections"][1]["admits"]
    assert error_of(tmp_path, data) == (
        f'{F}: sections.health.admits: missing;'
        ' add admits = ["..."] with the document types it admits'
    )


def test_required_type_must_be_admitted_by_the_section(tmp_path: Path) -> None:
    data = base()
    data["sections"][0]["requires"] = ["identity", "photo"]
    assert error_of(tmp_path, data) == (
        f"{F}: sections.identity.requires: photo is not in this section's admits;"
        " add photo to admits or remove it from requires"
    )


def test_type_cannot_be_admitted_and_excluded(tmp_path: Path) -> None:
    data = base()
    data["excluded_types"] = ["correspondence", "medical"]
    assert error_of(tmp_path, data) == (
        f"{F}: sections.health.admits: medical is also in excluded_types;"
        " remove medical from admits or from excluded_types"
    )


def test_type_admitted_by_one_section_only(tmp_path: Path) -> None:
    data = base()
    data["sections"].append({"id": "other", "title": {"en": "O", "fr": "A"},
                             "admits": ["other", "medical"]})
    assert error_of(tmp_path, data) == (
        f"{F}: sections.other.admits: medical is already admitted by section health;"
        " admit each type in one section"
    )


def test_section_ids_are_unique(tmp_path: Path) -> None:
    data = base()
    data["sections"][1]["id"] = "identity"
    assert error_of(tmp_path, data) == (
        f'{F}: sections[2].id: "identity" is used by another section;'
        " give each section its own id"
    )


def test_list_items_are_unique(tmp_path: Path) -> None:
    data = base()
    data["sections"][1]["admits"] = ["medical", "medical"]
    assert error_of(tmp_path, data) == (
        f'{F}: sections.health.admits: "medical" is listed twice; list it once'
    )


def test_section_title_needs_every_accepted_language(tmp_path: Path) -> None:
    data = base()
    del data["sections"][1]["title"]["fr"]
    assert error_of(tmp_path, data) == (
        f'{F}: sections.health.title.fr: no text for accepted language fr;'
        ' add sections.health.title.fr = "..." or remove fr from accepted_languages'
    )


def test_index_style(tmp_path: Path) -> None:
    data = base()
    data["index"] = {"style": "grid"}
    assert error_of(tmp_path, data) == (
        f'{F}: index.style: "grid" is not one of table, list, none; use table, list or none'
    )


def test_index_bates_column_needs_a_prefix(tmp_path: Path) -> None:
    data = base()
    data["index"] = {"columns": ["number", "bates"]}
    assert error_of(tmp_path, data) == (
        f"{F}: index.columns: bates needs numbering.bates_prefix;"
        " set numbering.bates_prefix or remove the bates column"
    )


def test_numbering_position(tmp_path: Path) -> None:
    data = base()
    data["numbering"] = {"position": "middle"}
    assert error_of(tmp_path, data) == (
        f'{F}: numbering.position: "middle" is not one of top-left, top-center, top-right,'
        " bottom-left, bottom-center, bottom-right; use top-left, top-center, top-right,"
        " bottom-left, bottom-center or bottom-right"
    )


def test_bates_and_label_need_different_corners(tmp_path: Path) -> None:
    data = base()
    data["numbering"] = {"bates_prefix": "X-", "bates_position": "bottom-right"}
    assert error_of(tmp_path, data) == (
        f"{F}: numbering.bates_position: same corner as numbering.position (bottom-right);"
        " put the Bates number and the page label in different corners"
    )


def test_bates_digits_range(tmp_path: Path) -> None:
    data = base()
    data["numbering"] = {"bates_prefix": "X-", "bates_digits": 40}
    assert error_of(tmp_path, data) == (
        f"{F}: numbering.bates_digits: 40 is out of range; use an integer between 1 and 12"
    )


def test_page_label_placeholders(tmp_path: Path) -> None:
    data = base()
    data["numbering"] = {"label": {"en": "{page}/{total}"}}
    assert error_of(tmp_path, data) == (
        f"{F}: numbering.label.en: unknown placeholder {{total}}; use only {{page}}, {{pages}}"
    )


def test_declaration_required_needs_text(tmp_path: Path) -> None:
    data = base()
    data["translations"] = {"declaration_required": True}
    assert error_of(tmp_path, data) == (
        f"{F}: translations.declaration: missing but declaration_required is true;"
        " add a [translations.declaration] table with text per accepted language"
    )


def test_declaration_must_name_language_and_dialect(tmp_path: Path) -> None:
    data = base()
    data["translations"] = {
        "declaration_required": True,
        "declaration": {
            "en": "I, {translator_name}, translated from {source_language} accurately.",
            "fr": "Je, {translator_name}, {source_language} ({dialect}).",
        },
    }
    assert error_of(tmp_path, data) == (
        f"{F}: translations.declaration.en: does not contain {{dialect}};"
        " add {dialect} to the text"
    )


def test_flatten_policy(tmp_path: Path) -> None:
    data = base()
    data["flatten"] = "some"
    assert error_of(tmp_path, data) == (
        f'{F}: flatten: "some" is not one of hits, all; use hits or all'
    )


def test_redaction_always_is_implicit(tmp_path: Path) -> None:
    data = base()
    data["redaction_categories"] = ["location", "always"]
    assert error_of(tmp_path, data) == (
        f'{F}: redaction_categories: always is implicit; remove "always"'
    )


def test_redaction_category_must_be_a_slug(tmp_path: Path) -> None:
    data = base()
    data["redaction_categories"] = ["Home Address"]
    assert error_of(tmp_path, data) == (
        f'{F}: redaction_categories: "Home Address" is not a lowercase slug;'
        ' use lowercase letters, digits and hyphens, e.g. "location"'
    )


def test_boolean_fields(tmp_path: Path) -> None:
    data = base()
    data["ocr"] = "yes"
    assert error_of(tmp_path, data) == (
        f'{F}: ocr: expected true or false, got a string ("yes"); write ocr = true or ocr = false'
    )


def test_volume_size_must_be_positive(tmp_path: Path) -> None:
    data = base()
    data["volumes"] = {"max_bytes": 0}
    assert error_of(tmp_path, data) == (
        f"{F}: volumes.max_bytes: 0 is out of range;"
        " use an integer between 1 and 9223372036854775807"
    )


def test_split_volumes_need_a_volume_in_the_file_name(tmp_path: Path) -> None:
    data = base()
    data["volumes"] = {"max_bytes": 4_000_000}
    data["file_name"] = "{profile}-{date}.pdf"
    assert error_of(tmp_path, data) == (
        f"{F}: file_name: has no {{volume}} but volumes split at 4000000 bytes;"
        " add {volume} to file_name"
    )


def test_file_name_cannot_carry_the_case_reference(tmp_path: Path) -> None:
    data = base()
    data["file_name"] = "{case_ref}-{date}.pdf"
    assert error_of(tmp_path, data) == (
        f"{F}: file_name: unknown placeholder {{case_ref}}; use only {{profile}}, {{date}}, {{volume}}, {{type}}"
            ", {irb_file_number}, {uci}, {unhcr_case_number}"
    )


def test_file_name_characters(tmp_path: Path) -> None:
    data = base()
    data["file_name"] = "../{profile}.pdf"
    assert error_of(tmp_path, data) == (
        f'{F}: file_name: "../{{profile}}.pdf" has characters other than letters, digits,'
        ' . _ - or starts with a dot; use only those characters,'
        ' e.g. "{profile}-{date}-{volume}.pdf"'
    )


def test_file_name_must_be_pdf(tmp_path: Path) -> None:
    data = base()
    data["file_name"] = "{profile}-{date}.zip"
    assert error_of(tmp_path, data) == (
        f'{F}: file_name: "{{profile}}-{{date}}.zip" does not end in .pdf;'
        ' end it with .pdf, e.g. "{profile}-{date}-{volume}.pdf"'
    )


def test_output_types_vocabulary(tmp_path: Path) -> None:
    data = base()
    data["output_types"] = ["pdf", "gif"]
    assert error_of(tmp_path, data) == (
        f'{F}: output_types: "gif" is not one of pdf, tiff, jpg, png, doc, docx;'
        " use pdf, tiff, jpg, png, doc or docx"
    )


def test_output_types_must_include_pdf(tmp_path: Path) -> None:
    data = base()
    data["output_types"] = ["jpg"]
    assert error_of(tmp_path, data) == (
        f'{F}: output_types: does not include pdf (packets are PDF files);'
        ' add "pdf" to output_types'
    )


def test_visible_signature_needs_a_signature(tmp_path: Path) -> None:
    data = base()
    data["signature"] = {"required": False}
    assert error_of(tmp_path, data) == (
        f"{F}: signature.visible: is true but signature.required is false;"
        " set required = true or visible = false"
    )


def test_invalid_toml(tmp_path: Path) -> None:
    text = 'id = "test-recipient"\nversion = \n'
    (tmp_path / F).write_text(text, encoding="utf-8")
    with pytest.raises(tomllib.TOMLDecodeError) as parse_error:
        tomllib.loads(text)
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path / F)
    assert str(info.value) == f"{F}: (file): invalid TOML ({parse_error.value}); fix the syntax"


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / F).write_bytes(b'id = "\xff"\n')
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path / F)
    assert str(info.value) == f"{F}: (file): not UTF-8 (byte 6); save the file as UTF-8"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path / "nope.toml")
    assert str(info.value) == "nope.toml: (file): cannot read (No such file or directory); check the path"


def test_not_a_toml_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path / "README.md")
    assert str(info.value) == (
        "README.md: (file): not a .toml file; profiles are templates/<id>.toml"
    )


def test_messages_stay_on_one_line(tmp_path: Path) -> None:
    data = base()
    data["a\nkey"] = 1
    assert error_of(tmp_path, data) == (
        f'{F}: "a\\nkey": unknown key; remove it (allowed keys: {", ".join(P._TOP_KEYS)})'
    )


def test_load_profiles_fails_on_one_bad_file(tmp_path: Path) -> None:
    write(tmp_path, base())
    bad = base("broken")
    bad["page_size"] = "legal"
    write(tmp_path, bad, "broken.toml")
    with pytest.raises(ProfileError) as info:
        load_profiles(tmp_path)
    assert str(info.value).startswith("broken.toml: page_size:")


def test_load_profiles_needs_a_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ProfileError) as info:
        load_profiles(missing)
    assert str(info.value) == (
        f"{missing}: (directory): not a directory;"
        " set REFUGE_TEMPLATES to the folder of recipient profiles"
    )


def test_get_profile_suggests_a_close_id(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        get_profile("frontline-defender", TEMPLATES)
    assert str(info.value) == (
        f"frontline-defender.toml: (file): no such profile in {TEMPLATES};"
        ' did you mean "frontline-defenders"?'
    )


def test_get_profile_refuses_paths() -> None:
    with pytest.raises(ProfileError) as info:
        get_profile("../etc/passwd", TEMPLATES)
    assert str(info.value) == (
        '"../etc/passwd": (profile): not a profile id; use lowercase letters, digits'
        " and hyphens, e.g. unhcr-resettlement"
    )


def test_document_types_can_be_extended(tmp_path: Path) -> None:
    data = base()
    data["sections"][1]["admits"] = ["medical", "police-report"]
    with pytest.raises(ProfileError):
        load_profile(write(tmp_path, data))
    profile = load_profile(write(tmp_path, data),
                           document_types=DOCUMENT_TYPES + ("police-report",))
    assert profile.section_for("police-report").id == "health"


# ------------------------------------------------------------------ placeholders


def test_cover_letter_renders_and_defaults_recipient(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, base()))
    text = profile.cover_letter(sender_org="Clinic", date="2024-05-01", document_count=3)
    assert text == "2024-05-01 To Test Organisation: 3 documents from Clinic."
    text = profile.cover_letter("fr", recipient="Mme X", sender_org="Clinique",
                                date="1 mai 2024", document_count=3, page_count=9)
    assert text == "1 mai 2024 À Mme X : 3 documents de Clinique."


def test_cover_letter_refuses_an_unknown_placeholder(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, base()))
    with pytest.raises(ProfileError) as info:
        profile.cover_letter(sender_org="C", date="d", document_count=1, case_ref="TOR-1")
    assert str(info.value) == (
        f"{F}: cover.en: unknown placeholder {{case_ref}}; use only {{recipient}},"
        " {sender_org}, {date}, {document_count}, {page_count}, {volume_count}, {redactions}" + LETTER_PLACEHOLDERS
    )


def test_cover_letter_needs_every_used_value(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, base()))
    with pytest.raises(ProfileError) as info:
        profile.cover_letter(sender_org="C", date="d")
    assert str(info.value) == (
        f"{F}: cover.en: no value for {{document_count}}; pass document_count=..."
    )


def test_cover_letter_language_must_be_accepted(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, base()))
    with pytest.raises(ProfileError) as info:
        profile.cover_letter("es", sender_org="C", date="d", document_count=1)
    assert str(info.value) == f'{F}: cover: "es" is not an accepted language; use en or fr'


def test_literal_braces_in_cover(tmp_path: Path) -> None:
    data = base()
    data["cover"]["en"] = "{{not a placeholder}} {date}"
    profile = load_profile(write(tmp_path, data))
    assert profile.cover_letter(date="today") == "{not a placeholder} today"


def test_rendered_values_are_not_reinterpreted(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, base()))
    text = profile.cover_letter(sender_org="{recipient.__class__}", date="{0}", document_count=1)
    assert text == "{0} To Test Organisation: 1 documents from {recipient.__class__}."


def test_translator_declaration_without_text(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, base()))
    with pytest.raises(ProfileError) as info:
        profile.translator_declaration(translator_name="T")
    assert str(info.value) == (
        f"{F}: translations.declaration.en: no declaration text;"
        " add translations.declaration.en"
    )


def test_output_name(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, base()))
    assert profile.output_name("2024-05-01") == "test-recipient-2024-05-01-1.pdf"
    assert profile.output_name(dt.date(2024, 5, 1), 3) == "test-recipient-2024-05-01-3.pdf"
    with pytest.raises(ProfileError) as info:
        profile.output_name("../../x")
    assert str(info.value) == (
        f'{F}: file_name: date "../../x" is not yyyy-mm-dd; pass a datetime.date or an ISO date'
    )


# ------------------------------------------------------------------ property tests

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_scalars = st.one_of(
    _text,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
)
_KNOWN_KEYS = sorted(set(P._TOP_KEYS) | {
    "top", "right", "bottom", "left", "en", "fr", "es", "title", "admits", "requires",
    "style", "columns", "consecutive", "position", "label", "bates_prefix", "bates_digits",
    "bates_start", "bates_position", "follow_original", "declaration_required",
    "declaration", "max_bytes", "split", "required", "visible",
})
_keys = st.one_of(st.sampled_from(_KNOWN_KEYS), _text)
_vocab = st.sampled_from(
    list(DOCUMENT_TYPES) + ["en", "fr", "es", "letter", "a4", "table", "hits", "all", "pdf",
                            "bottom-right", "{date}", "{volume}", "{case_ref}", "x.toml"]
)
toml_values = st.recursive(
    st.one_of(_scalars, _vocab),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_keys, children, max_size=5),
    ),
    max_leaves=25,
)
toml_dicts = st.dictionaries(_keys, toml_values, max_size=12)

_FUZZ = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


def _only_profile_error(call) -> None:
    try:
        result = call()
    except ProfileError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("x.toml: ")
    else:
        assert isinstance(result, Profile)


@_FUZZ
@given(toml_dicts)
def test_fuzz_arbitrary_dicts_raise_only_profile_error(data: dict[str, Any]) -> None:
    _only_profile_error(lambda: profile_from_dict(data, "x.toml"))


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


_VALID = [tomllib.loads((TEMPLATES / f"{pid}.toml").read_text(encoding="utf-8"))
          for pid in SHIPPED]


@_FUZZ
@given(st.data())
def test_fuzz_mutated_shipped_profiles_raise_only_profile_error(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(_VALID)))
    doc["id"] = "x"
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()):
            parent[path[-1]] = data.draw(toml_values)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    _only_profile_error(lambda: profile_from_dict(doc, "x.toml"))


@_FUZZ
@given(toml_dicts)
def test_fuzz_toml_files_raise_only_profile_error(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "x.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    _only_profile_error(lambda: load_profile(path))


@_FUZZ
@given(st.one_of(st.text(), st.binary()))
def test_fuzz_arbitrary_text_raises_only_profile_error(tmp_path: Path, blob: str | bytes) -> None:
    path = tmp_path / "x.toml"
    if isinstance(blob, str):
        path.write_text(blob, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(blob)
    _only_profile_error(lambda: load_profile(path))


def test_deeply_nested_toml_raises_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("a = " + "[" * (sys.getrecursionlimit() * 2), encoding="utf-8")
    _only_profile_error(lambda: load_profile(path))
