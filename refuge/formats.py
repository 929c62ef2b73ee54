"""What `doc add` does after storing files of the richer formats (the CLI and the web desk).

An e-mail message's attachments become documents of their own, linked to it
(``attached_to``), each through the same intake checks: a refused attachment is
reported by its name, the rest go in. Office documents and messages get their
rendition made at once (vault/renditions.py), so that search and packets find
it; a conversion that fails is reported naming the document, which stays added
(a packet build tries again, and refuses it with the same error).
"""

from __future__ import annotations

from vault import intake, renditions
from vault.errors import RefugeError

__all__ = ["after_add"]


def after_add(vault, case, results, tags=(), person=None, lang=None) -> tuple[list, list[str]]:
    """Add the attachments of added messages and make renditions.

    ``results`` are the AddResults of ``vault.add_documents``; attachments take their message's type. Returns (the attachment
    documents added, one error line per failure: a refused attachment or a conversion).
    """
    from .errors import describe

    extra, problems = [], []
    for r in results:
        doc = r.document
        if doc is None or doc.mime not in intake.MAIL:
            continue
        try:
            parts = renditions.message_parts(r.path, doc.mime, f"document {doc.id}")
        except RefugeError as e:
            problems.append(describe(e))
            continue
        if not parts:
            continue
        added = _add_attachments(vault, case, doc, parts, tags, person, lang)
        for a in added:
            if a.document:
                extra.append(a.document)
            else:
                problems.append(describe(a.error))
    every = [r.document for r in results if r.document] + extra
    for doc, e in renditions.try_ensure(vault, case, [d for d in every if renditions.needs_rendition(d.mime)]):
        # on the person's own terminal only: the title too (never in a log or the audit log)
        problems.append(describe(e).replace(f"document {doc.id}", f"document {doc.id} ({doc.title})", 1))
    return extra, problems


def _add_attachments(vault, case, doc, parts, tags, person, lang) -> list:
    """A message's attachments added as documents, each received as an upload's file is (vault.receiving):
    encrypted into the case and checked by intake from a spool that has no name, so no attachment's
    plaintext ever has a path, even if the process is killed meanwhile."""
    from vault import casekeys
    from vault.receiving import Receiver

    key = casekeys.current_recipient(vault, case.id)
    labels = [f"attachment {name} of {doc.id}" for name, _ in parts]
    stored = {}
    try:
        for n, ((name, data), label) in enumerate(zip(parts, labels), 1):
            receiver = Receiver(vault.backend, case.id, key, name, label)
            try:
                receiver.write(data)
                stored[f"{n}/{name}"] = receiver.finish()
            except BaseException:
                receiver.abandon()
                raise
        return vault.add_documents(case, list(stored), doc.type, tags, person, lang, attached_to=doc.id,
                                   labels=labels, stored=stored)
    finally:
        for received in stored.values():  # a recorded one's blob is the document's now: discard skips it
            received.close()
            received.discard(vault.backend, case.id)
