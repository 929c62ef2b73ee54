"""A profile's output shape and upload portals: how many files, and how large each may be.

``output`` is one of :data:`OUTPUT_SHAPES`: ``single`` (one file, refused over the
limit), ``volumes`` (split at document boundaries to stay under it) or ``per-type`` (one
file per document type, as IRCC's portals take them, each under the limit; the cover
letter and index make a file of their own). ``[portals.NAME]`` tables give each portal
the recipient publishes its limit (``max_bytes``) and the page that says so
(``source``); ``portal`` names the one used when the build names none. A portal's limit
replaces ``[volumes] max_bytes``. ``image_dpi`` is the resolution the recipient asks
images to be at most, the first target of fitting (packets/_fit.py).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from .profiles import Profile, ProfileError, Volumes, _one_of, _show

__all__ = ["OUTPUT_SHAPES", "Portal", "for_portal", "read_shape"]

OUTPUT_SHAPES: tuple[str, ...] = ("single", "volumes", "per-type")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


@dataclass(frozen=True)
class Portal:
    """Where a recipient takes files: its name, its per-file limit in bytes, and the source."""

    name: str
    max_bytes: int
    source: str


def read_shape(top, volumes: Volumes) -> dict:
    """Read ``output``, ``portal``, ``[portals]`` and ``image_dpi`` from the profile's top
    table (a ``_profile_toml._Reader``); returns the Profile fields, ``volumes`` with the
    default portal's limit and the output's splitting."""
    portals: list[Portal] = []
    table = top.table.get("portals", {})
    if not isinstance(table, dict):
        top.fail("portals", "expected a table of portals", 'write [portals.NAME] with max_bytes and source')
    for name, raw in table.items():
        if not _NAME.fullmatch(name):
            top.fail("portals", f"{_show(name)} is not a portal name", "use lowercase letters, digits and hyphens")
        reader = type(top)(top.source, raw, f"portals.{name}", ("max_bytes", "source"))
        max_bytes = reader.integer("max_bytes", required=True, example="2000000", low=1, high=2**63 - 1)
        source = reader.string("source", required=True, example='"https://... (the page that states the limit)"')
        portals.append(Portal(name, int(max_bytes), str(source)))
    names = [p.name for p in portals]
    portal = top.string("portal", None, example=f'"{names[0]}"' if names else '"NAME"')
    if portal is not None and portal not in names:
        top.fail("portal", f"{_show(portal)} is not one of the profile's portals ({_one_of(names) or 'none'})",
                 "add it under [portals] or name one of them")
    if portal is None and names:
        top.fail("portal", "missing although the profile lists portals", f'add portal = "{names[0]}"')
    explicit = top.string("output", None, example='"single"')
    if explicit is not None and explicit not in OUTPUT_SHAPES:
        top.fail("output", f"{_show(explicit)} is not one of {_one_of(OUTPUT_SHAPES)}", "use single, volumes or per-type")
    max_bytes = next((p.max_bytes for p in portals if p.name == portal), volumes.max_bytes)
    if explicit is None:
        output = "volumes" if volumes.max_bytes is not None and volumes.split else "single"
    else:
        output = explicit
    dpi = top.integer("image_dpi", None, example="150", low=72, high=1200)
    return {"output": output, "portal": portal, "portals": tuple(portals), "image_dpi": dpi,
            "volumes": Volumes(max_bytes=max_bytes, split=(output == "volumes") if explicit else volumes.split)}


def for_portal(profile: Profile, name: str | None) -> Profile:
    """``profile`` with the limit of portal ``name`` (None: the profile's default portal).

    Raises:
        ProfileError: the profile lists no portal of that name (hint ``packet-portal``).
    """
    if name is None:
        return profile
    names = [p.name for p in profile.portals]
    found = next((p for p in profile.portals if p.name == name), None)
    if found is None:
        listed = _one_of(names) if names else "none"
        raise ProfileError(f"{profile.source_name}: portal: {_show(name)} is not a portal of {profile.id}"
                           f" (its portals: {listed})", hint="packet-portal")
    return dataclasses.replace(profile, portal=name,
                               volumes=Volumes(max_bytes=found.max_bytes, split=profile.volumes.split))
