"""Retention: when a closed case falls due for purging, and what holds it back.

A case's life is recorded in the vault's directory (events every enrolled
person can read and verify, but that hold only opaque case ids and dates):
closed, reopened, held, released, purged. The retention policy (a default
period and periods per document type) is a directory event too, set by admins.

When a case lead closes a case, its purge date is fixed: the close date plus
the longest of the case's own period (``--retain``, else the policy default)
and the periods of the document types the case holds. A case on legal hold is
never due and cannot be purged.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

from .errors import InvalidInput

__all__ = ["CaseStatus", "Policy", "parse_period", "add_period", "purge_date"]

_PERIOD = re.compile(r"([1-9][0-9]{0,3})([ymd])")


def parse_period(text: str) -> str:
    """Check a retention period such as ``7y``, ``18m`` or ``90d``; returns it normalised."""
    t = text.strip().lower()
    if not _PERIOD.fullmatch(t):
        raise InvalidInput(f"retention period {text!r} is not understood; write a number and y, m or d, e.g. 7y, 18m, 90d")
    return t


def _days(period: str, start: _dt.date) -> int:
    return (add_period(start, period) - start).days


def add_period(start: _dt.date, period: str) -> _dt.date:
    """``start`` plus a period; 29 February plus a year is 28 February."""
    n, unit = int(period[:-1]), period[-1]
    if unit == "d":
        return start + _dt.timedelta(days=n)
    months = start.month - 1 + (n * 12 if unit == "y" else n)
    year, month = start.year + months // 12, months % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return _dt.date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass
class Policy:
    """The vault's retention periods: a default and one per document type (None: keep until purged by hand)."""

    default: str | None = None
    types: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"default": self.default, "types": dict(sorted(self.types.items()))}


def purge_date(closed: _dt.date, own: str | None, policy: Policy, doc_types: set[str]) -> _dt.date | None:
    """When a case closed on ``closed`` falls due: the longest period that applies, or None."""
    periods = [p for p in [own or policy.default, *(policy.types.get(t) for t in doc_types)] if p]
    if not periods:
        return None
    return closed + _dt.timedelta(days=max(_days(p, closed) for p in periods))


@dataclass
class CaseStatus:
    """What the directory says of one case's life (closed, on hold, purged)."""

    case_id: str
    closed_at: str | None = None
    purge_after: str | None = None
    hold: dict | None = None  # {"reason", "by", "at"} while on legal hold
    purged_at: str | None = None

    @property
    def state(self) -> str:
        if self.purged_at:
            return "purged"
        if self.hold:
            return "held"
        return "closed" if self.closed_at else "open"

    def as_dict(self) -> dict:
        return {"id": self.case_id, "state": self.state, "closed_at": self.closed_at,
                "purge_after": self.purge_after, "hold": self.hold, "purged_at": self.purged_at}
