"""Where REFUGE_HOME is when it is not set: a module of its own, so that the command line's
first step (refuge/_launch.py) finds the unlock agent without loading vault.identity."""

from __future__ import annotations

import os


def default_home() -> str:
    """$REFUGE_HOME, else refuge's folder in $XDG_CONFIG_HOME (default ~/.config)."""
    env = os.environ.get("REFUGE_HOME")
    if env:
        return env
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "refuge")
