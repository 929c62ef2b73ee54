"""What ``packet plan`` says of the upload portal and of fitting, before anything is built.

:func:`portal_of` is the portal's published limits (per-file size, page size, accepted file
types, the resolution it asks for, and the page that says so). :func:`fit_of` predicts
what the build will make: how many files, each file's size as an estimate and its class
against the limit, and whether images will have to be downsampled (packets/_fit.py) to
fit. Nothing is decrypted or rendered: the estimate comes from the documents' stored sizes
and page counts, so it is a forecast; the build measures, fits and refuses by the real
bytes (packets/_shape.py).
"""

from __future__ import annotations

import math

from .profiles import Profile

__all__ = ["fit_of", "portal_of"]

MB = 1_000_000

#: Bytes of a page rebuilt from pixels at 150 dpi: a text page (BENCHMARKS.md: 116 KB a page) ...
FLAT_PAGE = 120_000
#: ... and at most a colour photograph's (JPEG quality 80 at 150 dpi, a full letter page).
FLAT_PAGE_MAX = 400_000
#: Bytes of a file's own pages and fonts (cover letter and index, separators, page numbers).
FILE_OVERHEAD = 40_000


def portal_of(profile: Profile) -> dict:
    """The portal the build will use and what it accepts, as the profile cites it."""
    found = next((p for p in profile.portals if p.name == profile.portal), None)
    return {"name": profile.portal, "max_bytes": profile.volumes.max_bytes, "source": found.source if found else None,
            "page_size": profile.page_size, "accepted_types": list(profile.output_types),
            "image_dpi": profile.image_dpi, "output": profile.output,
            "others": [{"name": p.name, "max_bytes": p.max_bytes} for p in profile.portals if p.name != profile.portal]}


def _estimate(entry, profile: Profile) -> int:
    pages = max(1, entry.pages or 1)
    size = max(0, int(getattr(entry.doc, "size", 0) or 0))
    if profile.flatten == "all":  # every page rebuilt from pixels: the source's own bytes do not travel
        return pages * min(FLAT_PAGE_MAX, max(FLAT_PAGE, size // pages))
    return max(size, pages * 2_000)


def _limit(profile: Profile) -> int | None:
    from .assemble import SIGNATURE_HEADROOM

    limit = profile.volumes.max_bytes
    if limit is None:
        return None
    return limit - (min(SIGNATURE_HEADROOM, limit // 2) if profile.signature.required else 0)


def _size_class(size: int, limit: int | None) -> str:
    if limit is None:
        return "no limit"
    if size > limit:
        return "over the limit as rendered"
    return "near the limit" if size > limit * 0.75 else "under the limit"


def _files(plan, profile: Profile) -> list[dict]:
    """The files the build will write: [{"type", "documents", "bytes"}], before any fitting."""
    sizes = [(e.doc.id, _estimate(e, profile), e.section or "other") for e in plan.included]
    if profile.output == "per-type":
        files = [{"type": "cover", "documents": [], "bytes": FILE_OVERHEAD}]
        for doc_id, size, section in sizes:
            if files[-1]["type"] != section:
                files.append({"type": section, "documents": [], "bytes": FILE_OVERHEAD // 4})
            files[-1]["documents"].append(doc_id)
            files[-1]["bytes"] += size
        return files
    total = FILE_OVERHEAD + sum(size for _d, size, _s in sizes)
    limit = _limit(profile)
    count = 1
    if profile.output == "volumes" and limit is not None and total > limit:
        count = max(1, math.ceil(total / limit))
    return [{"type": None, "documents": [d for d, _s, _x in sizes] if count == 1 else None,
             "bytes": total // count} for _ in range(count)]


def fit_of(plan, profile: Profile) -> dict:
    """How the build will fit the portal: the files, their estimated sizes and classes, and
    whether images will be downsampled (to ``image_dpi``, 200 dpi when the profile names none)."""
    from ._fit import DEFAULT_DPI, FLOOR_DPI

    limit = _limit(profile)
    files = _files(plan, profile)
    biggest = max((_estimate(e, profile) for e in plan.included), default=0)
    for f in files:
        f["size_class"] = _size_class(f["bytes"], limit)
    if profile.output == "volumes":
        fitting = limit is not None and biggest + FILE_OVERHEAD > limit  # a split is enough unless one document is over
    else:
        fitting = any(f["size_class"] == "over the limit as rendered" for f in files)
    dpi = profile.image_dpi or DEFAULT_DPI
    return {"files": len(files), "file_list": files, "limit": limit, "estimated": True, "downsample": fitting,
            "image_dpi": dpi, "floor_dpi": FLOOR_DPI,
            "estimate_bytes": sum(f["bytes"] for f in files)}

