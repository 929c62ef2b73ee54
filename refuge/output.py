"""One way to print what commands report: a table for people, JSON or CSV for programs."""

from __future__ import annotations

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
        import csv

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


class Progress:
    """Shows a long build's progress on standard error: on a terminal, one bar redrawn in
    place (stage, page n of N, time left); otherwise one plain line per stage.

    An instance is the plain callable the library takes: ``progress(stage, n, total)``.
    """

    def __init__(self, stream=None, tty: bool | None = None) -> None:
        import time

        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.stage: str | None = None
        self.started = 0.0
        self.clock = time.monotonic
        self.drawn = False

    def __call__(self, stage: str, n: int = 0, total: int = 0) -> None:
        if stage != self.stage:
            self.end()
            self.stage, self.started = stage, self.clock()
            if not self.tty:
                self.stream.write(f"refuge: {stage}...\n")
                self.stream.flush()
        if self.tty:
            self._draw(n, total)

    def _draw(self, n: int, total: int) -> None:
        if total > 0:
            n = max(0, min(n, total))
            width = 24
            filled = width * n // total
            bar = "#" * filled + "-" * (width - filled)
            elapsed = self.clock() - self.started
            left = f", about {_duration(elapsed * (total - n) / n)} left" if 0 < n < total and elapsed > 1 else ""
            line = f"refuge: {self.stage} [{bar}] page {n} of {total}{left}"
        else:
            line = f"refuge: {self.stage}..."
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
        self.drawn = True

    def end(self) -> None:
        """Finish the current line (before an error or the final output)."""
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
        self.drawn = False


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
