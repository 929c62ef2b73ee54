"""The build's clock: the time ``SOURCE_DATE_EPOCH`` sets for a reproducible build.

A module of its own (not packets/_pdf.py, which loads pikepdf) so that the process that
plans, signs and records a packet reads the clock without loading a PDF library.
"""

from __future__ import annotations

import datetime as _dt
import os

from vault.errors import InvalidInput, RefugeError

__all__ = ["source_date_epoch"]


def source_date_epoch(error: type[RefugeError] = InvalidInput) -> _dt.datetime | None:
    """The time ``SOURCE_DATE_EPOCH`` sets for a reproducible build (UTC), or None when unset.

    Raises:
        error: the variable is set but is not a number of seconds since 1970.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    try:
        return _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise error(f"SOURCE_DATE_EPOCH: {epoch[:20]!r} is not a number of seconds since 1970; set it to an"
                    " integer such as 1795392000, or unset it") from None
