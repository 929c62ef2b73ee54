"""Recipient profiles: one TOML file per recipient in the project's templates/ folder.

A profile is data, not code: page size and margins, languages and cover-letter text,
sections and the document types each admits or requires, the types never sent, the index,
page numbering, separator pages, translations, redaction categories, flattening, OCR,
review, volumes, the output file name and types, and the signature. Adding a recipient is
adding a file; ``templates/README.md`` documents every field.

Profiles are validated when they are loaded. Every problem raises :class:`ProfileError`
with one line that names the file, the field and the fix, e.g.::

    ircc-resettlement.toml: page_size: "legal" is not one of letter, a4; use letter or a4

This module reads TOML with the standard library (``tomllib``), takes the document types
from vault.doctypes, and never imports click.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import importlib.resources
import json
import math
import os
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from vault.doctypes import DOC_TYPES
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
    "redactions",  # the sentence on what was redacted, made from the counts (empty if none were taken)
)

#: Case details a letter may show (vault/casefields.py), set by a case lead for recipients; a
#: cover using one must list it in ``requires_fields``. The case reference and titles never.
CASE_FIELDS: tuple[str, ...] = ("client_name", "uci", "irb_file_number", "unhcr_case_number", "hearing_date",
                                "other_party")
#: Parts of a lawyer's letter (packets/_layout.py, ``letter_values``), empty when there is nothing to say.
LETTER_PLACEHOLDERS: tuple[str, ...] = ("letterhead", "references", "enclosures", "contact", "signoff")
COVER_PLACEHOLDERS = COVER_PLACEHOLDERS + LETTER_PLACEHOLDERS + CASE_FIELDS
#: Placeholders of a service statement (RPD Rules r. 34: how and when the copy was served).
SERVICE_PLACEHOLDERS: tuple[str, ...] = (
    "served_on", "served_by", "served_at", "sender_org", "counsel", "date", "document_count", "page_count",
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

#: Placeholders the output file name may use: never the case reference nor a name; of the case's
#: details only its file numbers (IRB e-filing: "[IRB file number] – RPD – [Type]").
FILE_NAME_PLACEHOLDERS: tuple[str, ...] = ("profile", "date", "volume", "type")
FILE_NAME_FIELDS: tuple[str, ...] = ("irb_file_number", "uci", "unhcr_case_number")
FILE_NAME_PLACEHOLDERS = FILE_NAME_PLACEHOLDERS + FILE_NAME_FIELDS

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

#: The keys a profile may have at its top level.
_TOP_KEYS = (
    "id", "version", "name", "organisation", "language", "accepted_languages",
    "page_size", "margins", "cover", "sections", "excluded_types", "index", "numbering",
    "separator_pages", "translations", "redaction_categories", "flatten", "ocr", "ocr_text_layer",
    "require_review", "volumes", "file_name", "output_types", "signature",
    "output", "portal", "portals", "image_dpi",  # packets/_portals.py
    "office_markup",
    "block_candidates", "redact_initials", "blur_faces",
)
#: Top-level keys about case details, letters and deadlines (packets/_profile_letters.py).
LETTER_KEYS = ("requires_fields", "requires_sender", "references", "addressee", "service_statement",
               "received_days_before_hearing", "reply_days_before_hearing")
_TOP_KEYS = _TOP_KEYS + LETTER_KEYS

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
_FILE_CHARS = re.compile(r"[A-Za-z0-9._ \u2013-]+")  # and spaces and en dashes: "TB1-12345 – RPD – Disclosure.pdf"
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
    show_counsel: bool = False  # the visible block also names the counsel of record


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
    # Case details, letters and deadlines (issue 18; packets/_profile_letters.py reads them).
    requires_fields: tuple[str, ...] = ()   # case fields the build needs (exit 4 without them)
    requires_sender: bool = False           # the build needs a sender (org details or --from)
    references: tuple[str, ...] = ()        # case fields the letter's "Re:" lines show, if set
    addressee: LocalizedText | None = None  # the addressee block; default: organisation
    service_statement: LocalizedText | None = None  # a statement of service page, when served
    received_days_before_hearing: int | None = None  # documents must be received N days before
    reply_days_before_hearing: int | None = None     # ... or N days for a reply
    # The output shape and the upload portals (packets/_portals.py).
    output: str = "single"  # single, volumes or per-type
    portal: str | None = None  # the portal whose limit volumes.max_bytes is
    portals: tuple = ()  # packets._portals.Portal, in the file's order
    image_dpi: int | None = None  # the resolution the recipient asks images to be at most
    # comments and tracked changes of office documents: "show" them (listed after the document) or "refuse" it
    office_markup: str = "refuse"
    block_candidates: bool = False  # names and places nobody registered or dismissed stop the build
    redact_initials: bool = False  # registered people's initials are redacted too
    blur_faces: bool = False  # faces in photos are blurred (OpenCV's Haar cascades)

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
        values = {"recipient": self.organisation, "redactions": "", **dict.fromkeys(LETTER_PLACEHOLDERS, ""),
                  **fields}
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

    def output_name(self, date: _dt.date | str, volume: int = 1, type: str = "packet", **fields: str) -> str:
        """The output file name for ``volume`` (1-based) on ``date`` (ISO yyyy-mm-dd); ``type`` is
        the document type of a per-type file (a section id, or "cover"); ``fields`` are the case's
        file numbers it may use (packets/_letters.py checks they are set)."""
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
        if not isinstance(type, str) or not _SLUG.fullmatch(type):
            raise ProfileError(f"{self.source_name}: file_name: type {_show(type)} is not a slug;"
                               " pass a section id")
        return self.file_name.format(profile=self.id, date=date, volume=volume, type=type,
                                     **{k: fields.get(k, "") for k in FILE_NAME_FIELDS})


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


def profile_from_dict(data: Mapping[str, Any], source: str | os.PathLike[str] = "<profile>",
                      *, document_types: tuple[str, ...] = DOCUMENT_TYPES) -> Profile:
    """Validate parsed TOML ``data`` and build a :class:`Profile`.

    ``source`` is the profile's file name or path: its stem must equal ``id`` and its
    name prefixes every error. ``document_types`` extends or replaces the vocabulary.
    Raises :class:`ProfileError` (one line: file, field, fix) on any problem.
    """
    from ._profile_toml import read_profile

    return read_profile(data, source, document_types)


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
    """The recipient profiles shipped with refuge.

    In a checkout they are the project's templates/ folder; installed from a
    wheel they are package data, ``packets/templates``.
    """
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if checkout.is_dir():
        return checkout
    return Path(str(importlib.resources.files("packets").joinpath("templates")))


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
