"""Interoperability with the reference age CLI (Debian's /usr/bin/age, age-keygen).

These tests never skip: without the CLI they fail and say how to get it.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from vault import age

SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536 + 7]
CHUNK = 64 * 1024


class _CLI:
    """Paths of the age tools; looking up a missing one fails the calling test."""

    def __getitem__(self, name: str) -> str:
        path = shutil.which(name)
        if path is None:
            pytest.fail(
                f"the reference `{name}` CLI is not installed; run `make test`, which "
                "installs it, instead of calling pytest directly"
            )
        return path


@pytest.fixture
def cli() -> _CLI:
    return _CLI()


def payload(size: int) -> bytes:
    """Deterministic, non-repeating-per-chunk plaintext of ``size`` bytes."""
    seed = bytes((i * 7 + 3) % 251 for i in range(4099))
    return (seed * (size // len(seed) + 1))[:size]


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, timeout=60, check=False, **kwargs)


def keygen(cli: _CLI, path: Path) -> tuple[age.X25519Identity, str]:
    """A key file made by age-keygen, parsed by us; returns (identity, its age1 string)."""
    result = run([cli["age-keygen"], "-o", str(path)])
    assert result.returncode == 0, result.stderr
    secret = next(
        line for line in path.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-1")
    )
    public = run([cli["age-keygen"], "-y", str(path)]).stdout.decode().strip()
    return age.X25519Identity.from_string(secret), public


def our_key_file(path: Path) -> age.X25519Identity:
    identity = age.X25519Identity.generate()
    path.write_text(f"# public key: {identity.recipient}\n{identity}\n")
    return identity


def age_decrypt(cli: _CLI, key_file: Path, ciphertext: bytes) -> bytes:
    result = run([cli["age"], "-d", "-i", str(key_file)], input=ciphertext)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def run_with_tty(argv: list[str], passphrase: str) -> tuple[int, bytes]:
    """Run ``argv`` on a pseudo-terminal, answering each passphrase prompt.

    The age CLI reads passphrases only from its controlling terminal, so a pipe
    cannot feed it; pty.fork gives the child a terminal that we drive.
    """
    pid, fd = pty.fork()
    if pid == 0:  # child
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    output = b""
    answered = 0
    deadline = time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, 9)
                raise TimeoutError(f"{argv[0]} did not finish; terminal said {output!r}")
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            output += data
            while len(re.findall(rb"passphrase[^\r\n]*: ", output)) > answered:
                os.write(fd, passphrase.encode() + b"\n")
                answered += 1
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output


# --- Keys -------------------------------------------------------------------------


def test_age_keygen_secret_key_parses_to_the_public_key_age_keygen_derives(cli, tmp_path):
    identity, public = keygen(cli, tmp_path / "key.txt")
    assert str(identity.recipient) == public
    assert str(age.X25519Recipient.from_string(public)) == public


def test_age_keygen_derives_our_public_key_from_our_secret_key(cli, tmp_path):
    key_file = tmp_path / "ours.txt"
    identity = our_key_file(key_file)
    result = run([cli["age-keygen"], "-y", str(key_file)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == str(identity.recipient)


# --- Ours -> age -d --------------------------------------------------------------------


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_age_cli_decrypts_what_we_encrypt(cli, tmp_path, size, armor):
    key_file = tmp_path / "key.txt"
    identity = our_key_file(key_file)
    data = payload(size)
    ciphertext = age.encrypt_bytes([identity.recipient], data, armor=armor)
    assert ciphertext.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n") == armor
    assert age_decrypt(cli, key_file, ciphertext) == data


def test_age_cli_decrypts_our_streamed_multi_chunk_file_written_in_odd_pieces(cli, tmp_path):
    key_file = tmp_path / "key.txt"
    identity = our_key_file(key_file)
    data = payload(5 * CHUNK + 12345)
    out = tmp_path / "file.age"
    with out.open("wb") as dst, age.Encryptor([identity.recipient], dst) as writer:
        for start in range(0, len(data), 9973):
            writer.write(data[start : start + 9973])
    assert age_decrypt(cli, key_file, out.read_bytes()) == data


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_each_of_several_recipients_can_decrypt_our_file_with_age_cli(cli, tmp_path, armor):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    id_a, public_b = our_key_file(first), keygen(cli, second)[1]
    data = payload(2 * CHUNK + 1)
    recipients = [id_a.recipient, age.X25519Recipient.from_string(public_b)]
    ciphertext = age.encrypt_bytes(recipients, data, armor=armor)
    assert age_decrypt(cli, first, ciphertext) == data
    assert age_decrypt(cli, second, ciphertext) == data


# --- age -r / -a -> ours ---------------------------------------------------------------


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_we_decrypt_what_age_cli_encrypts(cli, tmp_path, size, armor):
    identity, public = keygen(cli, tmp_path / "key.txt")
    data = payload(size)
    argv = [cli["age"], "-r", public] + (["-a"] if armor else [])
    result = run(argv, input=data)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----") == armor
    assert age.decrypt_bytes([identity], result.stdout) == data
    out = io.BytesIO()
    age.decrypt([identity], io.BytesIO(result.stdout), out)
    assert out.getvalue() == data


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_we_decrypt_age_cli_file_for_several_recipients_with_either_identity(cli, tmp_path, armor):
    id_a, public_a = keygen(cli, tmp_path / "a.txt")
    id_b, public_b = keygen(cli, tmp_path / "b.txt")
    data = payload(3 * CHUNK)
    argv = [cli["age"], "-r", public_a, "-r", public_b] + (["-a"] if armor else [])
    result = run(argv, input=data)
    assert result.returncode == 0, result.stderr
    assert [s.type for s in age.read_header(io.BytesIO(result.stdout))] == ["X25519", "X25519"]
    assert age.decrypt_bytes([id_a], result.stdout) == data
    assert age.decrypt_bytes([id_b], result.stdout) == data
    with pytest.raises(age.NoIdentityMatch):
        age.decrypt_bytes([age.X25519Identity.generate()], result.stdout)


def test_we_decrypt_age_cli_file_with_an_identity_file_recipient(cli, tmp_path):
    key_file = tmp_path / "key.txt"
    identity, _ = keygen(cli, key_file)
    data = payload(CHUNK + 3)
    result = run([cli["age"], "-e", "-i", str(key_file)], input=data)
    assert result.returncode == 0, result.stderr
    assert age.decrypt_bytes([identity], result.stdout) == data


# --- scrypt, through a pseudo-terminal -------------------------------------------------


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_age_cli_decrypts_our_passphrase_file_typed_at_its_terminal(cli, tmp_path, armor):
    data = payload(CHUNK + 1)
    encrypted = tmp_path / "file.age"
    encrypted.write_bytes(
        age.encrypt_bytes([age.ScryptRecipient("correct horse", work_factor=12)], data, armor=armor)
    )
    plain = tmp_path / "plain"
    argv = [cli["age"], "-d", "-o", str(plain), str(encrypted)]
    code, screen = run_with_tty(argv, "correct horse")
    assert code == 0, screen
    assert plain.read_bytes() == data


def test_age_cli_refuses_our_passphrase_file_with_the_wrong_passphrase(cli, tmp_path):
    encrypted = tmp_path / "file.age"
    encrypted.write_bytes(age.encrypt_bytes([age.ScryptRecipient("right", work_factor=10)], b"x"))
    plain = tmp_path / "plain"
    code, screen = run_with_tty([cli["age"], "-d", "-o", str(plain), str(encrypted)], "wrong")
    assert code != 0
    assert b"incorrect passphrase" in screen


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_we_decrypt_age_cli_passphrase_file(cli, tmp_path, armor):
    data = payload(2 * CHUNK + 5)
    plain, encrypted = tmp_path / "plain", tmp_path / "file.age"
    plain.write_bytes(data)
    argv = [cli["age"], "-p"] + (["-a"] if armor else []) + ["-o", str(encrypted), str(plain)]
    code, screen = run_with_tty(argv, "battery staple")
    assert code == 0, screen
    ciphertext = encrypted.read_bytes()
    (stanza,) = age.read_header(io.BytesIO(ciphertext))
    assert stanza.type == "scrypt"
    assert age.decrypt_bytes([age.ScryptIdentity("battery staple")], ciphertext) == data
    with pytest.raises(age.NoIdentityMatch):
        age.decrypt_bytes([age.ScryptIdentity("battery stapler")], ciphertext)


# --- Tampering is caught on both sides ---------------------------------------------------


def test_age_cli_rejects_our_file_with_its_final_chunk_removed(cli, tmp_path):
    key_file = tmp_path / "key.txt"
    identity = our_key_file(key_file)
    ciphertext = age.encrypt_bytes([identity.recipient], payload(2 * CHUNK + 10))
    truncated = ciphertext[: -(10 + 16)]  # drop exactly the short final chunk
    result = run([cli["age"], "-d", "-i", str(key_file)], input=truncated)
    assert result.returncode != 0
    with pytest.raises(age.PayloadError):
        age.decrypt_bytes([identity], truncated)
