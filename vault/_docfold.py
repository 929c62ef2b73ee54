"""The fold of the events that change a document after it was added: tags, fields, removal, moves.

Kept apart from vault/cases.py (which calls :func:`apply_doc_change` from its
fold, after the author's authority was checked) so that the fold stays short.
A removed or moved-away document leaves ``case.documents`` for
``case.removed``, where it keeps its versions (whose blobs are destroyed when
no legal hold stands) and its tombstone (``Document.removal``).
"""

from __future__ import annotations

_EDITABLE = ("title", "type", "person", "lang", "date")


def apply_doc_change(case, event) -> bool:
    """doc.tagged, doc.edited, doc.removed, doc.moved: a change to a document the case holds.

    A change to a document already removed (two people at once) changes nothing;
    one naming a document the case never held returns False (the caller refuses it).
    """
    d, t = event.data, event.type
    doc_id = d.get("id")
    if doc_id in case.removed:
        return True
    doc = case.documents.get(doc_id) if isinstance(doc_id, str) else None
    if doc is None:
        return False
    if t in ("doc.tagged", "doc.edited"):
        doc.tags = sorted((set(doc.tags) | set(d.get("add", []))) - set(d.get("remove", [])))
        for k, value in (d.get("set") or {}).items():
            if k in _EDITABLE and (value is None or isinstance(value, str)) and (value or k not in ("title", "type")):
                setattr(doc, k, value)
        return True
    removal = {"by": event.author, "at": event.time, "seq": event.seq}
    if t == "doc.removed":
        removal["reason"] = d.get("reason", "")
    else:
        removal["moved_to"] = {"case": d.get("to"), "id": d.get("as")}
    removal["ocr"] = [e["blob"] for k, e in case.ocr.items() if e.get("doc") == doc_id]
    case.ocr = {k: e for k, e in case.ocr.items() if e.get("doc") != doc_id}
    rendition = case.renditions.pop(doc_id, None)  # an office or mail document's rendition: its text too
    if rendition and rendition.get("blob"):
        removal["ocr"].append(rendition["blob"])
    doc.removal = removal
    case.removed[doc_id] = case.documents.pop(doc_id)
    return True
