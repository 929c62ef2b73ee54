"""Per-person caches in REFUGE_HOME/cache/<vault>/<user>/: sealed so that only their owner made them.

A cache only saves work: the vault stays the truth, and every cache is
checked against it before it is used (the caller's rule). A cache file is
sealed with ChaCha20-Poly1305 under a key derived from the person's own
secret identity, bound to the vault, the person and the cache's name: a
file copied from another person, another vault or another cache, or altered
on disk, does not open and is ignored (the caller rebuilds it). Being
age-encrypted to the person's public recipient would not do: anyone can
encrypt to a public key.

The directory's fold is cached here too (:func:`restore_directory`), trusted
only while the directory event it ends at is still in the vault with the same
digest, and only for the same anchor key and authority setting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
from pathlib import Path

from . import _crypto

FORMAT = 1


def cache_dir(v) -> Path:
    """Where this person's caches of this vault are kept."""
    return v.home.path / "cache" / v.id / v.me.user_id


def _key(v) -> bytes:
    me = v.me
    return _crypto.hkdf_sha256(f"{me.age_identity}".encode(), v.id.encode(), b"refuge cache v1 " + me.user_id.encode())


def _aad(v, name: str) -> bytes:
    return f"refuge cache {FORMAT}\n{v.id}\n{v.me.user_id}\n{name}".encode()


def save(v, name: str, obj) -> None:
    """Seal ``obj`` (JSON) as cache ``name``, atomically; a cache that cannot be written is skipped."""
    path = cache_dir(v) / name
    try:
        sealed = _crypto.seal(_key(v), json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode(),
                              _aad(v, name))
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(sealed)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        pass  # an optimisation only


def load(v, name: str):
    """Cache ``name`` as this person sealed it, or None (absent, altered, another person's or vault's)."""
    try:
        sealed = (cache_dir(v) / name).read_bytes()
        return json.loads(_crypto.unseal(_key(v), sealed, _aad(v, name)))
    except Exception:  # noqa: BLE001 - whatever is wrong with a cache, it is not used
        return None


def save_bytes(v, name: str, data: bytes) -> None:
    """Seal raw bytes as cache ``name``, atomically, as :func:`save` does; a cache that cannot be written is skipped."""
    path = cache_dir(v) / name
    tmp = path.with_name(f".{name}.{secrets.token_hex(4)}.tmp")
    try:
        sealed = _crypto.seal(_key(v), data, _aad(v, name))
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(sealed)
        os.replace(tmp, path)
    except (OSError, OverflowError, ValueError, MemoryError):
        with contextlib.suppress(OSError):
            tmp.unlink()


def load_bytes(v, name: str) -> bytes | None:
    """Raw cache ``name`` as this person sealed it with :func:`save_bytes`, or None."""
    try:
        return _crypto.unseal(_key(v), (cache_dir(v) / name).read_bytes(), _aad(v, name))
    except Exception:  # noqa: BLE001 - whatever is wrong with a cache, it is not used
        return None


def drop(v, name: str) -> None:
    """Remove cache ``name``."""
    with contextlib.suppress(OSError):
        (cache_dir(v) / name).unlink()


# --- the directory's fold -------------------------------------------------------------


def _native(x) -> bool:
    """Whether ``x`` is JSON as it is (str-keyed dicts, lists, strings, numbers, booleans, None)."""
    if isinstance(x, dict):
        return all(isinstance(k, str) and _native(val) for k, val in x.items())
    if isinstance(x, list):
        return all(_native(i) for i in x)
    return x is None or isinstance(x, (str, int, float, bool))


def _plain(x):
    """A JSON form of the directory's state (dataclasses, sets, bytes, int keys), or TypeError."""
    if isinstance(x, (dict, list)) and _native(x):
        return {"~": "json", "v": x}  # read back as it is, without a walk
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {"~": type(x).__name__, **{f.name: _plain(getattr(x, f.name)) for f in dataclasses.fields(x)}}
    if isinstance(x, dict):
        if all(isinstance(k, str) for k in x):
            return {"~": "dict", "items": {k: _plain(val) for k, val in x.items()}}
        if all(isinstance(k, int) for k in x):
            return {"~": "intdict", "items": [[k, _plain(val)] for k, val in x.items()]}
    elif isinstance(x, (list, tuple)):
        return [_plain(i) for i in x]
    elif isinstance(x, (set, frozenset)):
        return {"~": "set", "items": sorted(_plain(i) for i in x)}
    elif isinstance(x, bytes):
        return {"~": "bytes", "hex": x.hex()}
    elif x is None or isinstance(x, (str, int, float, bool)):
        return x
    raise TypeError(f"cannot cache a {type(x).__name__}")


def _classes() -> dict:
    from .identity import PublicIdentity
    from .people import User
    from .retention import CaseStatus, Policy

    return {c.__name__: c for c in (PublicIdentity, User, CaseStatus, Policy)}


def _back(x, classes: dict):
    if isinstance(x, list):
        return [_back(i, classes) for i in x]
    if not isinstance(x, dict):
        return x
    kind = x["~"]
    if kind == "json":
        return x["v"]
    if kind == "dict":
        return {k: _back(val, classes) for k, val in x["items"].items()}
    if kind == "intdict":
        items = x["items"]
        if all(isinstance(val, str) for _, val in items):
            return {int(k): val for k, val in items}
        return {int(k): _back(val, classes) for k, val in items}
    if kind == "set":
        return set(x["items"])
    if kind == "bytes":
        return bytes.fromhex(x["hex"])
    cls = classes[kind]  # KeyError: a class this version does not cache
    names = {f.name for f in dataclasses.fields(cls)}
    fields = {k: _back(val, classes) for k, val in x.items() if k != "~"}
    if set(fields) != names:
        raise TypeError("a cache of another layout")
    return cls(**fields)


def _shape(directory) -> list:
    """What the directory's state is made of: a cache of another shape (another version) is not used."""
    return sorted(vars(directory)) + [f"{n}:{','.join(sorted(f.name for f in dataclasses.fields(c)))}"
                                      for n, c in sorted(_classes().items())]


def save_directory(v, authority: bool) -> None:
    """Cache the folded directory (what :func:`restore_directory` trusts, checked)."""
    d = v.directory
    try:
        state = {k: _plain(val) for k, val in vars(d).items()}
    except TypeError:
        return  # a state this version cannot cache: fold in full each time
    save(v, "directory", {"fmt": FORMAT, "anchor": v.settings["anchor"], "authority": authority,
                          "shape": _shape(d), "state": state})


def restore_directory(v, authority: bool, still_there) -> bool:
    """Replace ``v.directory``'s empty state by the cached fold, if valid; returns whether it did.

    ``still_there(seq, digest)`` says whether the directory event the cache
    ends at is still in the vault with that digest; if not, the cache is not
    used (the full fold that follows then finds what changed).
    """
    c = load(v, "directory")
    d = v.directory
    if not isinstance(c, dict) or c.get("fmt") != FORMAT or c.get("anchor") != v.settings["anchor"] \
            or c.get("authority") != authority or c.get("shape") != _shape(d):
        return False
    try:
        classes = _classes()
        state = {k: _back(val, classes) for k, val in c["state"].items()}
        if set(state) != set(vars(d)) or not isinstance(state["last_seq"], int) or state["last_seq"] < 1:
            return False
        if not still_there(state["last_seq"], state["last_digest"]):
            return False
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    vars(d).update(state)
    return True
