"""Keeping each case's search index up to date, for every application (the CLI, the web desk).

The vault layer (vault/searching.py) stores and reads the encrypted segments;
the text of documents comes from packets' keyless worker
(packets._text.extract_texts). The document is the truth: a failure to
index never fails or undoes the change that asked for it, it becomes one
warning line that says how to rebuild the index.
"""

from __future__ import annotations

from collections.abc import Iterable

import click

from vault import searching
from vault.cases import Case
from vault.errors import RefugeError

from .errors import describe


def extract(sources: list[searching.TextSource]) -> list[list[tuple[int, str]]]:
    """Text of documents per page, read in the keyless worker (packets)."""
    from packets._text import extract_texts  # alone: not the packet pipeline

    return extract_texts(sources)


def warn(message: str) -> None:
    """One warning line on stderr."""
    click.echo("refuge: warning: " + " ".join(message.split()), err=True)


def update(vault, case: Case, doc_ids: Iterable[str], ref: str | None = None, *, fields_only: bool = False) -> bool:
    """Index the latest version of documents of a case; on failure, warn (never raise) and return False.

    ``fields_only``: only their metadata changed (tags, title...): their indexed pages stay, unread.
    """
    doc_ids = list(doc_ids)
    if not doc_ids:
        return True
    try:
        if fields_only:
            searching.index_fields(vault, case, doc_ids)
            return True
        searching.index_documents(vault, case, doc_ids, extract)
    except Exception as e:  # noqa: BLE001  the document is the truth: its index may lag, never fail it
        n = len(doc_ids)
        why = describe(e) if isinstance(e, RefugeError) else f"internal error ({type(e).__name__})"
        warn(f"search will miss {'this document' if n == 1 else f'these {n} documents'} ({why}); "
             f"rebuild the index with refuge search --reindex {ref or case.id}")
        return False
    waiting = searching.waiting_for_text(case, doc_ids)
    if waiting:
        n = len(waiting)
        warn(f"{'this text is' if n == 1 else f'these {n} texts are'} over {searching.MAX_TEXT_BYTES >> 20} MiB: "
             f"found by title only until refuge search --reindex {ref or case.id} indexes "
             f"{'its' if n == 1 else 'their'} whole text")
    return True


def forget(vault, case: Case, doc_ids: Iterable[str], ref: str | None = None) -> bool:
    """Record in a case's index that documents left it (removed, moved away); on failure, warn and return False.

    Search drops hits on documents no longer in their case even without this;
    it keeps their text out of the next compaction.
    """
    doc_ids = list(doc_ids)
    if not doc_ids:
        return True
    try:
        searching.forget_documents(vault, case.id, doc_ids)
    except Exception as e:  # noqa: BLE001  the removal is done: its index entry may lag, never fail it
        why = describe(e) if isinstance(e, RefugeError) else f"internal error ({type(e).__name__})"
        warn(f"the search index still holds removed text ({why}); "
             f"rebuild it with refuge search --reindex {ref or case.id}")
        return False
    return True


def reindex(vault, case: Case) -> tuple[int, list[str]]:
    """Rebuild a case's index from its documents; returns (documents indexed, segments skipped)."""
    return searching.reindex(vault, case, extract)
