"""What ``doc add`` adds: the files and folders a person named, and the type of each.

A folder is walked (with ``--recursive``) in name order; hidden files and
folders (names starting with a dot) are left out. Each file keeps the path as
the person typed it (the folder they typed, then the path inside it): that is
how refuge names it back to them on their own terminal (:func:`shown`). Off a
terminal (a pipe or a file that may become a log), a file found inside a
folder is named by the folder as typed and its place in the walk, never by a
name the person did not type; nothing of it reaches the audit log.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from vault.core import DOC_TYPES
from vault.errors import InvalidInput

#: The type a file gets by its extension when neither --type-map nor --type gives one.
DEFAULT_TYPES = {
    ".jpg": "photo", ".jpeg": "photo", ".png": "photo", ".heic": "photo", ".heif": "photo", ".webp": "photo",
    ".tif": "photo", ".tiff": "photo", ".eml": "correspondence", ".msg": "correspondence",
}


@dataclass
class Incoming:
    """One file to add: its path as typed, and where it sits inside a folder that was named (if any)."""

    path: str
    inside: str = ""  # the path inside the named folder, with / separators ("" for a file named itself)
    folder: str = ""  # the folder as typed, for a file found inside one
    place: str = ""  # "file N of M" of that folder's walk
    label: str = ""  # how the caller names it to the person instead (the web desk: the uploaded file's name)


def shown(f: Incoming) -> str:
    """How to name a file to the person: as typed, or (off a terminal) its folder and place in it."""
    if f.label:
        return f.label
    if not f.inside or sys.stderr.isatty():
        return click.format_filename(f.path)
    return f"{click.format_filename(f.folder)} ({f.place})"


def collect(arguments: list[str], recursive: bool) -> list[Incoming]:
    """The files to add, in order: each file argument, then each folder's files (with ``recursive``)."""
    out: list[Incoming] = []
    for arg in arguments:
        if not os.path.isdir(arg):
            out.append(Incoming(arg))
            continue
        if not recursive:
            raise InvalidInput(f"{arg} is a folder; give --recursive to add the files in it")
        found = []
        for dirpath, dirnames, filenames in os.walk(arg):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if not name.startswith("."):
                    full = os.path.join(dirpath, name)
                    found.append(Incoming(full, os.path.relpath(full, arg).replace(os.sep, "/"), arg))
        if not found:
            raise InvalidInput(f"{arg} holds no files to add")
        found.sort(key=lambda f: f.inside)
        for n, f in enumerate(found, 1):
            f.place = f"file {n} of {len(found)}"
        out.extend(found)
    return out


class TypeMap:
    """Types by extension (``.jpg = photo``) or by glob (``medical/*.pdf = medical``), from a file.

    Lines are ``PATTERN = TYPE``; blank lines and lines starting with ``#`` are
    skipped. A pattern starting with a dot is an extension (any case); any
    other is a glob matched against the path inside the folder and against the
    file name. The first line that matches wins.
    """

    def __init__(self, rules: list[tuple[str, str]]) -> None:
        self.rules = rules

    @classmethod
    def read(cls, path: str) -> "TypeMap":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise InvalidInput("the --type-map file cannot be read as UTF-8 text; check the path") from None
        rules = []
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            pattern, sep, doc_type = (part.strip() for part in line.partition("="))
            if not sep or not pattern:
                raise InvalidInput(f"--type-map line {n}: write PATTERN = TYPE, e.g. .jpg = photo")
            if doc_type not in DOC_TYPES:
                raise InvalidInput(f"--type-map line {n}: unknown document type {doc_type}; "
                                   f"use one of {', '.join(DOC_TYPES)}")
            rules.append((pattern, doc_type))
        return cls(rules)

    def type_of(self, f: Incoming) -> str | None:
        name = os.path.basename(f.path)
        for pattern, doc_type in self.rules:
            if pattern.startswith(".") and "*" not in pattern and "?" not in pattern:
                if name.lower().endswith(pattern.lower()):
                    return doc_type
            elif fnmatch.fnmatch(f.inside or name, pattern) or fnmatch.fnmatch(name, pattern):
                return doc_type
        return None


def type_for(f: Incoming, given: str | None, mapping: TypeMap | None) -> str | None:
    """A file's type: the --type-map's, else --type, else the default for its extension (DEFAULT_TYPES)."""
    mapped = mapping.type_of(f) if mapping else None
    return mapped or given or DEFAULT_TYPES.get(os.path.splitext(f.path)[1].lower())
