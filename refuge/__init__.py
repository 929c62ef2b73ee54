"""refuge's applications: the command line, the demo (and the local web desk).

This package sits above the two libraries, ``vault`` and ``packets``. It alone
imports click, words the libraries' errors with their hints, and prints.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("refuge")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
