"""Reading a recipient profile's TOML: every field checked, every error one line naming
the file, the field and the fix (``FILE: FIELD: PROBLEM; FIX``).

:func:`read_profile` is :func:`packets.profiles.profile_from_dict`; the reading is split
by the profile's parts (identity, languages, page, sections, numbering, index,
translations, redaction, volumes, output, signature).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from vault.categories import CATEGORIES, canonical

from .profiles import (
    _BATES_PREFIX,
    _FILE_CHARS,
    _SLUG,
    _TOP_KEYS,
    COVER_PLACEHOLDERS,
    DECLARATION_PLACEHOLDERS,
    DECLARATION_REQUIRED,
    DEFAULT_FILE_NAME,
    DEFAULT_INDEX_COLUMNS,
    DEFAULT_INDEX_TITLE,
    DEFAULT_MARGIN,
    DEFAULT_PAGE_LABEL,
    FILE_NAME_PLACEHOLDERS,
    FLATTEN_POLICIES,
    INDEX_COLUMNS,
    INDEX_STYLES,
    LABEL_PLACEHOLDERS,
    LANGUAGES,
    MIN_CONTENT,
    OUTPUT_TYPES,
    PAGE_SIZES,
    POSITIONS,
    Index,
    LocalizedText,
    Margins,
    Numbering,
    Profile,
    ProfileError,
    Section,
    Signature,
    Translations,
    Volumes,
    _finite,
    _one_of,
    _or,
    _placeholders,
    _show,
    _suggest,
)


def _key(name: str) -> str:
    """A key as it appears in a dotted field path (quoted if it is not a bare key)."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        return name
    return _show(name)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (_dt.date, _dt.time)):
        return "a date/time"
    return type(value).__name__


# ---------------------------------------------------------------------------- reading


class _Reader:
    """Reads one TOML table, checking keys and types; errors name file and field."""

    def __init__(self, source: str, table: Any, path: str, allowed: Iterable[str]):
        self.source = source
        self.path = path
        allowed = tuple(allowed)
        if not isinstance(table, dict):
            self.fail(
                "", f"expected a table, got {_kind(table)} ({_show(table)})",
                f"write [{path}]" if path else "write key = value lines",
            )
        self.table: dict[str, Any] = table
        for key in table:
            if key not in allowed:
                close = _suggest(key, allowed)
                if close:
                    fix = f'did you mean "{close}"?'
                else:
                    fix = f"remove it (allowed keys: {_one_of(allowed)})"
                self.fail(key, "unknown key", fix)

    def field(self, key: str) -> str:
        if not key:
            return self.path or "(top level)"
        return f"{self.path}.{_key(key)}" if self.path else _key(key)

    def fail(self, key: str, problem: str, fix: str) -> None:
        raise ProfileError(f"{self.source}: {self.field(key)}: {problem}; {fix}")

    def has(self, key: str) -> bool:
        return key in self.table

    def _get(self, key: str, required: bool, example: str) -> Any:
        if key not in self.table:
            if required:
                self.fail(key, "missing", f"add {key} = {example}")
            return None
        return self.table[key]

    def string(self, key: str, default: str | None = None, *, required: bool = False,
               example: str = '"..."', nonempty: bool = True) -> str | None:
        value = self._get(key, required, example)
        if value is None:
            return default
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_kind(value)} ({_show(value)})",
                      f"write {key} = {example}")
        if nonempty and not value.strip():
            self.fail(key, "is empty", f"write {key} = {example}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, False, "true")
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {_kind(value)} ({_show(value)})",
                      f"write {key} = true or {key} = false")
        return value

    def integer(self, key: str, default: int | None = None, *, required: bool = False,
                example: str = "1", low: int | None = None, high: int | None = None) -> int | None:
        value = self._get(key, required, example)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected an integer, got {_kind(value)} ({_show(value)})",
                      f"write {key} = {example}")
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                rng = f"at least {low}"
            elif low is None:
                rng = f"at most {high}"
            else:
                rng = f"between {low} and {high}"
            self.fail(key, f"{_show(value)} is out of range", f"use an integer {rng}")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None, *,
               required: bool = False, fold_case: bool = False) -> str | None:
        value = self.string(key, None, required=required, example=f'"{options[0]}"')
        if value is None:
            return default
        candidate = value.lower() if fold_case else value
        if candidate not in options:
            self.fail(key, f"{_show(value)} is not one of {_one_of(options)}",
                      f"use {_or(options)}")
        return candidate

    def string_list(self, key: str, default: tuple[str, ...] = (), *,
                    options: tuple[str, ...] | None = None, example: str = '["..."]',
                    unique: bool = True) -> tuple[str, ...]:
        value = self._get(key, False, example)
        if value is None:
            return default
        if not isinstance(value, list):
            self.fail(key, f"expected a list, got {_kind(value)} ({_show(value)})",
                      f"write {key} = {example}")
        seen: list[str] = []
        for item in value:
            if not isinstance(item, str):
                self.fail(key, f"expected strings, got {_kind(item)} ({_show(item)})",
                          f"write {key} = {example}")
            if options is not None and item not in options:
                close = _suggest(item, options)
                fix = f'did you mean "{close}"?' if close else f"use {_or(options)}"
                self.fail(key, f"{_show(item)} is not one of {_one_of(options)}", fix)
            if unique and item in seen:
                self.fail(key, f"{_show(item)} is listed twice", "list it once")
            seen.append(item)
        return tuple(seen)

    def table_of(self, key: str, allowed: Iterable[str], *, required: bool = False) -> "_Reader":
        value = self._get(key, required, "{ ... }")
        if value is None:
            value = {}
        return _Reader(self.source, value, self.field(key), allowed)


def _localized(reader: _Reader, key: str, *, required_langs: Iterable[str],
               allowed_placeholders: tuple[str, ...], defaults: Mapping[str, str] | None = None,
               must_use: tuple[str, ...] = (), required: bool = True) -> LocalizedText:
    """Read a {en, fr, es} text table; every language in ``required_langs`` must have text."""
    present = key in reader.table
    sub = reader.table_of(key, LANGUAGES)
    texts: dict[str, str | None] = {}
    for lang in LANGUAGES:
        text = sub.string(lang, None, example='"..."')
        if text is None and defaults is not None:
            text = defaults.get(lang)
        if text is not None:
            used = _placeholders(text, f"{reader.source}: {sub.field(lang)}", allowed_placeholders)
            for name in must_use:
                if name not in used:
                    sub.fail(lang, f"does not contain {{{name}}}",
                             f"add {{{name}}} to the text")
        texts[lang] = text
    if required or present:
        for lang in required_langs:
            if texts.get(lang) is None:
                sub.fail(lang, f"no text for accepted language {lang}",
                         f'add {sub.field(lang)} = "..." or remove {lang} from accepted_languages')
    return LocalizedText(**texts)




def _margins(top: _Reader, width: float, height: float, size: str) -> Margins:
    value = top.table.get("margins", DEFAULT_MARGIN)
    sides = ("top", "right", "bottom", "left")
    if isinstance(value, dict):
        sub = top.table_of("margins", sides)
        got: dict[str, float] = {}
        for side in sides:
            v = sub.table.get(side, DEFAULT_MARGIN)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                sub.fail(side, f"expected a number of points, got {_kind(v)} ({_show(v)})",
                         f"write {side} = {DEFAULT_MARGIN:g}")
            if not _finite(v) or v < 0:
                sub.fail(side, f"{_show(v)} is not a non-negative number of points",
                         f"write {side} = {DEFAULT_MARGIN:g}")
            got[side] = float(v)
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            top.fail("margins", f"expected points or a table, got {_kind(value)} ({_show(value)})",
                     "write margins = 54 or margins = { top = 54, right = 54, bottom = 54, left = 54 }")
        if not _finite(value) or value < 0:
            top.fail("margins", f"{_show(value)} is not a non-negative number of points",
                     "write margins = 54")
        got = {side: float(value) for side in sides}
    if width - got["left"] - got["right"] < MIN_CONTENT:
        top.fail("margins", f"left + right leave less than {MIN_CONTENT:g} points of a"
                 f" {size} page's width ({width:g})", "use smaller left and right margins")
    if height - got["top"] - got["bottom"] < MIN_CONTENT:
        top.fail("margins", f"top + bottom leave less than {MIN_CONTENT:g} points of a"
                 f" {size} page's height ({height:g})", "use smaller top and bottom margins")
    return Margins(**got)


def _identity(top: _Reader, src: str, src_path: Path) -> dict:
    pid = top.string("id", required=True, example=f'"{src_path.stem}"')
    assert pid is not None
    if not _SLUG.fullmatch(pid):
        top.fail("id", f"{_show(pid)} is not a lowercase slug",
                 "use lowercase letters, digits and hyphens, e.g. \"unhcr-resettlement\"")
    if src.endswith(".toml") and pid != src_path.stem:
        top.fail("id", f"{_show(pid)} does not match the file name",
                 f"rename the file to {pid}.toml or write id = \"{src_path.stem}\"")
    version = top.integer("version", required=True, example="1", low=1)
    name = top.string("name", required=True, example='"Recipient display name"')
    organisation = top.string("organisation", required=True, example='"Recipient organisation"')
    assert version is not None and name is not None and organisation is not None
    return {"id": pid, "version": version, "name": name, "organisation": organisation}


def _languages(top: _Reader) -> dict:
    language = top.choice("language", LANGUAGES, required=True)
    assert language is not None
    accepted = top.string_list("accepted_languages", (language,), options=LANGUAGES,
                               example=f'["{language}"]')
    if not accepted:
        top.fail("accepted_languages", "is empty", f'write accepted_languages = ["{language}"]')
    if language not in accepted:
        top.fail("accepted_languages", f"does not include language ({language})",
                 f"add \"{language}\" to accepted_languages")
    return {"language": language, "accepted_languages": accepted}


def _page(top: _Reader) -> dict:
    page_size = top.choice("page_size", tuple(PAGE_SIZES), required=True, fold_case=True)
    assert page_size is not None
    width, height = PAGE_SIZES[page_size]
    return {"page_size": page_size, "page_width": width, "page_height": height,
            "margins": _margins(top, width, height, page_size)}


def _cover(top: _Reader, accepted: tuple[str, ...]) -> LocalizedText:
    if "cover" not in top.table:
        top.fail("cover", "missing", "add a [cover] table with en, fr, es letter text")
    return _localized(top, "cover", required_langs=accepted, allowed_placeholders=COVER_PLACEHOLDERS)


def _section(src: str, raw: Any, i: int, sections: list[Section], owner: dict[str, str],
             excluded: tuple[str, ...], accepted: tuple[str, ...], document_types: tuple[str, ...]) -> Section:
    sr = _Reader(src, raw, f"sections[{i}]", ("id", "title", "admits", "requires"))
    sid = sr.string("id", required=True, example='"identity"')
    assert sid is not None
    if not _SLUG.fullmatch(sid):
        sr.fail("id", f"{_show(sid)} is not a lowercase slug",
                "use lowercase letters, digits and hyphens, e.g. \"identity\"")
    if any(s.id == sid for s in sections):
        sr.fail("id", f"{_show(sid)} is used by another section", "give each section its own id")
    sr.path = f"sections.{sid}"
    if "title" not in sr.table:
        sr.fail("title", "missing", "add a title table with text per accepted language")
    title = _localized(sr, "title", required_langs=accepted, allowed_placeholders=())
    if "admits" not in sr.table:
        sr.fail("admits", "missing", 'add admits = ["..."] with the document types it admits')
    admits = sr.string_list("admits", options=document_types, example='["identity"]')
    if not admits:
        sr.fail("admits", "is empty", "list the document types this section admits")
    for t in admits:
        if t in owner:
            sr.fail("admits", f"{t} is already admitted by section {owner[t]}",
                    "admit each type in one section")
        if t in excluded:
            sr.fail("admits", f"{t} is also in excluded_types",
                    f"remove {t} from admits or from excluded_types")
        owner[t] = sid
    requires = sr.string_list("requires", options=document_types, example='["identity"]')
    for t in requires:
        if t not in admits:
            sr.fail("requires", f"{t} is not in this section's admits",
                    f"add {t} to admits or remove it from requires")
    return Section(id=sid, title=title, admits=admits, requires=requires)


def _sections(top: _Reader, src: str, accepted: tuple[str, ...], document_types: tuple[str, ...]) -> dict:
    excluded = top.string_list("excluded_types", options=document_types,
                               example='["correspondence"]')
    if "sections" not in top.table:
        top.fail("sections", "missing", "add at least one [[sections]] table")
    raw_sections = top.table["sections"]
    if not isinstance(raw_sections, list) or not raw_sections:
        top.fail("sections", f"expected a list of tables, got {_kind(raw_sections)}"
                 f" ({_show(raw_sections)})", "add [[sections]] tables with id, title and admits")
    sections: list[Section] = []
    owner: dict[str, str] = {}
    for i, raw in enumerate(raw_sections, start=1):
        sections.append(_section(src, raw, i, sections, owner, excluded, accepted, document_types))
    return {"excluded_types": excluded, "sections": tuple(sections)}


def _numbering(top: _Reader, accepted: tuple[str, ...]) -> Numbering:
    nr = top.table_of("numbering", ("consecutive", "position", "label", "bates_prefix",
                                    "bates_digits", "bates_start", "bates_position"))
    consecutive = nr.boolean("consecutive", True)
    position = nr.choice("position", POSITIONS, "bottom-right")
    label = _localized(nr, "label", required_langs=accepted,
                       allowed_placeholders=LABEL_PLACEHOLDERS, defaults=DEFAULT_PAGE_LABEL)
    bates_prefix = nr.string("bates_prefix", None, example='"REF-"')
    if bates_prefix is not None and not _BATES_PREFIX.fullmatch(bates_prefix):
        nr.fail("bates_prefix", f"{_show(bates_prefix)} is not 1-16 letters, digits, . _ -",
                'use a short prefix such as "REF-"')
    bates_digits = nr.integer("bates_digits", 6, example="6", low=1, high=12)
    bates_start = nr.integer("bates_start", 1, example="1", low=0, high=10**12 - 1)
    bates_position = nr.choice("bates_position", POSITIONS, "bottom-left")
    assert bates_digits is not None and bates_start is not None
    assert position is not None and bates_position is not None
    if bates_prefix is not None and consecutive and bates_position == position:
        nr.fail("bates_position", f"same corner as numbering.position ({position})",
                "put the Bates number and the page label in different corners")
    return Numbering(consecutive=consecutive, position=position, label=label,
                     bates_prefix=bates_prefix, bates_digits=bates_digits,
                     bates_start=bates_start, bates_position=bates_position)


def _index(top: _Reader, accepted: tuple[str, ...], numbering: Numbering) -> Index:
    ir = top.table_of("index", ("style", "columns", "title"))
    style = ir.choice("style", INDEX_STYLES, "table")
    assert style is not None
    columns = ir.string_list("columns", DEFAULT_INDEX_COLUMNS, options=INDEX_COLUMNS,
                             example='["number", "title", "pages"]')
    if style != "none" and not columns:
        ir.fail("columns", f"is empty but style is {style}",
                'list columns, e.g. ["number", "title", "pages"], or write style = "none"')
    if "bates" in columns and numbering.bates_prefix is None:
        ir.fail("columns", "bates needs numbering.bates_prefix",
                "set numbering.bates_prefix or remove the bates column")
    index_title = _localized(ir, "title", required_langs=accepted, allowed_placeholders=(),
                             defaults=DEFAULT_INDEX_TITLE)
    return Index(style=style, columns=columns, title=index_title)


def _translations(top: _Reader, accepted: tuple[str, ...]) -> Translations:
    tr = top.table_of("translations", ("follow_original", "declaration_required", "declaration"))
    follow = tr.boolean("follow_original", True)
    decl_required = tr.boolean("declaration_required", False)
    if decl_required and "declaration" not in tr.table:
        tr.fail("declaration", "missing but declaration_required is true",
                "add a [translations.declaration] table with text per accepted language")
    declaration = _localized(tr, "declaration", required_langs=accepted,
                             allowed_placeholders=DECLARATION_PLACEHOLDERS,
                             must_use=DECLARATION_REQUIRED, required=decl_required)
    return Translations(follow_original=follow, declaration_required=decl_required,
                        declaration=declaration)


def _redaction(top: _Reader) -> dict:
    categories = top.string_list("redaction_categories", example='["location"]')
    for cat in categories:
        if cat == "always":
            top.fail("redaction_categories", "always is implicit", "remove \"always\"")
        if not _SLUG.fullmatch(cat):
            top.fail("redaction_categories", f"{_show(cat)} is not a lowercase slug",
                     "use lowercase letters, digits and hyphens, e.g. \"location\"")
        if canonical(cat) not in CATEGORIES:
            top.fail("redaction_categories", f"{_show(cat)} is not a category",
                     f"use one of {', '.join(c for c in CATEGORIES if c != 'always')}")
    flatten = top.choice("flatten", FLATTEN_POLICIES, "all")
    assert flatten is not None
    return {"redaction_categories": categories, "flatten": flatten, "ocr": top.boolean("ocr", False),
            "ocr_text_layer": top.boolean("ocr_text_layer", True),
            "require_review": top.boolean("require_review", False),
            "office_markup": top.choice("office_markup", ("refuse", "show"), "refuse"),
            **_coverage(top),
            "separator_pages": top.boolean("separator_pages", False)}


def _coverage(top: _Reader) -> dict:
    """The coverage keys: whether unreviewed candidates block, initials, face blurring."""
    return {"block_candidates": top.boolean("block_candidates", False),
            "redact_initials": top.boolean("redact_initials", False),
            "blur_faces": top.boolean("blur_faces", False)}


def _volumes(top: _Reader) -> Volumes:
    vr = top.table_of("volumes", ("max_bytes", "split"))
    max_bytes = vr.integer("max_bytes", None, example="4000000", low=1, high=2**63 - 1)
    return Volumes(max_bytes=max_bytes, split=vr.boolean("split", True))


def _output(top: _Reader, src: str, pid: str, volumes: Volumes, shape: str = "single") -> dict:
    file_name = top.string("file_name", DEFAULT_FILE_NAME, example=f'"{DEFAULT_FILE_NAME}"')
    assert file_name is not None
    used = _placeholders(file_name, f"{src}: file_name", FILE_NAME_PLACEHOLDERS)
    sample = file_name.format(profile=pid, date="2024-01-31", volume=1, type="identity", irb_file_number="TB1-12345",
                              uci="12345678", unhcr_case_number="123-21C01234")
    if not _FILE_CHARS.fullmatch(sample) or sample.startswith("."):
        top.fail("file_name", f"{_show(file_name)} has characters other than letters,"
                 " digits, . _ - or starts with a dot",
                 f'use only those characters, e.g. "{DEFAULT_FILE_NAME}"')
    if not sample.lower().endswith(".pdf"):
        top.fail("file_name", f"{_show(file_name)} does not end in .pdf",
                 f'end it with .pdf, e.g. "{DEFAULT_FILE_NAME}"')
    if volumes.max_bytes is not None and volumes.split and "volume" not in used:
        top.fail("file_name", f"has no {{volume}} but volumes split at {volumes.max_bytes} bytes",
                 "add {volume} to file_name")
    if shape == "per-type" and "type" not in used:
        top.fail("file_name", "has no {type} but output is per-type (one file per document type)",
                 "add {type} to file_name")
    output_types = top.string_list("output_types", ("pdf",), options=OUTPUT_TYPES,
                                   example='["pdf"]')
    if "pdf" not in output_types:
        top.fail("output_types", "does not include pdf (packets are PDF files)",
                 'add "pdf" to output_types')
    return {"file_name": file_name, "output_types": output_types}


def _signature(top: _Reader) -> Signature:
    sg = top.table_of("signature", ("required", "visible", "show_counsel"))
    sig_required = sg.boolean("required", True)
    sig_visible = sg.boolean("visible", True)
    if sig_visible and not sig_required:
        sg.fail("visible", "is true but signature.required is false",
                "set required = true or visible = false")
    return Signature(required=sig_required, visible=sig_visible, show_counsel=sg.boolean("show_counsel", False))


def read_profile(data: Mapping[str, Any], source: str | os.PathLike[str],
                 document_types: tuple[str, ...]) -> Profile:
    """Validate parsed TOML ``data`` and build a :class:`~packets.profiles.Profile`, part
    by part in the order of the file (see :func:`packets.profiles.profile_from_dict`)."""
    src_path = Path(os.fspath(source))
    src = src_path.name or str(source)
    top = _Reader(src, data, "", _TOP_KEYS)
    fields = _identity(top, src, src_path)
    fields.update(_languages(top))
    accepted = fields["accepted_languages"]
    fields.update(_page(top))
    fields["cover"] = _cover(top, accepted)
    fields.update(_sections(top, src, accepted, document_types))
    fields["numbering"] = _numbering(top, accepted)
    fields["index"] = _index(top, accepted, fields["numbering"])
    fields["translations"] = _translations(top, accepted)
    fields.update(_redaction(top))
    from ._portals import read_shape

    fields.update(read_shape(top, _volumes(top)))
    fields.update(_output(top, src, fields["id"], fields["volumes"], fields["output"]))
    fields["signature"] = _signature(top)
    from ._profile_letters import read_letters  # case details, letters, deadlines (issue 18)

    fields.update(read_letters(top, accepted, fields["cover"]))
    return Profile(**fields, path=src_path if src.endswith(".toml") else None)
