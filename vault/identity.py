"""People's identities: an X25519 key (age) and an Ed25519 key (signatures).

A secret identity is stored in REFUGE_HOME as an age file encrypted with its
owner's passphrase (scrypt). Its plaintext is a valid age identity file, so the
age CLI alone can use it in an emergency (keys/README.md)::

    # refuge identity v1
    # name: alice
    # refuge-ed25519: <base64 Ed25519 seed>
    AGE-SECRET-KEY-1...

The public part is a small JSON document (``refuge user keygen`` prints it and
``refuge user add --public`` reads it), self-signed with the Ed25519 key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import _crypto, age
from ._homepath import default_home
from .errors import InvalidInput, NotFound, NotPermitted, VerificationFailed

__all__ = [
    "PublicIdentity",
    "SecretIdentity",
    "Home",
    "check_passphrase",
    "work_factor",
]

NAME_RE = re.compile(r"^[a-z][a-z0-9._-]{0,31}$")
MIN_PASSPHRASE = 12
# scrypt work factor 2**18: about a second on a modern machine, by design.
WORK_FACTOR = 18
# Test-only: REFUGE_TEST_WORK_FACTOR lowers the work factor of identities
# created while it is set, so test suites do not spend a second per identity.
TEST_WORK_FACTOR_ENV = "REFUGE_TEST_WORK_FACTOR"


def work_factor() -> int:
    """The scrypt work factor for new identities (18 unless the test setting lowers it)."""
    raw = os.environ.get(TEST_WORK_FACTOR_ENV)
    if not raw:
        return WORK_FACTOR
    if not raw.isdigit() or not 1 <= int(raw) <= WORK_FACTOR:
        raise InvalidInput(f"{TEST_WORK_FACTOR_ENV} must be a number from 1 to {WORK_FACTOR}; unset it outside tests")
    return int(raw)


def check_name(name: str) -> str:
    """Validate a user name: lower-case letters, digits, '.', '_', '-'; up to 32."""
    if not NAME_RE.match(name):
        raise InvalidInput(
            f"invalid user name {name!r}; use 1 to 32 lower-case letters, digits, '.', '_' or '-', starting with a letter"
        )
    return name


def check_passphrase(passphrase: str) -> str:
    """Refuse passphrases shorter than 12 characters."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(
            f"passphrase too short ({len(passphrase)} characters); use at least {MIN_PASSPHRASE}, e.g. four random words"
        )
    return passphrase


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


@dataclass(frozen=True)
class PublicIdentity:
    """What others need to know of a person: name, age recipient, Ed25519 key."""

    name: str
    recipient: str
    sign_pub: bytes

    @property
    def user_id(self) -> str:
        """A stable opaque id derived from the public keys."""
        digest = hashlib.sha256(b"refuge user\n" + self.recipient.encode() + b"\n" + self.sign_pub).digest()
        return "u" + base64.b32encode(digest[:10]).decode().lower()

    @property
    def age_recipient(self) -> age.X25519Recipient:
        return age.X25519Recipient.from_string(self.recipient)

    def fields(self) -> dict:
        """The JSON fields of this identity (used inside signed records)."""
        return {"name": self.name, "recipient": self.recipient, "sign_pub": _b64(self.sign_pub)}

    @classmethod
    def from_fields(cls, data: dict) -> "PublicIdentity":
        try:
            pub = cls(check_name(data["name"]), data["recipient"], _unb64(data["sign_pub"]))
            pub.age_recipient  # parses
            if len(pub.sign_pub) != 32:
                raise ValueError
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidInput("malformed public identity", hint="identity-remake") from e
        return pub

    def to_file_text(self, secret: "SecretIdentity") -> str:
        """The ``.pub`` file: the fields, self-signed."""
        body = self.fields()
        sig = secret.sign(_canonical({"refuge-public-identity": 1, **body}))
        return json.dumps({"refuge-public-identity": 1, **body, "self_sig": _b64(sig)}, indent=2) + "\n"

    @classmethod
    def from_file_text(cls, text: str) -> "PublicIdentity":
        """Parse and check a ``.pub`` file; a bad self-signature is refused."""
        try:
            data = json.loads(text)
            sig = _unb64(data.pop("self_sig"))
            if data.get("refuge-public-identity") != 1:
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidInput("not a refuge public identity file", hint="identity-make") from None
        pub = cls.from_fields(data)
        if not _crypto.ed25519_verify(pub.sign_pub, sig, _canonical(data)):
            raise VerificationFailed("the public identity's self-signature is invalid", hint="identity-owner-remake")
        return pub


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class SecretIdentity:
    """A person's secret keys. Decrypts what is wrapped to them and signs for them."""

    def __init__(self, name: str, age_identity: age.X25519Identity, sign_seed: bytes) -> None:
        self.name = name
        self.age_identity = age_identity
        self._seed = sign_seed
        self.public = PublicIdentity(name, str(age_identity.recipient), _crypto.ed25519_public(sign_seed))

    @classmethod
    def generate(cls, name: str) -> "SecretIdentity":
        return cls(check_name(name), age.X25519Identity.generate(), _crypto.ed25519_generate())

    @property
    def user_id(self) -> str:
        return self.public.user_id

    def sign(self, message: bytes) -> bytes:
        return _crypto.ed25519_sign(self._seed, message)

    def to_text(self) -> str:
        return (
            "# refuge identity v1\n"
            f"# name: {self.name}\n"
            f"# refuge-ed25519: {_b64(self._seed)}\n"
            f"{self.age_identity}\n"
        )

    @classmethod
    def from_text(cls, text: str) -> "SecretIdentity":
        fields, key = {}, None
        for line in text.splitlines():
            if line.startswith("# ") and ": " in line:
                k, v = line[2:].split(": ", 1)
                fields[k] = v
            elif line.startswith("AGE-SECRET-KEY-1"):
                key = line
        try:
            return cls(fields["name"], age.X25519Identity.from_string(key), _unb64(fields["refuge-ed25519"]))
        except (KeyError, TypeError, ValueError):
            raise InvalidInput("the identity file is damaged; restore it from your backup") from None


class Home:
    """REFUGE_HOME: one person's (or a test's) identities and settings.

    ``identities/NAME.age`` holds a secret identity encrypted with its owner's
    passphrase; ``identities/NAME.pub`` its public part; ``config.json`` the
    default user and the vaults this home has pinned (vault id -> founding
    admin's Ed25519 key, trusted on first use).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def check_private(self) -> None:
        """Refuse a home another local user owns or may write to (NotPermitted), before using it.

        Whoever can write to it can link a file of its owner's where refuge
        writes, or replace ``config.json`` and its pinned anchors. A home not
        made yet is made private (mode 700) when it is.
        """
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            raise NotPermitted(f"REFUGE_HOME ({self.path}) belongs to another user or others may write to it, "
                               "so nothing in it can be trusted", hint="home-private")

    @classmethod
    def default(cls) -> "Home":
        """$REFUGE_HOME, else refuge's folder in $XDG_CONFIG_HOME (default ~/.config)."""
        return cls(default_home())

    @property
    def identities(self) -> Path:
        return self.path / "identities"

    def names(self) -> list[str]:
        """Names of the secret identities stored here."""
        if not self.identities.is_dir():
            return []
        return sorted(p.stem for p in self.identities.glob("*.age"))

    def has(self, name: str) -> bool:
        return (self.identities / f"{check_name(name)}.age").is_file()

    def create(self, secret: SecretIdentity, passphrase: str) -> None:
        """Store a new identity; refuses to replace an existing one."""
        check_passphrase(passphrase)
        self.check_private()
        self.identities.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)
        target = self.identities / f"{secret.name}.age"
        if target.exists():
            raise InvalidInput(f"an identity named {secret.name} already exists in REFUGE_HOME; pick another name")
        data = age.encrypt_bytes([age.ScryptRecipient(passphrase, work_factor())], secret.to_text().encode(), armor=True)
        _write_private(target, data)
        _write_private(self.identities / f"{secret.name}.pub", secret.public.to_file_text(secret).encode())

    def public(self, name: str) -> PublicIdentity:
        path = self.identities / f"{check_name(name)}.pub"
        try:
            return PublicIdentity.from_file_text(path.read_text())
        except FileNotFoundError:
            raise NotFound(f"no identity named {name} in REFUGE_HOME", hint="identity-see-keygen") from None

    def unlock(self, name: str, passphrase: str) -> SecretIdentity:
        """Decrypt an identity with its passphrase."""
        self.check_private()
        path = self.identities / f"{check_name(name)}.age"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no identity named {name} in REFUGE_HOME; set REFUGE_HOME or REFUGE_USER") from None
        try:
            text = age.decrypt_bytes([age.ScryptIdentity(passphrase)], data).decode()
        except (age.NoIdentityMatch, age.HMACError):
            raise InvalidInput("wrong passphrase; try again, or set REFUGE_PASSPHRASE_FILE for scripts") from None
        except age.AgeError:
            raise InvalidInput("the identity file is damaged; restore it from your backup") from None
        return SecretIdentity.from_text(text)

    # --- settings ---------------------------------------------------------

    def config(self) -> dict:
        self.check_private()
        try:
            return json.loads((self.path / "config.json").read_text())
        except FileNotFoundError:
            return {}

    def update_config(self, **changes) -> None:
        cfg = self.config()  # (checks the home is private)
        cfg.update(changes)
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path / "config.json.tmp"
        _write_private(tmp, (json.dumps(cfg, indent=2, sort_keys=True) + "\n").encode(), exclusive=False)
        os.replace(tmp, self.path / "config.json")


def _write_private(path: Path, data: bytes, exclusive: bool = True) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
