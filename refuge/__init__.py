"""refuge's applications: the command line, the demo (and the local web desk).

This package sits above the two libraries, ``vault`` and ``packets``. It alone
imports click, words the libraries' errors with their hints, and prints.
"""


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata when first asked for (importlib.metadata
    and what it imports cost tens of milliseconds at every command's start otherwise)."""
    if name != "__version__":
        raise AttributeError(f"module 'refuge' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("refuge")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"
