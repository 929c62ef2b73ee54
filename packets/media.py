"""Recordings in packets: listed, never rendered, and written beside the packet on request.

A recording (audio or video testimony) cannot go inside a PDF. Its place in the
packet is one page, and its line in the index, saying that it is provided
separately, with its SHA-256 so the recipient can check the file they receive.
With ``packet build --media-dir DIR``, the consented recordings of the packet are
written to DIR named like the packet (the packet's file name, then
``-recording-N`` and the recording's extension), never replacing a file unless asked.
"""

from __future__ import annotations

import os

from vault.errors import InvalidInput
from vault.intake import ALLOWED, is_media

from .model import Item

__all__ = ["is_media", "placeholder", "media_names", "check_media_dir"]

PROVIDED = "provided separately"


def placeholder(doc, translator=None) -> Item:
    """The packet's item for a recording: a page naming it as provided separately, with its SHA-256."""
    kind = "video" if doc.mime.startswith("video/") else "audio"
    text = (f"Recording ({kind}), {PROVIDED}.\n\nDocument {doc.id}, version {doc.version}\n"
            f"Size: {doc.size} bytes\nSHA-256:\n{doc.sha256}\n")
    return Item(doc_id=doc.id, title=f"{doc.title} (recording, {PROVIDED}; SHA-256 {doc.sha256})", type=doc.type,
                date=doc.added_at[:10], mime="text/plain", data=text.encode(), lang=doc.lang,
                translation_of=doc.translation_of, translator=translator, version=doc.version)


def media_names(stem: str, docs) -> list[str]:
    """The file names of a packet's recordings, in order: the packet's own file name ``stem``,
    then -recording-N and the extension the recording's type takes."""
    return [f"{stem}-recording-{n}{_extension(d)}" for n, d in enumerate(docs, 1)]


def _extension(doc) -> str:
    """The file's own extension where its type allows it (.m4a or .mp4 alike), else the type's first."""
    allowed = ALLOWED.get(doc.mime, (".bin",))
    own = os.path.splitext(doc.filename)[1].lower()
    return own if own in allowed else allowed[0]


def check_media_dir(folder: str, names: list[str], replace: bool) -> list[str]:
    """The paths the recordings go to; refuses a missing folder, or an existing file unless ``replace``."""
    from vault.storage import OutputExists

    if not os.path.isdir(folder):
        raise InvalidInput("the media folder does not exist; create it first")
    paths = [os.path.join(folder, n) for n in names]
    if not replace and any(os.path.lexists(p) for p in paths):
        raise OutputExists("a recording of this packet already exists in the media folder; nothing was built",
                           hint="force")
    return paths
