"""Recipient profiles: one TOML file per recipient in the project's templates/ folder.

A profile is data, not code: page size and margins, languages and cover-letter text,
sections and the document types each admits or requires, the types never sent, the index,
page numbering, separator pages, translations, redaction categories, flattening, OCR,
review, volumes, the output file name and types, and the signature. Adding a recipient is
adding a file; ``templates/README.md`` documents every field.

Profiles are validated when they are loaded. Every problem raises :class:`ProfileError`
with one line that names the file, the field and the fix, e.g.::

    ircc-resettlement.toml: page_size: "legal" is not one of letter, a4; use letter or a4

This module uses only the standard library (``tomllib``) and never imports click.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import math
import os
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from vault.core import DOC_TYPES
from vault.errors import InvalidInput

__all__ = [
    "COVER_PLACEHOLDERS",
    "DECLARATION_PLACEHOLDERS",
    "DOCUMENT_TYPES",
    "ENV_VAR",
    "FILE_NAME_PLACEHOLDERS",
    "LABEL_PLACEHOLDERS",
    "LANGUAGES",
    "PAGE_SIZES",
    "Index",
    "LocalizedText",
    "Margins",
    "Numbering",
    "Profile",
    "ProfileError",
    "Section",
    "Signature",
    "Translations",
    "Volumes",
    "default_templates_dir",
    "get_profile",
    "load_profile",
    "load_profiles",
    "profile_from_dict",
    "templates_dir",
]

# --------------------------------------------------------------------------- vocabulary

#: The fixed vocabulary of document types (DESIGN.md, "Document types"): the vault's own list.
DOCUMENT_TYPES: tuple[str, ...] = DOC_TYPES

#: Languages a packet's own text (cover, index, labels, declarations) can be written in.
LANGUAGES: tuple[str, ...] = ("en", "fr", "es")

#: Page size names and their (width, height) in PDF points.
PAGE_SIZES: dict[str, tuple[float, float]] = {
    "letter": (612.0, 792.0),
    "a4": (595.28, 841.89),
}

#: Placeholders a cover letter may use. None of them can carry the case reference, a
#: document title or a person's name: those are secret and never go into a template.
COVER_PLACEHOLDERS: tuple[str, ...] = (
    "recipient",
    "sender_org",
    "date",
    "document_count",
    "page_count",
    "volume_count",
)

#: Placeholders a translator's declaration may use.
DECLARATION_PLACEHOLDERS: tuple[str, ...] = (
    "translator_name",
    "source_language",
    "dialect",
    "target_language",
    "date",
)
#: Placeholders a translator's declaration must use (name, language and dialect).
DECLARATION_REQUIRED: tuple[str, ...] = ("translator_name", "source_language", "dialect")

#: Placeholders a page label ("Page N of M") may use.
LABEL_PLACEHOLDERS: tuple[str, ...] = ("page", "pages")

#: Placeholders the output file name may use. Never the case reference.
FILE_NAME_PLACEHOLDERS: tuple[str, ...] = ("profile", "date", "volume")

INDEX_STYLES: tuple[str, ...] = ("table", "list", "none")
INDEX_COLUMNS: tuple[str, ...] = (
    "number",
    "title",
    "type",
    "section",
    "language",
    "date",
    "pages",
    "bates",
)
POSITIONS: tuple[str, ...] = (
    "top-left",
    "top-center",
    "top-right",
    "bottom-left",
    "bottom-center",
    "bottom-right",
)
FLATTEN_POLICIES: tuple[str, ...] = ("hits", "all")
OUTPUT_TYPES: tuple[str, ...] = ("pdf", "tiff", "jpg", "png", "doc", "docx")

#: Environment variable that overrides the templates directory.
ENV_VAR = "REFUGE_TEMPLATES"

DEFAULT_MARGIN = 54.0  # points (0.75 inch)
MIN_CONTENT = 72.0  # points left for content after margins, each way
DEFAULT_FILE_NAME = "{profile}-{date}-{volume}.pdf"
DEFAULT_INDEX_COLUMNS: tuple[str, ...] = ("number", "title", "type", "pages")

DEFAULT_INDEX_TITLE = {
    "en": "Index of documents",
    "fr": "Index des documents",
    "es": "Índice de documentos",
}
DEFAULT_PAGE_LABEL = {
    "en": "Page {page} of {pages}",
    "fr": "Page {page} de {pages}",
    "es": "Página {page} de {pages}",
}

def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_FILE_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_BATES_PREFIX = re.compile(r"[A-Za-z0-9._-]{1,16}")

# ----------------------------------------------------------------------------- errors


class ProfileError(InvalidInput):
    """A recipient profile is invalid or cannot be found or rendered.

    The message is one line: ``FILE: FIELD: PROBLEM; FIX``.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(" ".join(str(message).splitlines()), hint=hint)


def _show(value: Any, limit: int = 40) -> str:
    """A short, one-line rendering of a value for an error message."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        try:
            text = repr(value)
        except ValueError:  # an integer too long to print
            text = "a very large integer"
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = str(value)
    text = " ".join(text.splitlines())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


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


def _suggest(word: str, options: Iterable[str]) -> str | None:
    """The option closest to ``word`` (case-insensitive), or ``None``."""
    opts = list(options)
    lowered = {o.lower(): o for o in opts}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def _one_of(options: Iterable[str]) -> str:
    return ", ".join(options)


def _or(options: Iterable[str]) -> str:
    opts = list(options)
    if len(opts) <= 1:
        return "".join(opts)
    return ", ".join(opts[:-1]) + " or " + opts[-1]


# ------------------------------------------------------------------------ dataclasses


@dataclass(frozen=True)
class LocalizedText:
    """Text in up to three languages (en, fr, es); ``None`` where a language is absent."""

    en: str | None = None
    fr: str | None = None
    es: str | None = None

    def get(self, lang: str) -> str | None:
        """Return the text for ``lang`` (en, fr or es), or ``None`` if there is none."""
        if lang not in LANGUAGES:
            return None
        return getattr(self, lang)

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages that have text, in en, fr, es order."""
        return tuple(lang for lang in LANGUAGES if getattr(self, lang) is not None)


@dataclass(frozen=True)
class Margins:
    """Page margins in PDF points (1/72 inch)."""

    top: float
    right: float
    bottom: float
    left: float


@dataclass(frozen=True)
class Section:
    """One section of the packet, in order: the document types it admits and requires."""

    id: str
    title: LocalizedText
    admits: tuple[str, ...]
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Index:
    """The list identifying each document: ``style`` is table, list or none."""

    style: str
    columns: tuple[str, ...]
    title: LocalizedText


@dataclass(frozen=True)
class Numbering:
    """Page numbering across the whole packet (all volumes, front matter included).

    ``consecutive`` prints ``label`` ("Page {page} of {pages}") at ``position``;
    ``bates_prefix`` (``None`` for none) prints prefix + zero-padded number, starting at
    ``bates_start`` with ``bates_digits`` digits, at ``bates_position``.
    """

    consecutive: bool
    position: str
    label: LocalizedText
    bates_prefix: str | None
    bates_digits: int
    bates_start: int
    bates_position: str

    @property
    def bates(self) -> bool:
        """True if pages carry a Bates number."""
        return self.bates_prefix is not None


@dataclass(frozen=True)
class Translations:
    """How translations are placed: after their original, with or without a declaration.

    ``declaration`` holds the translator's declaration text per language, with
    ``{translator_name}``, ``{source_language}``, ``{dialect}`` (and optionally
    ``{target_language}``, ``{date}``) placeholders; the text itself states accuracy.
    """

    follow_original: bool
    declaration_required: bool
    declaration: LocalizedText


@dataclass(frozen=True)
class Volumes:
    """Size limit per output file in bytes (``None``: no limit) and whether to split."""

    max_bytes: int | None
    split: bool

    @property
    def limited(self) -> bool:
        """True if output files have a size limit."""
        return self.max_bytes is not None


@dataclass(frozen=True)
class Signature:
    """Whether the packet must be signed, and whether the signature block is visible."""

    required: bool
    visible: bool


@dataclass(frozen=True)
class Profile:
    """A validated recipient profile (see templates/README.md for every field)."""

    id: str
    version: int
    name: str
    organisation: str
    language: str
    accepted_languages: tuple[str, ...]
    page_size: str
    page_width: float
    page_height: float
    margins: Margins
    cover: LocalizedText
    sections: tuple[Section, ...]
    excluded_types: tuple[str, ...]
    index: Index
    numbering: Numbering
    separator_pages: bool
    translations: Translations
    redaction_categories: tuple[str, ...]
    flatten: str
    ocr: bool
    require_review: bool
    ocr_text_layer: bool
    volumes: Volumes
    file_name: str
    output_types: tuple[str, ...]
    signature: Signature
    path: Path | None = field(default=None, compare=False)

    # -- questions the pipeline asks ------------------------------------------------

    @property
    def source_name(self) -> str:
        """The profile's file name (for error messages)."""
        return self.path.name if self.path is not None else f"{self.id}.toml"

    @property
    def admitted_types(self) -> frozenset[str]:
        """Every document type some section admits."""
        return frozenset(t for s in self.sections for t in s.admits)

    @property
    def required_types(self) -> tuple[str, ...]:
        """Every document type some section requires, in section order."""
        return tuple(t for s in self.sections for t in s.requires)

    def section_for(self, doc_type: str) -> Section | None:
        """The section that admits ``doc_type``, or ``None`` if no section does."""
        for section in self.sections:
            if doc_type in section.admits:
                return section
        return None

    def excludes(self, doc_type: str) -> bool:
        """True if documents of ``doc_type`` are never sent to this recipient."""
        return doc_type in self.excluded_types

    # -- rendering --------------------------------------------------------------------

    def _lang(self, lang: str | None, what: str) -> str:
        lang = self.language if lang is None else lang
        if lang not in self.accepted_languages:
            raise ProfileError(
                f"{self.source_name}: {what}: {_show(lang)} is not an accepted language;"
                f" use {_or(self.accepted_languages)}"
            )
        return lang

    def cover_letter(self, lang: str | None = None, **fields: Any) -> str:
        """Render the cover letter in ``lang`` (default: the profile's language).

        Fields are the placeholders in :data:`COVER_PLACEHOLDERS`; ``recipient``
        defaults to the profile's organisation. An unknown field or a placeholder left
        without a value raises :class:`ProfileError`.
        """
        lang = self._lang(lang, "cover")
        values = {"recipient": self.organisation, **fields}
        return _render(
            self.cover.get(lang) or "", values, COVER_PLACEHOLDERS,
            f"{self.source_name}: cover.{lang}",
        )

    def translator_declaration(self, lang: str | None = None, **fields: Any) -> str:
        """Render the translator's declaration in ``lang`` (default: profile language).

        Fields are the placeholders in :data:`DECLARATION_PLACEHOLDERS`. Raises
        :class:`ProfileError` if the profile has no declaration text for ``lang``, on
        an unknown field, or if a placeholder is left without a value.
        """
        lang = self._lang(lang, "translations.declaration")
        text = self.translations.declaration.get(lang)
        if text is None:
            raise ProfileError(
                f"{self.source_name}: translations.declaration.{lang}: no declaration"
                f" text; add translations.declaration.{lang}"
            )
        return _render(
            text, fields, DECLARATION_PLACEHOLDERS,
            f"{self.source_name}: translations.declaration.{lang}",
        )

    def page_label(self, page: int, pages: int, lang: str | None = None) -> str:
        """The consecutive page label, e.g. "Page 3 of 40", in ``lang``."""
        lang = self._lang(lang, "numbering.label")
        text = self.numbering.label.get(lang) or DEFAULT_PAGE_LABEL[lang]
        return _render(
            text, {"page": page, "pages": pages}, LABEL_PLACEHOLDERS,
            f"{self.source_name}: numbering.label.{lang}",
        )

    def bates_label(self, n: int) -> str | None:
        """The Bates number of the ``n``-th page (1-based), or ``None`` without Bates."""
        nb = self.numbering
        if nb.bates_prefix is None:
            return None
        return f"{nb.bates_prefix}{nb.bates_start + n - 1:0{nb.bates_digits}d}"

    def output_name(self, date: _dt.date | str, volume: int = 1) -> str:
        """The output file name for ``volume`` (1-based) on ``date`` (ISO yyyy-mm-dd)."""
        if isinstance(date, (_dt.date, _dt.datetime)):
            date = date.strftime("%Y-%m-%d")
        if not isinstance(date, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            raise ProfileError(
                f"{self.source_name}: file_name: date {_show(date)} is not yyyy-mm-dd;"
                " pass a datetime.date or an ISO date"
            )
        if isinstance(volume, bool) or not isinstance(volume, int) or volume < 1:
            raise ProfileError(
                f"{self.source_name}: file_name: volume {_show(volume)} is not a positive"
                " integer; pass volume=1, 2, ..."
            )
        return self.file_name.format(profile=self.id, date=date, volume=volume)


# ------------------------------------------------------------------------ placeholders


def _ph(name: Any) -> str:
    """A placeholder name as written in a template, e.g. {date}."""
    if isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_]{0,40}", name):
        return "{" + name + "}"
    return "{" + _show(name, 30) + "}"


def _placeholders(text: str, where: str, allowed: tuple[str, ...]) -> set[str]:
    """The placeholder names in ``text``; raises ProfileError on anything else."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ProfileError(
            f"{where}: malformed placeholder ({exc}); write {{{{ and }}}} for literal braces"
        ) from None
    names: set[str] = set()
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed:
            raise ProfileError(
                f"{where}: unknown placeholder {_ph(name)};"
                f" use only {', '.join(_ph(a) for a in allowed)}"
            )
        if spec or conversion:
            raise ProfileError(
                f"{where}: placeholder {{{name}}} has a conversion or format spec;"
                f" write {{{name}}}"
            )
        names.add(name)
    return names


def _render(text: str, values: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> str:
    for name in values:
        if name not in allowed:
            raise ProfileError(
                f"{where}: unknown placeholder {_ph(name)};"
                f" use only {', '.join(_ph(a) for a in allowed)}"
            )
    needed = _placeholders(text, where, allowed)
    missing = sorted(needed - set(values))
    if missing:
        raise ProfileError(
            f"{where}: no value for {{{missing[0]}}}; pass {missing[0]}=..."
        )
    return text.format(**{k: str(v) for k, v in values.items()})


# ---------------------------------------------------------------------------- parsing


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


_TOP_KEYS = (
    "id", "version", "name", "organisation", "language", "accepted_languages",
    "page_size", "margins", "cover", "sections", "excluded_types", "index", "numbering",
    "separator_pages", "translations", "redaction_categories", "flatten", "ocr", "ocr_text_layer",
    "require_review", "volumes", "file_name", "output_types", "signature",
)


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


def profile_from_dict(data: Mapping[str, Any], source: str | os.PathLike[str] = "<profile>",
                      *, document_types: tuple[str, ...] = DOCUMENT_TYPES) -> Profile:
    """Validate parsed TOML ``data`` and build a :class:`Profile`.

    ``source`` is the profile's file name or path: its stem must equal ``id`` and its
    name prefixes every error. ``document_types`` extends or replaces the vocabulary.
    Raises :class:`ProfileError` (one line: file, field, fix) on any problem.
    """
    src_path = Path(os.fspath(source))
    src = src_path.name or str(source)
    top = _Reader(src, data, "", _TOP_KEYS)

    # identity ---------------------------------------------------------------------
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

    # languages ----------------------------------------------------------------------
    language = top.choice("language", LANGUAGES, required=True)
    accepted = top.string_list("accepted_languages", (language,), options=LANGUAGES,
                               example=f'["{language}"]')
    if not accepted:
        top.fail("accepted_languages", "is empty", f'write accepted_languages = ["{language}"]')
    if language not in accepted:
        top.fail("accepted_languages", f"does not include language ({language})",
                 f"add \"{language}\" to accepted_languages")

    # page ---------------------------------------------------------------------------
    page_size = top.choice("page_size", tuple(PAGE_SIZES), required=True, fold_case=True)
    assert page_size is not None
    width, height = PAGE_SIZES[page_size]
    margins = _margins(top, width, height, page_size)

    # cover letter -------------------------------------------------------------------
    if "cover" not in top.table:
        top.fail("cover", "missing", "add a [cover] table with en, fr, es letter text")
    cover = _localized(top, "cover", required_langs=accepted,
                       allowed_placeholders=COVER_PLACEHOLDERS)

    # document types -----------------------------------------------------------------
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
        sections.append(Section(id=sid, title=title, admits=admits, requires=requires))

    # numbering ----------------------------------------------------------------------
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
    numbering = Numbering(consecutive=consecutive, position=position, label=label,
                          bates_prefix=bates_prefix, bates_digits=bates_digits,
                          bates_start=bates_start, bates_position=bates_position)

    # index --------------------------------------------------------------------------
    ir = top.table_of("index", ("style", "columns", "title"))
    style = ir.choice("style", INDEX_STYLES, "table")
    assert style is not None
    columns = ir.string_list("columns", DEFAULT_INDEX_COLUMNS, options=INDEX_COLUMNS,
                             example='["number", "title", "pages"]')
    if style != "none" and not columns:
        ir.fail("columns", f"is empty but style is {style}",
                'list columns, e.g. ["number", "title", "pages"], or write style = "none"')
    if "bates" in columns and bates_prefix is None:
        ir.fail("columns", "bates needs numbering.bates_prefix",
                "set numbering.bates_prefix or remove the bates column")
    index_title = _localized(ir, "title", required_langs=accepted, allowed_placeholders=(),
                             defaults=DEFAULT_INDEX_TITLE)
    index = Index(style=style, columns=columns, title=index_title)

    # translations ---------------------------------------------------------------------
    tr = top.table_of("translations", ("follow_original", "declaration_required", "declaration"))
    follow = tr.boolean("follow_original", True)
    decl_required = tr.boolean("declaration_required", False)
    if decl_required and "declaration" not in tr.table:
        tr.fail("declaration", "missing but declaration_required is true",
                "add a [translations.declaration] table with text per accepted language")
    declaration = _localized(tr, "declaration", required_langs=accepted,
                             allowed_placeholders=DECLARATION_PLACEHOLDERS,
                             must_use=DECLARATION_REQUIRED, required=decl_required)
    translations = Translations(follow_original=follow, declaration_required=decl_required,
                                declaration=declaration)

    # redaction ------------------------------------------------------------------------
    categories = top.string_list("redaction_categories", example='["location"]')
    for cat in categories:
        if cat == "always":
            top.fail("redaction_categories", "always is implicit", "remove \"always\"")
        if not _SLUG.fullmatch(cat):
            top.fail("redaction_categories", f"{_show(cat)} is not a lowercase slug",
                     "use lowercase letters, digits and hyphens, e.g. \"location\"")
    flatten = top.choice("flatten", FLATTEN_POLICIES, "hits")
    ocr = top.boolean("ocr", False)
    ocr_text_layer = top.boolean("ocr_text_layer", False)
    require_review = top.boolean("require_review", False)
    separator_pages = top.boolean("separator_pages", False)

    # volumes --------------------------------------------------------------------------
    vr = top.table_of("volumes", ("max_bytes", "split"))
    max_bytes = vr.integer("max_bytes", None, example="4000000", low=1, high=2**63 - 1)
    split = vr.boolean("split", True)

    # output ---------------------------------------------------------------------------
    file_name = top.string("file_name", DEFAULT_FILE_NAME, example=f'"{DEFAULT_FILE_NAME}"')
    assert file_name is not None
    used = _placeholders(file_name, f"{src}: file_name", FILE_NAME_PLACEHOLDERS)
    sample = file_name.format(profile=pid, date="2024-01-31", volume=1)
    if not _FILE_CHARS.fullmatch(sample) or sample.startswith("."):
        top.fail("file_name", f"{_show(file_name)} has characters other than letters,"
                 " digits, . _ - or starts with a dot",
                 f'use only those characters, e.g. "{DEFAULT_FILE_NAME}"')
    if not sample.lower().endswith(".pdf"):
        top.fail("file_name", f"{_show(file_name)} does not end in .pdf",
                 f'end it with .pdf, e.g. "{DEFAULT_FILE_NAME}"')
    if max_bytes is not None and split and "volume" not in used:
        top.fail("file_name", f"has no {{volume}} but volumes split at {max_bytes} bytes",
                 "add {volume} to file_name")
    output_types = top.string_list("output_types", ("pdf",), options=OUTPUT_TYPES,
                                   example='["pdf"]')
    if "pdf" not in output_types:
        top.fail("output_types", "does not include pdf (packets are PDF files)",
                 'add "pdf" to output_types')

    # signature ------------------------------------------------------------------------
    sg = top.table_of("signature", ("required", "visible"))
    sig_required = sg.boolean("required", True)
    sig_visible = sg.boolean("visible", True)
    if sig_visible and not sig_required:
        sg.fail("visible", "is true but signature.required is false",
                "set required = true or visible = false")

    assert version is not None and name is not None and organisation is not None
    assert language is not None and flatten is not None
    return Profile(
        id=pid,
        version=version,
        name=name,
        organisation=organisation,
        language=language,
        accepted_languages=accepted,
        page_size=page_size,
        page_width=width,
        page_height=height,
        margins=margins,
        cover=cover,
        sections=tuple(sections),
        excluded_types=excluded,
        index=index,
        numbering=numbering,
        separator_pages=separator_pages,
        translations=translations,
        redaction_categories=categories,
        flatten=flatten,
        ocr=ocr,
        ocr_text_layer=ocr_text_layer,
        require_review=require_review,
        volumes=Volumes(max_bytes=max_bytes, split=split),
        file_name=file_name,
        output_types=output_types,
        signature=Signature(required=sig_required, visible=sig_visible),
        path=src_path if src.endswith(".toml") else None,
    )


# ---------------------------------------------------------------------------- loading


def load_profile(path: str | os.PathLike[str], *,
                 document_types: tuple[str, ...] = DOCUMENT_TYPES) -> Profile:
    """Load and validate the profile at ``path`` (a ``.toml`` file).

    Raises :class:`ProfileError` if the file cannot be read, is not valid TOML, or
    fails validation; the message names the file, the field and the fix.
    """
    p = Path(os.fspath(path))
    name = p.name or str(path)
    if p.suffix != ".toml":
        raise ProfileError(f"{name}: (file): not a .toml file; profiles are templates/<id>.toml")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise ProfileError(f"{name}: (file): cannot read ({reason}); check the path") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(
            f"{name}: (file): not UTF-8 (byte {exc.start}); save the file as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{name}: (file): invalid TOML ({exc}); fix the syntax") from None
    except (ValueError, RecursionError) as exc:  # e.g. absurdly nested input
        raise ProfileError(
            f"{name}: (file): invalid TOML ({exc.__class__.__name__}); fix the syntax"
        ) from None
    return profile_from_dict(data, p, document_types=document_types)


def default_templates_dir() -> Path:
    """The project's templates/ folder, found relative to the packets package."""
    return Path(__file__).resolve().parent.parent / "templates"


def templates_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """Where profiles live: ``directory``, else ``$REFUGE_TEMPLATES``, else the default."""
    if directory is not None:
        return Path(os.fspath(directory))
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return default_templates_dir()


def load_profiles(directory: str | os.PathLike[str] | None = None, *,
                  document_types: tuple[str, ...] = DOCUMENT_TYPES) -> dict[str, Profile]:
    """Load every ``*.toml`` profile in ``directory`` (see :func:`templates_dir`).

    Returns a dict from profile id to :class:`Profile`, sorted by id. One invalid file
    fails the whole load with :class:`ProfileError`, so a broken profile is never
    silently skipped.
    """
    d = templates_dir(directory)
    if not d.is_dir():
        raise ProfileError(
            f"{d}: (directory): not a directory; set {ENV_VAR} to the folder of recipient profiles"
        )
    profiles: dict[str, Profile] = {}
    for p in sorted(d.glob("*.toml")):
        if p.name.startswith("."):
            continue
        profile = load_profile(p, document_types=document_types)
        profiles[profile.id] = profile
    return profiles


def get_profile(profile_id: str, directory: str | os.PathLike[str] | None = None, *,
                document_types: tuple[str, ...] = DOCUMENT_TYPES) -> Profile:
    """Load the profile named ``profile_id`` from ``directory`` (see :func:`templates_dir`).

    Raises :class:`ProfileError` if the id is malformed or there is no such profile
    (with a did-you-mean suggestion), or if the profile is invalid.
    """
    d = templates_dir(directory)
    if not isinstance(profile_id, str) or not _SLUG.fullmatch(profile_id):
        raise ProfileError(
            f"{_show(profile_id)}: (profile): not a profile id;"
            " use lowercase letters, digits and hyphens, e.g. unhcr-resettlement"
        )
    path = d / f"{profile_id}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []
        close = _suggest(profile_id, known)
        if close:
            fix = f'did you mean "{close}"?'
        elif known:
            fix = f"use one of {_one_of(known)}"
        else:
            fix = f"add {path.name} to {d} or set {ENV_VAR}"
        raise ProfileError(f"{path.name}: (file): no such profile in {d}; {fix}")
    return load_profile(path, document_types=document_types)
