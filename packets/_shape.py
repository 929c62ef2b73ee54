"""The assembler's last step: the packet's files in the profile's output shape, each under
the size limit, fitting images before anything is refused.

* ``single``: one file; ``volumes``: split at document boundaries (packets/assemble.py's
  split); ``per-type``: the cover letter and index in file 1, then one file per section
  (the recipient's document types), pages numbered across all files.
* When a file would exceed the limit (for ``volumes``: when a document alone would), the
  images of the documents in it are fitted (packets/_fit.py), one step of the ladder at a
  time, always from the pages as redacted (never re-encoding an already fitted image).
* A document or file that still does not fit is one :class:`~packets.assemble.AssembleError`
  naming the document, its size after fitting and the limit (hint ``packet-too-big``).
"""

from __future__ import annotations

import io

import pikepdf

from . import _fit

__all__ = ["shape"]


def _limit(ctx, headroom: int | None) -> int | None:
    from .assemble import SIGNATURE_HEADROOM, AssembleError

    profile = ctx.profile
    max_bytes = profile.volumes.max_bytes
    if max_bytes is None:
        return None
    if headroom is None:
        headroom = min(SIGNATURE_HEADROOM, max_bytes // 2) if profile.signature.required else 0
    limit = max_bytes - max(0, int(headroom))
    if limit <= 0:
        raise AssembleError(f"{profile.source_name}: volumes.max_bytes: {max_bytes} bytes leaves no room after"
                            f" {headroom} bytes for the signature; raise max_bytes")
    return limit


def _where(ctx) -> str:
    p = ctx.profile
    return f"the {p.portal} portal of {p.id}" if p.portal else p.id


def per_type(ctx) -> list[int]:
    """File of each document for ``per-type``: 1 is the cover letter and index, then one per section."""
    return [u.group + 2 for u in ctx.units]


def file_pattern(profile, date: str) -> str:
    """A per-type file's name by the profile's rule, "{type}" and "{volume}" left to fill in
    (packets/build.py's names for ``-o FOLDER``; the case's file numbers are not used there)."""
    from .profiles import FILE_NAME_FIELDS

    return profile.file_name.format(profile=profile.id, date=date, volume="{volume}", type="{type}",
                                    **dict.fromkeys(FILE_NAME_FIELDS, ""))


def name_files(ctx, volume_of: list[int]) -> None:
    """The type and name of each per-type file, for the index and the build (the same rule as the
    build's: "cover" for file 1, the section's id, "-N" after a type already taken)."""
    types = {1: "cover"}
    for u in ctx.units:
        section = ctx.groups[u.group].section
        types.setdefault(volume_of[u.index], section.id if section else "other")
    pattern = ctx.request.file_name or file_pattern(ctx.profile, ctx.request.date)
    taken: list[str] = []
    for number in sorted(types):
        t = types[number]
        t = t if t not in taken else f"{t}-{number}"  # never two files of one name
        taken.append(t)
        ctx.file_types[number] = t
        ctx.file_names[number] = pattern.format(type=t, volume=number)


class _Originals:
    """The documents' pages as redacted, kept so that every step fits from them."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.data: dict[int, bytes] = {}

    def fit(self, units, step: _fit.Step) -> None:
        from .render import Rendered

        for u in units:
            if u.index not in self.data:
                self.data[u.index] = u.rendered.to_bytes()
            pdf = pikepdf.open(io.BytesIO(self.data[u.index]))
            _fit.fit_pdf(pdf, step)
            u.rendered = Rendered(u.item.doc_id, pdf)
            self.ctx.keep.append(u.rendered)
            u.size_estimate = None


def _too_big(ctx, units, size: int, limit: int, step: _fit.Step | None, label: str):
    """The one error for a file that does not fit: its largest document, sizes, the way out."""
    from .assemble import AssembleError, _estimate

    sizes = sorted(((_estimate(u), u) for u in units), key=lambda s: -s[0])
    fitted = f" after fitting its images ({step.describe()})" if step else ""
    if sizes and (len(sizes) == 1 or sizes[0][0] > limit):
        n, u = sizes[0]
        what = f"document {u.item.doc_id} is about {max(n, size) if len(sizes) == 1 else n} bytes{fitted}"
    else:
        what = f"{label} is {size} bytes{fitted}"
        if sizes:
            what += f" (its largest document, {sizes[0][1].item.doc_id}, about {sizes[0][0]} bytes)"
    return AssembleError(f"{what}, over the {limit}-byte limit of {_where(ctx)} (the portal's limit less room for"
                         " the signature)", hint="packet-too-big")


def _fixed(ctx, volume_of: list[int], limit: int, label) -> list:
    """``single`` and ``per-type``: the files are set; fit the documents of each file over the limit."""
    from .assemble import _build_volumes

    volumes = _build_volumes(ctx, volume_of)
    originals, step = _Originals(ctx), None
    for step in [None, *_fit.steps(ctx.profile.image_dpi)]:
        if step is not None:
            over = {v.number for v in volumes if len(v.data) > limit}
            originals.fit([u for u in ctx.units if volume_of[u.index] in over], step)
            volumes = _build_volumes(ctx, volume_of)
        over_volumes = [v for v in volumes if len(v.data) > limit]
        if not over_volumes:
            return volumes
    v = over_volumes[0]
    if v.number == 1 and not v.items:
        from .assemble import AssembleError

        raise AssembleError(f"the cover letter and index alone are {len(v.data)} bytes, over the {limit}-byte limit of"
                            f" {_where(ctx)}; raise the limit")
    raise _too_big(ctx, [u for u in ctx.units if volume_of[u.index] == v.number], len(v.data), limit, step, label(v))


def _split(ctx, limit: int) -> list:
    """``volumes``: split; fit (all documents) only when a document alone does not fit a volume."""
    from .assemble import AssembleError, split_volumes

    originals = _Originals(ctx)
    steps = _fit.steps(ctx.profile.image_dpi)
    for i, step in enumerate([None, *steps]):
        if step is not None:
            originals.fit(ctx.units, step)
        try:
            return split_volumes(ctx, limit, fitted=step)
        except AssembleError as e:
            if e.hint != "packet-too-big" or i == len(steps):
                raise
    raise AssertionError("unreachable")


def shape(ctx, headroom: int | None) -> list:
    """The packet's files for ``ctx`` (an assembler context with its units planned)."""
    from .assemble import _build_volumes

    profile = ctx.profile
    limit = _limit(ctx, headroom)
    if profile.output == "per-type":
        volume_of = per_type(ctx)
        name_files(ctx, volume_of)
        names = {u.group + 2: (ctx.groups[u.group].section.id if ctx.groups[u.group].section else "other")
                 for u in ctx.units}
        if limit is None:
            return _build_volumes(ctx, volume_of)
        return _fixed(ctx, volume_of, limit, lambda v: f"the {names.get(v.number, 'cover')} file")
    if limit is None:
        return _build_volumes(ctx, [1] * len(ctx.units))
    if profile.output == "volumes" and profile.volumes.split:
        volumes = _build_volumes(ctx, [1] * len(ctx.units))
        if all(len(v.data) <= limit for v in volumes):
            return volumes
        return _split(ctx, limit)
    label = "the packet, one file (the profile does not split volumes),"
    return _fixed(ctx, [1] * len(ctx.units), limit, lambda v: label)
