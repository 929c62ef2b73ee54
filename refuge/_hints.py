"""The ways out that library errors point to, in words naming refuge's commands.

A library raises ``NotFound("no case X among your cases", hint="case-list")``;
the application prints "no case X among your cases; see refuge case list".
"""

HINTS: dict[str, str] = {
    "identity-remake": "make it again with refuge user keygen",
    "identity-make": "make one with refuge user keygen NAME",
    "identity-owner-remake": "ask its owner to run refuge user keygen again",
    "identity-see-keygen": "see refuge user keygen",
    "agent-folder": "set XDG_RUNTIME_DIR to a folder only you can open; commands still work with your passphrase",
    "new-copy": "ask for a new copy, or print it to PDF again",
}
