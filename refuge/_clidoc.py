"""docs/cli.md, generated from the commands' own --help (``make docs`` writes it).

tests/test_clidoc.py fails when the file and the commands drift apart, as
sqlite-utils does for its CLI reference.
"""

from __future__ import annotations

import sys

import click

from .cli import cli

HEADER = """# refuge command-line reference

Generated from `refuge --help` and each command's `--help` by `make docs`
(refuge/_clidoc.py); tests/test_clidoc.py fails if it drifts. Exit codes:
0 done, 1 error, 2 usage, 3 verification failed, 4 not permitted.
"""


def _walk(command: click.Command, path: list[str]):
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(click.Context(command))):
            yield from _walk(command.get_command(click.Context(command), name), path + [name])


def render() -> str:
    """The whole reference as Markdown: one section per command, its help text verbatim."""
    out = [HEADER]
    for path, command in _walk(cli, ["refuge"]):
        ctx = click.Context(command, info_name=" ".join(path), terminal_width=100, max_content_width=100,
                            help_option_names=["-h", "--help"])
        heading = "#" * min(len(path) + 1, 4)
        out.append(f"{heading} {' '.join(path)}\n\n```\n{command.get_help(ctx)}\n```\n")
    return "\n".join(out)


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else None
    text = render()
    if target:
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
