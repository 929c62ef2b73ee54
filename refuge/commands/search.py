"""Search inside the documents of one's cases, and rebuild a case's search index."""

from __future__ import annotations

import sys

import click

from vault import searching
from vault.core import DOC_TYPES
from vault.errors import VerificationFailed

from .. import indexing
from .._context import SECRET_HELP, SECRET_TEXT, Context, find_case, pass_ctx
from ..output import cell, echo_json, output_options

# Marks around matched words while the snippet is made: characters no text holds, replaced when printed.
_MARKS = ("\x02", "\x03")


@click.command("search")
@click.argument("query", required=False, type=SECRET_TEXT)
@click.option("--case", "ref", metavar="REF", help="Only this case (default: every case you are a member of).")
@click.option("--type", "doc_types", multiple=True, type=click.Choice(DOC_TYPES), help="Only this type (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only documents with this tag (repeatable: every one).")
@click.option("--person", type=SECRET_TEXT, help="Only documents about this person (part of a name)." + SECRET_HELP)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="At most this many results.")
@click.option("--reindex", "reindex_ref", metavar="REF", help="Rebuild the search index of case REF from its documents.")
@output_options()
@pass_ctx
def search(c: Context, query, ref, doc_types, tags, person, limit, reindex_ref, as_json) -> None:
    """Find documents by the words in them: QUERY is words (all must match) and "quoted phrases".

    Accents and case are ignored. Give QUERY as @FILE or @- to keep a name off
    the command line. The snippet of each result marks the match.
    """
    if reindex_ref is not None:
        if query is not None or ref or doc_types or tags or person:
            raise click.UsageError("--reindex takes a case only, without a query or filters")
        _reindex(c, reindex_ref, as_json)
        return
    if query is None:
        raise click.UsageError("give a QUERY, or --reindex REF")
    vault = c.vault()
    with vault.audited("search") as targets:
        case_ids = [find_case(vault, ref, targets).id] if ref else None
        results = searching.search(vault, query, case_ids, types=list(doc_types), tags=list(tags), person=person,
                                   limit=limit, marks=_MARKS, save_later=True)
        targets["cases"] = results.cases
        targets["hits"] = len(results.found)  # never the query: it can name a person
    try:
        _show(vault, results, as_json)
        sys.stdout.flush()
    finally:
        if results.finish is not None:
            results.finish()  # the refreshed combined index is saved after the answer is out


def _show(vault, results, as_json: bool) -> None:
    for problem in results.problems[:3]:
        indexing.warn(f"{problem}; it was left out (refuge search --reindex rebuilds the index)")
    refs = {f.case.id: f.case.ref for f in results.found}
    for case_id, n in results.unindexed.items():
        name = refs.get(case_id) or next((cs.ref for cs in vault.cases() if cs.id == case_id), case_id)
        indexing.warn(f"{n} document{'s' if n != 1 else ''} of case {name} {'are' if n != 1 else 'is'} not in the "
                      f"search index; rebuild it with refuge search --reindex {name}")
    for case_id, n in results.waiting.items():
        name = refs.get(case_id) or next((cs.ref for cs in vault.cases() if cs.id == case_id), case_id)
        indexing.warn(f"{n} large text{'s' if n != 1 else ''} of case {name} {'are' if n != 1 else 'is'} found by "
                      f"title only; refuge search --reindex {name} indexes {'their' if n != 1 else 'its'} whole text")
    if as_json:
        echo_json([{"case": f.case.id, "ref": f.case.ref, "doc": f.doc.id, "version": f.doc.version,
                    "title": f.doc.title, "type": f.doc.type, "page": f.page or None,
                    "snippet": _snippet(f.snippet, ("[", "]")), "score": round(f.score, 4)} for f in results.found])
        return
    _table(results.found, bold=sys.stdout.isatty())


def _snippet(text: str, marks: tuple[str, str]) -> str:
    """The snippet on one line, control characters shown as '?', the match between ``marks``."""
    text = " ".join(text.split())
    parts = []
    for ch in text:
        if ch == _MARKS[0]:
            parts.append(marks[0])
        elif ch == _MARKS[1]:
            parts.append(marks[1])
        else:
            parts.append(ch if ch.isprintable() else "?")
    return "".join(parts)


def _table(found: list, bold: bool) -> None:
    """Case, document, title, page and snippet; on a terminal the match is bold, elsewhere [in brackets]."""
    if not found:
        click.echo("(none)")
        return
    columns = ["case", "doc", "title", "page"]
    rows = [[cell(f.case.ref), f.doc.id, cell(f.doc.title), str(f.page or "")] for f in found]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(columns)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(columns, widths)) + "  SNIPPET")
    on, off = ("\x1b[1m", "\x1b[22m") if bold else ("[", "]")  # bold on, normal intensity
    for f, row in zip(found, rows):
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + _snippet(f.snippet, (on, off)))


def _reindex(c: Context, ref: str, as_json: bool) -> None:
    vault = c.vault()
    with vault.audited("search.reindex") as targets:
        case = find_case(vault, ref, targets)
        count, problems = indexing.reindex(vault, case)
    if as_json:
        echo_json({"case": case.id, "ref": case.ref, "documents": count, "skipped_segments": len(problems)})
    else:
        click.echo(f"indexed {count} document{'s' if count != 1 else ''} of {case.ref}")
    if problems:
        raise VerificationFailed(f"{len(problems)} search segment{'s' if len(problems) != 1 else ''} of case "
                                 f"{case.ref} did not verify and were left out of the rebuilt index: {problems[0]}",
                                 hint="fsck")

