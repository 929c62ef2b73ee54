"""E-mail messages, read inside the keyless worker: headers, body text and attachments.

.eml files are parsed with the standard library (``email`` with ``policy.default``);
Outlook .msg files with extract-msg. A message renders as text: its headers (From,
To, Cc, Date, Subject), an "Attachment: NAME" line per attachment, a blank line, and its
body (the plain-text part, or the HTML part reduced to its text). Attachments are
returned as (name, bytes), each to become a document of its own through the same intake
checks.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser

MAX_ATTACHMENTS = 200
_HEADERS = ("From", "To", "Cc", "Date", "Subject")


class _Text(HTMLParser):
    """The text of an HTML body: no script or style, a line per block."""

    _BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The readable text of an HTML body."""
    p = _Text()
    p.feed(html)
    p.close()
    lines = (" ".join(line.split()) for line in "".join(p.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def safe_name(name: str | None, n: int) -> str:
    """An attachment's file name, as a plain base name without control characters."""
    name = os.path.basename((name or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F)[:120]
    return name if name not in ("", ".", "..") else f"attachment-{n}"


def _page(headers: dict[str, str], body: str, attachments: list[tuple[str, bytes]]) -> str:
    """The message's page: its headers, one "Attachment: NAME" line per attachment it carries
    (each also a document of its own, or refused by name), a blank line and its body."""
    head = "\n".join(f"{k}: {' '.join(headers[k].split())}" for k in _HEADERS if headers.get(k))
    head += "".join(f"\nAttachment: {name}" for name, _data in attachments)
    return head + "\n\n" + body.strip() + "\n"


def read_eml(data: bytes) -> tuple[str, list[tuple[str, bytes]]]:
    """An .eml message: (its page text, [(attachment name, bytes)])."""
    from email import policy
    from email.parser import BytesParser

    msg = BytesParser(policy=policy.default).parsebytes(data)
    headers = {k: str(msg.get(k, "") or "") for k in _HEADERS}
    body = ""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is not None:
        text = part.get_content()
        body = html_text(text) if part.get_content_subtype() == "html" else text
    attachments = []
    for n, att in enumerate(msg.iter_attachments(), 1):
        if n > MAX_ATTACHMENTS:
            break
        if att.get_content_type() == "message/rfc822":
            inner = att.get_payload()
            payload = (inner[0] if isinstance(inner, list) else inner).as_bytes(policy=policy.default)
            name = safe_name(att.get_filename() or f"message-{n}.eml", n)
            attachments.append((name if name.lower().endswith(".eml") else name + ".eml", payload))
            continue
        payload = att.get_payload(decode=True)
        if payload:
            attachments.append((safe_name(att.get_filename(), n), payload))
    return _page(headers, body, attachments), attachments


def read_msg(data: bytes) -> tuple[str, list[tuple[str, bytes]]]:
    """An Outlook .msg message (extract-msg): (its page text, [(attachment name, bytes)])."""
    import extract_msg

    msg = extract_msg.openMsg(data, delayAttachments=False)
    try:
        # To and Cc come from the recipient table, else from the display lists (PR_DISPLAY_TO, PR_DISPLAY_CC)
        headers = {"From": msg.sender or "", "To": msg.to or msg.getStringStream("__substg1.0_0E04") or "",
                   "Cc": msg.cc or msg.getStringStream("__substg1.0_0E03") or "",
                   "Date": str(msg.date or ""), "Subject": msg.subject or ""}
        body = msg.body or ""
        if not body.strip() and getattr(msg, "htmlBody", None):
            body = html_text(msg.htmlBody.decode("utf-8", "replace"))
        attachments = []
        for n, att in enumerate(msg.attachments[:MAX_ATTACHMENTS], 1):
            payload = att.data
            if isinstance(payload, (bytes, bytearray)) and payload:
                attachments.append((safe_name(att.longFilename or att.shortFilename, n), bytes(payload)))
        return _page(headers, body, attachments), attachments
    finally:
        msg.close()
