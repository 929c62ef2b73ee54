"""The ways out that library errors point to, in words naming refuge's commands.

A library raises ``NotFound("no case X among your cases", hint="case-list")``;
the application prints "no case X among your cases; see refuge case list".
"""

HINTS: dict[str, str] = {
    "agent-folder": "set XDG_RUNTIME_DIR to a folder only you can open; commands still work with your passphrase",
    "new-copy": "ask for a new copy, or print it to PDF again",
}
