"""STREAM payload, streaming API, tamper detection, memory bound and API contract."""

from __future__ import annotations

import base64
import gc
import hashlib
import io
import os
import threading
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault import _age_format, _armor, _crypto, _stream, age

CHUNK = 64 * 1024
TAG = 16
# Fixed (test-only) keys, so parametrized test ids are the same in every xdist worker.
ALICE = age.X25519Identity(hashlib.sha256(b"test key alice").digest())
BOB = age.X25519Identity(hashlib.sha256(b"test key bob").digest())
BOUNDARY_SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1, 3 * CHUNK + 7]


def payload(size: int) -> bytes:
    seed = hashlib.sha256(b"refuge").digest() * 129  # 4128 bytes, not a divisor of CHUNK
    return (seed * (size // len(seed) + 1))[:size]


def header_length(ciphertext: bytes) -> int:
    """Bytes up to and including the MAC line (binary files)."""
    return ciphertext.index(b"\n--- ") + len(b"\n--- ") + 43 + 1


def expected_payload_length(size: int) -> int:
    chunks = max(1, -(-size // CHUNK))
    return 16 + size + chunks * TAG


def split_chunks(ciphertext: bytes) -> tuple[bytes, bytes, list[bytes]]:
    """(header, nonce, sealed chunks) of a binary age file."""
    end = header_length(ciphertext)
    body = ciphertext[end + 16 :]
    chunks = [body[i : i + CHUNK + TAG] for i in range(0, len(body), CHUNK + TAG)]
    return ciphertext[:end], ciphertext[end : end + 16], chunks


def decrypt_until_error(ciphertext: bytes) -> tuple[bytes, Exception | None]:
    """What decrypt() wrote to its destination before it raised, and what it raised."""
    out = io.BytesIO()
    try:
        age.decrypt([ALICE], io.BytesIO(ciphertext), out)
    except age.DecryptError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


# --- Round trips at chunk boundaries ---------------------------------------------------


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
def test_round_trip_at_chunk_boundary_has_exactly_the_spec_chunk_layout(size):
    data = payload(size)
    ciphertext = age.encrypt_bytes([ALICE.recipient], data)
    # A multiple of 64 KiB ends with a full final chunk, never an extra empty one.
    assert len(ciphertext) - header_length(ciphertext) == expected_payload_length(size)
    assert age.decrypt_bytes([ALICE], ciphertext) == data


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
@pytest.mark.parametrize("piece", [1, 4093, CHUNK, CHUNK + 1, 10 * CHUNK])
def test_ciphertext_layout_does_not_depend_on_write_sizes(size, piece):
    data = payload(size)
    out = io.BytesIO()
    with age.Encryptor([ALICE.recipient], out) as writer:
        for start in range(0, size, piece):
            assert writer.write(data[start : start + piece]) == len(data[start : start + piece])
    ciphertext = out.getvalue()
    assert len(ciphertext) - header_length(ciphertext) == expected_payload_length(size)
    assert age.decrypt_bytes([ALICE], ciphertext) == data


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
def test_armored_round_trip_at_chunk_boundary(size):
    data = payload(size)
    armored = age.encrypt_bytes([ALICE.recipient], data, armor=True)
    lines = armored.split(b"\n")
    assert lines[0] == b"-----BEGIN AGE ENCRYPTED FILE-----"
    assert lines[-2:] == [b"-----END AGE ENCRYPTED FILE-----", b""]
    assert all(len(line) == 64 for line in lines[1:-3])
    assert 0 < len(lines[-3]) <= 64
    binary = base64.b64decode(b"".join(lines[1:-2]), validate=True)
    assert len(binary) - header_length(binary) == expected_payload_length(size)
    assert age.decrypt_bytes([ALICE], armored) == data


@pytest.mark.parametrize("step", [1, 7, CHUNK - 1, CHUNK + 1])
def test_decryptor_read_sizes_and_readinto_give_the_same_plaintext(step):
    data = payload(3 * CHUNK + 7)
    ciphertext = age.encrypt_bytes([ALICE.recipient], data)
    with age.Decryptor([ALICE], io.BytesIO(ciphertext)) as reader:
        assert reader.read(0) == b""
        got = bytearray()
        buf = bytearray(step)
        while n := reader.readinto(buf):
            got += buf[:n]
        assert reader.read() == b"" and reader.read(5) == b""
    assert bytes(got) == data
    with age.Decryptor([ALICE], io.BytesIO(ciphertext)) as reader:
        assert reader.read(step) == data[:step]
        assert reader.read() == data[step:]


class Trickle(io.RawIOBase):
    """A pipe-like source that returns at most 3 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        chunk = self._data.read(min(3, len(buf)))
        buf[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("armor", [False, True])
def test_decrypts_from_a_source_that_returns_short_reads(armor):
    data = payload(CHUNK + 100)
    ciphertext = age.encrypt_bytes([ALICE.recipient], data, armor=armor)
    out = io.BytesIO()
    age.decrypt([ALICE], Trickle(ciphertext), out)
    assert out.getvalue() == data


def test_encrypt_and_decrypt_file_helpers_round_trip():
    data = payload(2 * CHUNK + 3)
    encrypted, plain = io.BytesIO(), io.BytesIO()
    age.encrypt([ALICE.recipient, BOB.recipient], io.BytesIO(data), encrypted, armor=True)
    encrypted.seek(0)
    age.decrypt([BOB], encrypted, plain)
    assert plain.getvalue() == data


# --- The encryptor buffers at most one chunk ----------------------------------------------


def test_encryptor_holds_back_a_full_chunk_until_it_knows_whether_it_is_last():
    out = io.BytesIO()
    writer = age.Encryptor([ALICE.recipient], out)
    header = len(out.getvalue())
    writer.write(payload(CHUNK))
    assert len(out.getvalue()) == header  # could still be the final chunk
    writer.write(b"x")
    assert len(out.getvalue()) == header + CHUNK + TAG  # now sealed as non-final
    writer.close()
    assert len(out.getvalue()) == header + CHUNK + TAG + 1 + TAG
    assert age.decrypt_bytes([ALICE], out.getvalue()) == payload(CHUNK) + b"x"


def test_encryptor_leaves_an_undecryptable_file_when_the_with_block_raises():
    out = io.BytesIO()
    with pytest.raises(RuntimeError):
        with age.Encryptor([ALICE.recipient], out) as writer:
            writer.write(payload(3 * CHUNK))
            raise RuntimeError("disk full")
    assert writer.closed
    with pytest.raises(age.PayloadError):
        age.decrypt_bytes([ALICE], out.getvalue())


def test_encryptor_dropped_without_close_never_yields_a_valid_truncated_file():
    out = io.BytesIO()
    writer = age.Encryptor([ALICE.recipient], out)
    writer.write(payload(CHUNK + 5))
    del writer
    gc.collect()
    with pytest.raises(age.PayloadError):
        age.decrypt_bytes([ALICE], out.getvalue())


def test_encryptor_rejects_writes_after_close_and_close_is_idempotent():
    out = io.BytesIO()
    writer = age.Encryptor([ALICE.recipient], out)
    writer.close()
    size = len(out.getvalue())
    writer.close()
    assert len(out.getvalue()) == size
    with pytest.raises(ValueError):
        writer.write(b"late")
    with pytest.raises(TypeError):
        age.Encryptor([ALICE.recipient], io.BytesIO()).write("text")


# --- Truncation and tampering of each part ------------------------------------------------


def tampered(ciphertext: bytes, offset: int, mask: int = 0x01) -> bytes:
    return ciphertext[:offset] + bytes([ciphertext[offset] ^ mask]) + ciphertext[offset + 1 :]


def rebuild_header(header: bytes, mutate) -> bytes:
    """Re-encode the header after ``mutate`` edits its stanzas (MAC left as is)."""
    stanzas = age.read_header(io.BytesIO(header + bytes(16)))
    mac_line = header[header.rindex(b"\n--- ") + 1 :]
    mutate(stanzas)
    return _age_format.header_mac_input(stanzas) + mac_line[3:]


def test_truncation_inside_the_header_is_a_header_error():
    ciphertext = age.encrypt_bytes([ALICE.recipient], b"data")
    for cut in range(header_length(ciphertext)):
        with pytest.raises(age.HeaderError):
            age.decrypt_bytes([ALICE], ciphertext[:cut])


def test_truncation_inside_the_payload_nonce_is_a_header_error():
    ciphertext = age.encrypt_bytes([ALICE.recipient], b"data")
    end = header_length(ciphertext)
    for cut in range(end, end + 16):
        with pytest.raises(age.HeaderError):
            age.decrypt_bytes([ALICE], ciphertext[:cut])


@pytest.mark.parametrize("size", [0, 10, CHUNK, 2 * CHUNK + 10])
def test_every_truncation_of_the_payload_is_a_payload_error(size):
    ciphertext = age.encrypt_bytes([ALICE.recipient], payload(size))
    start = header_length(ciphertext) + 16
    cuts = set(range(start, start + 40)) | set(range(len(ciphertext) - 40, len(ciphertext)))
    cuts |= {start + k * (CHUNK + TAG) + d for k in range(4) for d in (-1, 0, 1)}
    for cut in sorted(c for c in cuts if start <= c < len(ciphertext)):
        with pytest.raises(age.PayloadError):
            age.decrypt_bytes([ALICE], ciphertext[:cut])


def test_dropping_whole_final_chunks_is_detected_even_at_a_chunk_boundary():
    ciphertext = age.encrypt_bytes([ALICE.recipient], payload(3 * CHUNK))
    header, nonce, chunks = split_chunks(ciphertext)
    assert len(chunks) == 3
    for keep in (1, 2):
        with pytest.raises(age.PayloadError):
            age.decrypt_bytes([ALICE], header + nonce + b"".join(chunks[:keep]))


def test_reordered_or_duplicated_chunks_are_payload_errors():
    ciphertext = age.encrypt_bytes([ALICE.recipient], payload(3 * CHUNK + 1))
    header, nonce, (c0, c1, c2, c3) = split_chunks(ciphertext)
    for body in ([c1, c0, c2, c3], [c0, c2, c1, c3], [c0, c0, c1, c2, c3], [c0, c1, c2, c3, c3]):
        with pytest.raises(age.PayloadError):
            age.decrypt_bytes([ALICE], header + nonce + b"".join(body))


def test_trailing_data_after_the_final_chunk_is_a_payload_error():
    ciphertext = age.encrypt_bytes([ALICE.recipient], payload(CHUNK))
    for extra in (b"\x00", b"\n", os.urandom(CHUNK + TAG)):
        with pytest.raises(age.PayloadError):
            age.decrypt_bytes([ALICE], ciphertext + extra)


@pytest.mark.parametrize("scrypt", [False, True], ids=["x25519", "scrypt"])
def test_every_bit_flip_anywhere_in_a_small_file_is_detected(scrypt):
    recipient, identity = (
        (age.ScryptRecipient("pw", work_factor=1), age.ScryptIdentity("pw"))
        if scrypt
        else (ALICE.recipient, ALICE)
    )
    ciphertext = age.encrypt_bytes([recipient], b"ten bytes!")
    for offset in range(len(ciphertext)):
        for bit in range(8):
            with pytest.raises(age.DecryptError):
                age.decrypt_bytes([identity], tampered(ciphertext, offset, 1 << bit))


def test_flipped_version_line_is_a_header_error():
    ciphertext = age.encrypt_bytes([ALICE.recipient], b"data")
    for offset in range(len(b"age-encryption.org/v1\n")):
        with pytest.raises(age.HeaderError):
            age.decrypt_bytes([ALICE], tampered(ciphertext, offset))


def test_altered_stanza_body_means_no_identity_matches():
    ciphertext = age.encrypt_bytes([ALICE.recipient], b"data")
    header, rest = ciphertext[: header_length(ciphertext)], ciphertext[header_length(ciphertext) :]

    def flip_body(stanzas):
        stanzas[0].body = bytes([stanzas[0].body[0] ^ 1]) + stanzas[0].body[1:]

    with pytest.raises(age.NoIdentityMatch):
        age.decrypt_bytes([ALICE], rebuild_header(header, flip_body) + rest)


def test_added_stanza_breaks_the_header_mac():
    ciphertext = age.encrypt_bytes([ALICE.recipient], b"data")
    header, rest = ciphertext[: header_length(ciphertext)], ciphertext[header_length(ciphertext) :]

    def add_grease(stanzas):
        stanzas.append(age.Stanza("grease", ["x"], b"\x00"))

    with pytest.raises(age.HMACError):
        age.decrypt_bytes([ALICE], rebuild_header(header, add_grease) + rest)


def test_altered_mac_is_an_hmac_error():
    ciphertext = age.encrypt_bytes([ALICE.recipient], b"data")
    start = ciphertext.index(b"\n--- ") + 5
    mac = base64.b64decode(ciphertext[start : start + 43] + b"=")
    forged = base64.b64encode(bytes([mac[0] ^ 0x80]) + mac[1:]).rstrip(b"=")
    with pytest.raises(age.HMACError):
        age.decrypt_bytes([ALICE], ciphertext[:start] + forged + ciphertext[start + 43 :])


def test_altered_payload_nonce_is_a_payload_error():
    ciphertext = age.encrypt_bytes([ALICE.recipient], b"data")
    with pytest.raises(age.PayloadError):
        age.decrypt_bytes([ALICE], tampered(ciphertext, header_length(ciphertext) + 3))


@pytest.mark.parametrize("bad_chunk", [0, 1, 2])
@pytest.mark.parametrize("where", ["first byte", "tag"])
def test_tampered_chunk_releases_only_the_authenticated_chunks_before_it(bad_chunk, where):
    data = payload(2 * CHUNK + 99)
    ciphertext = age.encrypt_bytes([ALICE.recipient], data)
    chunk_start = header_length(ciphertext) + 16 + bad_chunk * (CHUNK + TAG)
    chunk_len = CHUNK + TAG if bad_chunk < 2 else 99 + TAG
    offset = chunk_start if where == "first byte" else chunk_start + chunk_len - 1
    got, error = decrypt_until_error(tampered(ciphertext, offset))
    assert isinstance(error, age.PayloadError)
    assert got == data[: bad_chunk * CHUNK]


def test_read_spanning_a_forged_chunk_raises_instead_of_returning_a_short_read():
    data = payload(CHUNK + 50)
    ciphertext = age.encrypt_bytes([ALICE.recipient], data)
    reader = age.Decryptor([ALICE], io.BytesIO(tampered(ciphertext, len(ciphertext) - 1)))
    assert reader.read(CHUNK - 10) == data[: CHUNK - 10]
    with pytest.raises(age.PayloadError):
        reader.read(100)


def test_payload_error_is_raised_again_by_later_reads():
    ciphertext = age.encrypt_bytes([ALICE.recipient], payload(100))
    reader = age.Decryptor([ALICE], io.BytesIO(tampered(ciphertext, len(ciphertext) - 1)))
    for _ in range(2):
        with pytest.raises(age.PayloadError):
            reader.read(1)


def test_armor_broken_after_the_header_is_an_armor_error_from_read():
    armored = age.encrypt_bytes([ALICE.recipient], payload(3 * CHUNK), armor=True)
    cut = armored.index(b"\n", len(armored) * 3 // 4) + 1
    broken = armored[:cut] + b" " + armored[cut:]  # an indented line far past the header
    reader = age.Decryptor([ALICE], io.BytesIO(broken))
    with pytest.raises(age.ArmorError):
        reader.read()


# --- Memory stays bounded ---------------------------------------------------------------------


class GeneratedReader(io.RawIOBase):
    """``size`` bytes of deterministic data, produced on demand."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._block = hashlib.sha256(b"block").digest() * 2048  # 64 KiB
        self._pos = 0
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = min(len(buf), self._left, len(self._block) - self._pos)
        piece = memoryview(self._block)[self._pos : self._pos + n]
        buf[:n] = piece
        self.sha256.update(piece)
        self._pos = (self._pos + n) % len(self._block)
        self._left -= n
        return n


class HashingSink(io.RawIOBase):
    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


@pytest.mark.parametrize(
    "armor, size", [(False, 256 << 20), (True, 32 << 20)], ids=["binary", "armored"]
)
def test_streaming_encrypt_and_decrypt_of_a_large_file_stays_under_4_mib(armor, size):
    source = GeneratedReader(size)
    sink = HashingSink()
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with open(write_fd, "wb") as pipe:
                age.encrypt([ALICE.recipient], source, pipe, armor=armor)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    tracemalloc.start()
    try:
        producer = threading.Thread(target=produce)
        producer.start()
        with open(read_fd, "rb") as pipe:
            age.decrypt([ALICE], pipe, sink)
        producer.join()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not errors
    assert sink.size == size
    assert sink.sha256.digest() == source.sha256.digest()
    assert peak < 4 << 20, f"peak traced memory {peak / 2**20:.1f} MiB"


# --- Properties -------------------------------------------------------------------------------

SCRYPT = age.ScryptRecipient("hypothesis", work_factor=2)
SCRYPT_ID = age.ScryptIdentity("hypothesis")

sizes_near_boundaries = st.sampled_from([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5])
plaintexts = st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda n, b: (b * (n // max(1, len(b)) + 1))[:n] if b else bytes(n),
              sizes_near_boundaries, st.binary(min_size=1, max_size=97)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=plaintexts, armor=st.booleans(), scrypt=st.booleans())
def test_property_decrypt_inverts_encrypt(data, armor, scrypt):
    recipients, identities = ([SCRYPT], [SCRYPT_ID]) if scrypt else ([BOB.recipient], [BOB])
    assert age.decrypt_bytes(identities, age.encrypt_bytes(recipients, data, armor=armor)) == data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=plaintexts, scrypt=st.booleans(), where=st.floats(0, 1, exclude_max=True),
       mask=st.integers(1, 255))
def test_property_any_byte_flip_of_a_binary_file_raises_a_decrypt_error(data, scrypt, where, mask):
    recipients, identities = ([SCRYPT], [SCRYPT_ID]) if scrypt else ([BOB.recipient], [BOB])
    ciphertext = age.encrypt_bytes(recipients, data)
    offset = int(where * len(ciphertext))
    with pytest.raises(age.DecryptError):
        age.decrypt_bytes(identities, tampered(ciphertext, offset, mask))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=plaintexts, where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255))
def test_property_byte_flip_of_armor_fails_unless_it_only_changes_trailing_whitespace(
    data, where, mask
):
    ciphertext = age.encrypt_bytes([BOB.recipient], data, armor=True)
    offset = int(where * len(ciphertext))
    flipped = tampered(ciphertext, offset, mask)
    try:
        result = age.decrypt_bytes([BOB], flipped)
    except age.DecryptError:
        return
    # Only the final newline may turn into other whitespace after the end line.
    assert offset == len(ciphertext) - 1 and flipped[-1:] in (b" ", b"\t", b"\r")
    assert result == data


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=200),
    args=st.lists(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1),
                  max_size=3),
)
def test_property_any_extra_stanza_survives_the_header_round_trip(body, args):
    class Extra:
        def wrap(self, file_key):
            return [age.Stanza("example.org/extra", args, body)]

    ciphertext = age.encrypt_bytes([Extra(), ALICE.recipient], b"data")
    extra = age.read_header(io.BytesIO(ciphertext))[0]
    assert (extra.type, extra.args, extra.body) == ("example.org/extra", args, body)
    assert age.decrypt_bytes([ALICE], ciphertext) == b"data"


@pytest.mark.parametrize("size", [47, 48, 49, 95, 96, 97])
def test_stanza_body_lines_wrap_at_64_columns_and_always_end_short(size):
    class Extra:
        def wrap(self, file_key):
            return [age.Stanza("extra", [], bytes(size))]

    ciphertext = age.encrypt_bytes([Extra(), ALICE.recipient], b"data")
    lines = ciphertext[: header_length(ciphertext)].split(b"\n")
    start = lines.index(b"-> extra") + 1
    body_lines = lines[start : lines.index(next(x for x in lines[start:] if len(x) < 64)) + 1]
    assert all(len(line) == 64 for line in body_lines[:-1]) and len(body_lines[-1]) < 64
    assert base64.b64decode(b"".join(body_lines) + b"==") == bytes(size)
    assert age.read_header(io.BytesIO(ciphertext))[0].body == bytes(size)
    assert age.decrypt_bytes([ALICE], ciphertext) == b"data"


def armor_text(lines: list[bytes], eol: bytes = b"\n", lead: bytes = b"") -> bytes:
    begin, end = _armor.ARMOR_BEGIN + eol, eol + _armor.ARMOR_END + eol
    return lead + begin + eol.join(lines) + end


def dearmor(text: bytes) -> bytes:
    return _armor.ArmorReader(_age_format.Source(io.BytesIO(text))).read()


LAST_LINES = [b"A" * 62 + b"==", b"A" * 63 + b"=", b"A" * 64, b"AA==", b"AAA=", b"AAAA"]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_valid_armor_decodes_the_same_whatever_the_decoder_block_size(monkeypatch, eol):
    # Small blocks put the decoder's internal batch boundaries at every offset.
    cases = [
        (armor_text([b"A" * 64] * count + [last], eol, lead),
         count * 48 + len(last) // 4 * 3 - last.count(b"="))
        for count in range(4)
        for last in LAST_LINES
        for lead in (b"", b" ", b"\n\t")
    ]
    for block in range(1, 150):
        monkeypatch.setattr(_armor, "_ARMOR_BLOCK", block)
        for text, size in cases:
            assert len(dearmor(text)) == size


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_padding_on_any_armor_line_but_the_last_is_an_armor_error(monkeypatch, eol):
    cases = []
    for count in range(2, 6):
        for bad in range(count - 1):
            lines = [b"A" * 64] * (count - 1) + [b"AAAA"]
            lines[bad] = b"A" * 62 + b"=="
            cases.append(armor_text(lines, eol))
    for block in [*range(1, 150), 128 * 1024]:
        monkeypatch.setattr(_armor, "_ARMOR_BLOCK", block)
        for text in cases:
            with pytest.raises(age.ArmorError):
                dearmor(text)


# --- API contract -------------------------------------------------------------------------------


def test_exception_hierarchy():
    for exc in (age.HeaderError, age.HMACError, age.PayloadError, age.NoIdentityMatch,
                age.ArmorError):
        assert issubclass(exc, age.DecryptError)
    assert issubclass(age.DecryptError, age.AgeError)
    assert issubclass(age.AgeError, Exception)


def test_identity_string_round_trips_and_repr_hides_the_secret():
    secret = str(ALICE)
    assert secret.startswith("AGE-SECRET-KEY-1") and secret == secret.upper()
    again = age.X25519Identity.from_string(secret)
    assert str(again) == secret and again.recipient == ALICE.recipient
    assert secret not in repr(ALICE) and str(ALICE.recipient) in repr(ALICE)
    assert str(ALICE.recipient).startswith("age1")
    assert age.X25519Recipient.from_string(str(ALICE.recipient)) == ALICE.recipient


def test_known_x25519_key_pair_from_the_spec_text():
    # The age specification's example: the secret scalar of 32 bytes 0x42 has this public key.
    identity = age.X25519Identity(b"\x42" * 32)
    expected = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
    assert str(identity.recipient) == expected
    assert age.X25519Identity.from_string(str(identity)).recipient == identity.recipient


@pytest.mark.parametrize(
    "text",
    [
        str(ALICE).lower(),  # secret keys are uppercase
        str(ALICE)[:-1] + ("Q" if str(ALICE)[-1] != "Q" else "P"),  # checksum
        str(ALICE)[:20] + str(ALICE)[20:].lower(),  # mixed case
        str(ALICE.recipient),  # a public key is not an identity
        "",
    ],
)
def test_bad_identity_strings_raise_value_error_without_echoing_the_input(text):
    with pytest.raises(ValueError) as info:
        age.X25519Identity.from_string(text)
    assert str(ALICE)[16:] not in str(info.value)
    if text:
        assert text not in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        str(ALICE.recipient).upper(),
        str(ALICE.recipient)[:-1] + ("q" if str(ALICE.recipient)[-1] != "q" else "p"),  # checksum
        "age1",
        str(ALICE),
    ],
)
def test_bad_recipient_strings_raise_value_error(text):
    with pytest.raises(ValueError):
        age.X25519Recipient.from_string(text)


def test_low_order_recipient_key_is_rejected():
    with pytest.raises(ValueError):
        age.X25519Recipient(bytes(32))


@pytest.mark.parametrize(
    "recipients, error",
    [
        ([], ValueError),
        ("age1qqq", TypeError),
        ([str(ALICE.recipient)], TypeError),
        (ALICE.recipient, TypeError),
        ([object()], TypeError),
        ([age.ScryptRecipient("pw", 2), ALICE.recipient], ValueError),
        ([age.ScryptRecipient("pw", 2), age.ScryptRecipient("pw2", 2)], ValueError),
    ],
    ids=["empty", "string", "list-of-strings", "bare-recipient", "object", "scrypt-with-x25519", "two-scrypt"],
)
def test_caller_mistakes_in_recipients_are_type_or_value_errors(recipients, error):
    with pytest.raises(error):
        age.encrypt_bytes(recipients, b"data")


@pytest.mark.parametrize("identities, error", [([], ValueError), (ALICE, TypeError),
                                               ([str(ALICE)], TypeError)])
def test_caller_mistakes_in_identities_are_type_or_value_errors(identities, error):
    ciphertext = age.encrypt_bytes([ALICE.recipient], b"data")
    with pytest.raises(error):
        age.decrypt_bytes(identities, ciphertext)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: age.ScryptRecipient(""), ValueError),
        (lambda: age.ScryptRecipient(b"pw"), TypeError),
        (lambda: age.ScryptRecipient("pw", work_factor=0), ValueError),
        (lambda: age.ScryptRecipient("pw", work_factor=True), TypeError),
        (lambda: age.ScryptIdentity("pw", max_work_factor=31), ValueError),
    ],
)
def test_scrypt_argument_mistakes(make, error):
    with pytest.raises(error):
        make()


def forge(stanzas_for_key, data: bytes) -> bytes:
    """A well-formed age file whose stanzas our Encryptor would refuse to write."""
    file_key = os.urandom(16)
    mac_input = _age_format.header_mac_input(stanzas_for_key(file_key))
    mac = _crypto.hmac_sha256(_crypto.hkdf_sha256(file_key, b"", b"header"), mac_input)
    nonce = os.urandom(16)
    out = io.BytesIO()
    out.write(_age_format.header_bytes(mac_input, mac))
    out.write(nonce)
    stream = _stream.StreamWriter(_stream.payload_key(file_key, nonce), out.write)
    stream.seal(data, last=True)
    return out.getvalue()


def test_scrypt_stanza_beside_a_matching_x25519_stanza_is_rejected_for_any_identity():
    scrypt = age.ScryptRecipient("pw", work_factor=2)
    ciphertext = forge(lambda key: ALICE.recipient.wrap(key) + scrypt.wrap(key), b"data")
    assert age.decrypt_bytes([ALICE], forge(ALICE.recipient.wrap, b"data")) == b"data"
    for identities in ([ALICE], [age.ScryptIdentity("pw")], [ALICE, age.ScryptIdentity("pw")]):
        with pytest.raises(age.HeaderError):
            age.decrypt_bytes(identities, ciphertext)


def test_scrypt_identity_refuses_work_factor_above_its_limit():
    ciphertext = age.encrypt_bytes([age.ScryptRecipient("pw", work_factor=5)], b"data")
    with pytest.raises(age.HeaderError):
        age.decrypt_bytes([age.ScryptIdentity("pw", max_work_factor=4)], ciphertext)
    assert age.decrypt_bytes([age.ScryptIdentity("pw", max_work_factor=5)], ciphertext) == b"data"


def test_several_identities_are_tried_in_turn():
    ciphertext = age.encrypt_bytes([BOB.recipient], b"data")
    stranger = age.X25519Identity.generate()
    assert age.decrypt_bytes([stranger, age.ScryptIdentity("pw"), BOB], ciphertext) == b"data"
    with pytest.raises(age.NoIdentityMatch) as info:
        age.decrypt_bytes([stranger], ciphertext)
    assert str(stranger) not in str(info.value) and str(BOB) not in str(info.value)


class AgentIdentity:
    """An identity that delegates, as one living in an agent process would."""

    def __init__(self, inner: age.X25519Identity) -> None:
        self.inner = inner
        self.calls = 0

    def unwrap(self, stanzas):
        self.calls += 1
        return self.inner.unwrap(stanzas)


def test_custom_identity_objects_are_accepted():
    agent = AgentIdentity(ALICE)
    assert isinstance(agent, age.Identity)
    assert age.decrypt_bytes([agent], age.encrypt_bytes([ALICE.recipient], b"d")) == b"d"
    assert agent.calls == 1


def test_custom_identity_returning_a_bad_key_is_a_value_error():
    class Broken:
        def unwrap(self, stanzas):
            return b"short"

    with pytest.raises(ValueError):
        age.decrypt_bytes([Broken()], age.encrypt_bytes([ALICE.recipient], b"d"))


def test_custom_recipient_stanzas_with_invalid_arguments_are_refused():
    class Spaces:
        def wrap(self, file_key):
            return [age.Stanza("has space", [], file_key)]

    with pytest.raises(ValueError):
        age.encrypt_bytes([Spaces()], b"d")


def test_read_header_lists_stanzas_of_binary_and_armored_files_without_keys():
    for armor in (False, True):
        ciphertext = age.encrypt_bytes([ALICE.recipient, BOB.recipient], b"d", armor=armor)
        stanzas = age.read_header(io.BytesIO(ciphertext))
        assert [(s.type, len(s.args), len(s.body)) for s in stanzas] == [("X25519", 1, 32)] * 2
    with pytest.raises(age.HeaderError):
        age.read_header(io.BytesIO(b"age-encryption.org/v1\n-> X25519\n"))
    with pytest.raises(age.HeaderError):
        age.read_header(io.BytesIO(b"PK\x03\x04 not an age file"))
    with pytest.raises(age.ArmorError):
        age.read_header(io.BytesIO(b"-----BEGIN PGP MESSAGE-----\n"))
