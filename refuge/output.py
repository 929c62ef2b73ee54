"""One way to print what commands report: a table for people, JSON or CSV for programs."""

from __future__ import annotations

import csv
import json
import sys

import click


def output_options(csv_too: bool = False):
    """The shared --json (and --csv) options of every command that lists or reports."""

    def decorate(f):
        f = click.option("--json", "as_json", is_flag=True, help="Print JSON (stable field names).")(f)
        if csv_too:
            f = click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header line.")(f)
        return f

    return decorate


def echo_json(value) -> None:
    """Print JSON: indented for people on a terminal, compact (and faster) for programs."""
    indent = 2 if sys.stdout.isatty() else None
    click.echo(json.dumps(value, indent=indent, ensure_ascii=False, sort_keys=True))


def emit(rows: list[dict], columns: list[str], as_json: bool = False, as_csv: bool = False) -> None:
    """Print rows as a table, or as JSON (an array of objects), or as CSV."""
    if as_json:
        echo_json(rows)
        return
    if as_csv:
        w = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: cell(r.get(c)) for c in columns})
        return
    if not rows:
        click.echo("(none)")
        return
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def cell(value) -> str:
    """One value as a table cell: lists joined, booleans as yes/no, control characters shown as '?'."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "".join(ch if ch.isprintable() else "?" for ch in str(value))
