"""The layering of the code, read from the source (ast) rather than trusted.

- Only the application package refuge/ imports click (also not lazily in a function).
- vault/ never imports packets/ (also not lazily).
- vault/ and packets/ never print, nor touch sys.stdout or sys.stderr.
- No string literal of vault/ or packets/ names a refuge command or one of its flags:
  a library error says what is wrong and passes a hint code; the application words it.
- Every exception class of vault/ and packets/ is a vault.errors.RefugeError.
- No module of vault/ or packets/ is over 700 lines, no function over 80 lines.
- Only vault/_crypto.py (and vault/orgkey.py, for X.509) touch cryptography.hazmat.

Each check is a function from (path, source text) to a list of problems, run once per
file, so a failure names the file and line.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vault.errors import RefugeError

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("vault", "packets")
APPLICATION = "refuge"
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 80

# The refuge commands (the top-level words after "refuge"). A literal such as "is not a
# refuge vault" names no command, so the word must follow "refuge" directly and not be
# preceded by an article.
COMMANDS = ("init", "unlock", "lock", "user", "case", "doc", "consent", "redact", "packet", "keys",
            "audit", "fsck", "vault", "retention", "demo", "desk")
_COMMAND_RE = re.compile(rf"(?<!\ba )(?<!\bthe )\brefuge (?:{'|'.join(COMMANDS)})\b")
_FLAG_RE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_SYS_STREAMS = {"stdout", "stderr", "__stdout__", "__stderr__"}
_HAZMAT_ALLOWED = {"vault/_crypto.py", "vault/orgkey.py"}


def _files(*packages: str) -> list[str]:
    out = []
    for package in packages:
        base = ROOT / package
        if base.is_dir():
            out += [p.relative_to(ROOT).as_posix() for p in sorted(base.rglob("*.py"))
                    if "__pycache__" not in p.parts]
    return out


LIBRARY_FILES = _files(*LIBRARIES)
ALL_FILES = _files(*LIBRARIES, APPLICATION)


# --- the checks: (path, source) -> problems ----------------------------------------


def _imported(tree: ast.AST, path: str) -> Iterator[tuple[int, str]]:
    """Every module name imported anywhere in the tree (line, dotted name), relative ones resolved."""
    package = path.removesuffix(".py").split("/")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}" if module else alias.name
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (isinstance(node.func, ast.Name) and node.func.id == "__import__"
                   or isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")):
            yield node.lineno, node.args[0].value


def _imports_of(prefix: str, path: str, source: str) -> list[str]:
    tree = ast.parse(source)
    return [f"{path}:{line}: imports {name}" for line, name in _imported(tree, path)
            if name == prefix or name.startswith(prefix + ".")]


def check_click(path: str, source: str) -> list[str]:
    """Outside refuge/, nothing imports click."""
    if path.startswith(APPLICATION + "/"):
        return []
    return _imports_of("click", path, source)


def check_packets(path: str, source: str) -> list[str]:
    """vault/ never imports packets/."""
    if not path.startswith("vault/"):
        return []
    return _imports_of("packets", path, source)


def check_print(path: str, source: str) -> list[str]:
    """A library never prints nor touches sys.stdout / sys.stderr."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            problems.append(f"{path}:{node.lineno}: calls print()")
        elif (isinstance(node, ast.Attribute) and node.attr in _SYS_STREAMS
              and isinstance(node.value, ast.Name) and node.value.id == "sys"):
            problems.append(f"{path}:{node.lineno}: uses sys.{node.attr}")
        elif (isinstance(node, ast.ImportFrom) and node.module == "sys"
              and any(a.name in _SYS_STREAMS for a in node.names)):
            problems.append(f"{path}:{node.lineno}: imports a stream from sys")
    return problems


def _docstrings(tree: ast.AST) -> set[int]:
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return docs


def check_commands(path: str, source: str) -> list[str]:
    """No str literal names a refuge command or a flag.

    Docstrings are documentation, not messages, and bytes are protocol labels; a str
    that is an element of a list or tuple is taken as the argv of another program
    (``["tesseract", "--psm", "1"]``).
    """
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple)):
            skip.update(id(e) for e in node.elts if isinstance(e, ast.Constant))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            found = _COMMAND_RE.search(node.value) or _FLAG_RE.search(node.value)
            if found:
                problems.append(f"{path}:{node.lineno}: names {found.group(0)!r} in {node.value[:60]!r}")
    return problems


def check_size(path: str, source: str) -> list[str]:
    """At most 700 lines a module and 80 a function (as /work/notes/lengths.py counts)."""
    problems = []
    lines = source.count("\n")
    if lines > MAX_MODULE_LINES:
        problems.append(f"{path}: {lines} lines (limit {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                problems.append(f"{path}:{node.lineno}: {node.name} is {length} lines "
                                f"(limit {MAX_FUNCTION_LINES})")
    return problems


def check_hazmat(path: str, source: str) -> list[str]:
    """Only vault/_crypto.py (and vault/orgkey.py, X.509) touch cryptography.hazmat."""
    if path in _HAZMAT_ALLOWED:
        return []
    return _imports_of("cryptography.hazmat", path, source)


def exception_problems(module_name: str) -> list[str]:
    """Exception classes visible in the module, from vault or packets, not RefugeErrors."""
    module = importlib.import_module(module_name)
    problems = []
    for name, cls in inspect.getmembers(module, inspect.isclass):
        if (issubclass(cls, BaseException) and cls.__module__.split(".")[0] in LIBRARIES
                and not issubclass(cls, RefugeError)):
            problems.append(f"{module_name}.{name} ({cls.__module__}) is not a RefugeError")
    return problems


# --- running them on every file --------------------------------------------------


def _params(check: str, files: list[str]) -> list:
    return [pytest.param(f, id=f) for f in files]


def _run(check: Callable[[str, str], list[str]], path: str) -> None:
    problems = check(path, (ROOT / path).read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", _params("click", ALL_FILES))
def test_only_the_application_imports_click(path):
    _run(check_click, path)


@pytest.mark.parametrize("path", _params("packets", _files("vault")))
def test_vault_does_not_import_packets(path):
    _run(check_packets, path)


@pytest.mark.parametrize("path", _params("print", LIBRARY_FILES))
def test_libraries_do_not_print(path):
    _run(check_print, path)


@pytest.mark.parametrize("path", _params("commands", LIBRARY_FILES))
def test_library_strings_name_no_refuge_command_or_flag(path):
    _run(check_commands, path)


@pytest.mark.parametrize("path", _params("size", ALL_FILES))
def test_modules_and_functions_are_small(path):
    _run(check_size, path)


@pytest.mark.parametrize("path", ALL_FILES)
def test_only_crypto_touches_hazmat(path):
    _run(check_hazmat, path)


@pytest.mark.parametrize("path", _params("exceptions", [
    f for f in LIBRARY_FILES if not f.endswith("__main__.py")]))
def test_every_library_exception_is_a_refuge_error(path):
    module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    problems = exception_problems(module)
    assert not problems, "\n".join(problems)


# --- the checks can fail -----------------------------------------------------------


@pytest.mark.parametrize("source", [
    "import click\n",
    "import click.testing as t\n",
    "from click import echo\n",
    "def f():\n    import click\n    return click\n",
    "import importlib\nc = importlib.import_module('click')\n",
])
def test_click_check_flags_a_library_importing_click(source):
    assert check_click("vault/synthetic.py", source)
    assert check_click("packets/synthetic.py", source)
    assert not check_click("refuge/synthetic.py", source)


@pytest.mark.parametrize("source", [
    "import packets.plan\n",
    "from packets import plan\n",
    "def f():\n    from packets.build import build\n",
    "from .. import packets\n",
])
def test_packets_check_flags_vault_importing_packets(source):
    assert check_packets("vault/synthetic.py", source)


def test_print_check_flags_printing_and_stream_writes():
    assert check_print("vault/x.py", "print('hello')\n")
    assert check_print("vault/x.py", "import sys\nsys.stderr.write('x')\n")
    assert check_print("vault/x.py", "from sys import stdout\n")
    assert not check_print("vault/x.py", "def f(printer):\n    printer('x')\n")


def test_commands_check_flags_commands_and_flags_in_messages():
    flagged = [
        'raise NotFound("no such case; see refuge case list")\n',
        'raise InvalidInput(f"{x} needs --reason")\n',
        'm = "give --translation-of DOC"\n',
    ]
    for source in flagged:
        assert check_commands("vault/x.py", source), source
    allowed = [
        '"""Run refuge case list to see them."""\n',
        'LABEL = b"refuge audit seal v1"\n',
        'subprocess.run(["tesseract", "--psm", "1"])\n',
        'raise InvalidInput("this is not a refuge vault")\n',
        'raise InvalidInput("-----BEGIN AGE ENCRYPTED FILE----- is missing")\n',
    ]
    for source in allowed:
        assert not check_commands("vault/x.py", source), source


def test_size_check_flags_long_modules_and_functions():
    long_function = "def f():\n" + "    x = 1\n" * 80
    assert check_size("vault/x.py", long_function)
    assert not check_size("vault/x.py", "def f():\n" + "    x = 1\n" * 79)
    assert check_size("vault/x.py", "x = 1\n" * 701)


def test_hazmat_check_flags_other_modules():
    source = "from cryptography.hazmat.primitives import hashes\n"
    assert check_hazmat("vault/age.py", source)
    assert not check_hazmat("vault/_crypto.py", source)


def test_exception_check_flags_a_plain_exception(monkeypatch):
    module = types.ModuleType("vault._synthetic_layers")
    module.Oops = type("Oops", (ValueError,), {"__module__": module.__name__})
    monkeypatch.setitem(sys.modules, module.__name__, module)
    assert exception_problems(module.__name__)
