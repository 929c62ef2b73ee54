"""Optional content (layers) of a rendered page: which of the source's layers were hidden,
so that rendering the page for flattening removes hidden content instead of showing it."""

from __future__ import annotations

import io

import pikepdf
from pikepdf import Array, Dictionary, Name

from . import _pdf
from ._pdf import placement as _placement

__all__ = ["prepare_optional_content"]



def _ocg_state(src: pikepdf.Pdf) -> set[tuple[int, int]]:
    """The source's OCGs hidden by its default configuration (objgens)."""
    props = src.Root.get(Name.OCProperties)
    if not isinstance(props, pikepdf.Dictionary):
        return set()
    d = props.get(Name.D)
    ocgs = props.get(Name.OCGs)
    hidden: set[tuple[int, int]] = set()
    base_off = isinstance(d, pikepdf.Dictionary) and d.get(Name.BaseState) == Name.OFF
    on = {o.objgen for o in d.get(Name.ON, Array())} if isinstance(d, pikepdf.Dictionary) else set()
    off = {o.objgen for o in d.get(Name.OFF, Array())} if isinstance(d, pikepdf.Dictionary) else set()
    if isinstance(ocgs, pikepdf.Array):
        for o in ocgs:
            og = o.objgen
            if og in off or (base_off and og not in on):
                hidden.add(og)
    return hidden


def _walk_pairs(a, b, out: list, seen: set, depth: int = 0) -> None:
    """Walk two copies of one structure side by side, pairing OCG and OCMD objects."""
    if depth > 24 or not isinstance(a, pikepdf.Object) or not isinstance(b, pikepdf.Object):
        return
    if a.is_indirect:
        if a.objgen in seen:
            return
        seen.add(a.objgen)
    if isinstance(a, (pikepdf.Dictionary, pikepdf.Stream)) and isinstance(b, (pikepdf.Dictionary, pikepdf.Stream)):
        if a.get(Name.Type) in (Name.OCG, Name.OCMD):
            out.append((a, b))
        for k in a.keys():
            if k in ("/Parent", "/P") or k not in b:
                continue
            _walk_pairs(a[k], b[k], out, seen, depth + 1)
    elif isinstance(a, pikepdf.Array) and isinstance(b, pikepdf.Array):
        for x, y in zip(a, b):
            _walk_pairs(x, y, out, seen, depth + 1)


def _uses_oc(obj, depth: int = 0, seen: set | None = None) -> bool:
    seen = set() if seen is None else seen
    if depth > 24 or not isinstance(obj, pikepdf.Object):
        return False
    if obj.is_indirect:
        if obj.objgen in seen:
            return False
        seen.add(obj.objgen)
    if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
        if obj.get(Name.Type) in (Name.OCG, Name.OCMD) or Name.OC in obj:
            return True
        return any(_uses_oc(obj[k], depth + 1, seen) for k in obj.keys() if k not in ("/Parent", "/P"))
    if isinstance(obj, pikepdf.Array):
        return any(_uses_oc(x, depth + 1, seen) for x in obj)
    return False


def prepare_optional_content(work: pikepdf.Pdf, source: bytes | None) -> set[int]:
    """Pages of ``work`` that use optional content; give ``work`` an /OCProperties that
    hides what the source hid (so that rendering removes it)."""
    pages = {i for i, p in enumerate(work.pages) if _uses_oc(p.obj.get(Name.Resources))}
    if not pages:
        return pages
    mapped: dict[tuple[int, int], pikepdf.Object] = {}
    hidden: list[pikepdf.Object] = []
    if source is not None:
        try:
            src = pikepdf.open(io.BytesIO(source))
        except Exception:
            src = None
        if src is not None:
            with src:
                off = _ocg_state(src)
                for i in pages:
                    if i >= len(src.pages):
                        continue
                    s_res = _pdf.inherited(src.pages[i].obj, Name.Resources)
                    _m, form = _placement(work.pages[i])
                    w_res = form.get(Name.Resources) if isinstance(form, pikepdf.Stream) else None
                    pairs: list = []
                    _walk_pairs(s_res, w_res, pairs, set())
                    for a, b in pairs:
                        if a.get(Name.Type) != Name.OCG or not b.is_indirect:
                            continue
                        if b.objgen not in mapped:
                            mapped[b.objgen] = b
                            if a.objgen in off:
                                hidden.append(b)
    work.Root.OCProperties = Dictionary(OCGs=Array(list(mapped.values())),
                                        D=Dictionary(BaseState=Name.ON, OFF=Array(hidden)))
    return pages
