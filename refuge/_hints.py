"""The ways out that library errors point to, in words naming refuge's commands.

A library raises ``NotFound("no case X among your cases", hint="case-list")``;
the application prints "no case X among your cases; see refuge case list".
"""

HINTS: dict[str, str] = {
}
