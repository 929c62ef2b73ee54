"""C2SP signed notes and tlog checkpoints."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault._crypto import ed25519_generate, ed25519_public
from vault._note import (
    MAX_SIGNATURES,
    Checkpoint,
    NoteError,
    format_checkpoint,
    key_id,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    sign_note,
    verifier_key,
)

# --- published vectors of golang.org/x/mod/sumdb/note (note_test.go, example_test.go)

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
ENOCH_SEED = bytes(32)  # Go's example derives EnochRoot's key from an all-zero reader
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
    "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTG"
    "wnWLox33WWd1RvMc+QQ=\n"
)
# Other published verifier keys: signed-note's example, and one whose base64 has a '+'.
OTHER_VKEYS = [
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6",
]


def peter_seed() -> bytes:
    raw = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert raw[0] == 0x01 and len(raw) == 33
    return raw[1:]


def keypair() -> tuple[bytes, bytes]:
    seed = ed25519_generate()
    return seed, ed25519_public(seed)


def resign(note: str, fn) -> str:
    """Apply ``fn`` to the decoded key-ID-and-signature blob of the first signature line."""
    text, _, rest = note.rpartition("\n\n")
    first, _, others = rest.partition("\n")
    prefix, _, b64 = first.rpartition(" ")
    blob = fn(bytearray(base64.b64decode(b64)))
    return f"{text}\n\n{prefix} {base64.b64encode(bytes(blob)).decode()}\n{others}"


# --- key IDs and verifier keys ----------------------------------------------------


def test_key_id_is_sha256_of_name_newline_type_byte_and_key_truncated_to_four_bytes():
    seed, pub = keypair()
    name = "refuge.example/log"
    expected = hashlib.sha256(name.encode() + b"\x0a" + b"\x01" + pub).digest()[:4]
    assert key_id(name, pub) == expected
    typed_key = base64.b64encode(b"\x01" + pub).decode()
    assert verifier_key(name, pub) == f"{name}+{expected.hex()}+{typed_key}"


@pytest.mark.parametrize("vkey", [PETER_VKEY, ENOCH_VKEY, *OTHER_VKEYS])
def test_published_verifier_keys_parse_and_their_key_ids_recompute(vkey):
    name, pub = parse_verifier_key(vkey)
    assert key_id(name, pub).hex() == vkey.split("+")[1]
    assert verifier_key(name, pub) == vkey


def test_go_signer_keys_derive_the_published_verifier_keys():
    assert verifier_key("PeterNeumann", ed25519_public(peter_seed())) == PETER_VKEY
    assert verifier_key("EnochRoot", ed25519_public(ENOCH_SEED)) == ENOCH_VKEY


def test_parse_verifier_key_rejects_malformed_keys():
    name, hex_id, b64 = PETER_VKEY.split("+")
    pub = base64.b64decode(b64)[1:]
    ecdsa_typed = base64.b64encode(b"\x02" + pub).decode()
    short_key = base64.b64encode(b"\x01" + pub[:31]).decode()
    bad = [
        f"{name}+{hex_id}",  # missing key
        f"{name}+00000000+{b64}",  # key ID does not match
        f"{name}+{hex_id[:7]}+{b64}",  # 7 hex digits
        f"{name}+{hex_id}z+{b64}",  # not hex
        f"Peter Neumann+{hex_id}+{b64}",  # space in name
        f"+{hex_id}+{b64}",  # empty name
        f"{name}+{hex_id}+{b64[:-1]}",  # missing padding
        f"{name}+{hex_id}+{b64} ",  # trailing space
        f"{name}+{hex_id}+{ecdsa_typed}",  # not Ed25519
        f"{name}+{hex_id}+{short_key}",  # short key
    ]
    for s in bad:
        with pytest.raises(NoteError):
            parse_verifier_key(s)


# --- signing and opening -------------------------------------------------------------


def test_sign_note_reproduces_the_published_go_notes_byte_for_byte():
    assert sign_note(GO_TEXT, "PeterNeumann", peter_seed()) == GO_TEXT + "\n" + PETER_SIG
    assert sign_note(GO_TEXT, "EnochRoot", ENOCH_SEED) == GO_TEXT + "\n" + ENOCH_SIG


def test_open_note_accepts_the_published_go_notes():
    peter = parse_verifier_key(PETER_VKEY)
    enoch = parse_verifier_key(ENOCH_VKEY)
    both = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(GO_TEXT + "\n" + PETER_SIG, [peter]) == (GO_TEXT, ["PeterNeumann"])
    assert open_note(both, [peter, enoch]) == (GO_TEXT, ["PeterNeumann", "EnochRoot"])
    assert open_note(both, [ENOCH_VKEY]) == (GO_TEXT, ["EnochRoot"])
    assert open_note(both.encode(), dict([peter])) == (GO_TEXT, ["PeterNeumann"])


def test_sign_then_open_round_trips_with_each_verifier_form():
    seed, pub = keypair()
    note = sign_note("hello\n\nworld\n", "refuge.example/log", seed)
    assert note.endswith("\n")
    assert note.startswith("hello\n\nworld\n\n\u2014 refuge.example/log ")
    for verifiers in (
        {"refuge.example/log": pub},
        [("refuge.example/log", pub)],
        [verifier_key("refuge.example/log", pub)],
    ):
        assert open_note(note, verifiers) == ("hello\n\nworld\n", ["refuge.example/log"])


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0x20) | st.just("\n"),
        max_size=200,
    ).map(lambda t: t + "\n"),
    position=st.integers(min_value=0),
)
def test_any_text_round_trips_and_a_changed_character_breaks_it(text, position):
    seed, pub = keypair()
    note = sign_note(text, "k", seed)
    assert open_note(note, {"k": pub}) == (text, ["k"])
    i = position % len(text)
    changed = text[:i] + ("y" if text[i] != "y" else "z") + text[i + 1 :]
    if not changed.endswith("\n"):
        changed += "\n"
    with pytest.raises(NoteError):
        open_note(changed + note[len(text) :], {"k": pub})


def test_a_flipped_byte_in_the_text_fails():
    seed, pub = keypair()
    note = sign_note("origin\n42\n", "k", seed)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(note.replace("42", "43", 1), {"k": pub})


@pytest.mark.parametrize("byte", [4, 5, 35, 67])
def test_a_flipped_byte_in_the_signature_fails(byte):
    seed, pub = keypair()
    note = sign_note("origin\n42\n", "k", seed)

    def flip(blob):
        blob[byte] ^= 0x01
        return blob

    with pytest.raises(NoteError, match="does not verify"):
        open_note(resign(note, flip), {"k": pub})


def test_a_flipped_key_id_makes_the_signature_unknown_and_the_note_unverified():
    seed, pub = keypair()
    note = sign_note("origin\n42\n", "k", seed)

    def flip(blob):
        blob[0] ^= 0x80
        return blob

    with pytest.raises(NoteError, match="no valid signature from a known key"):
        open_note(resign(note, flip), {"k": pub})


def test_a_wrong_key_fails():
    seed, _ = keypair()
    _, other = keypair()
    note = sign_note("origin\n42\n", "k", seed)
    with pytest.raises(NoteError, match="no valid signature from a known key"):
        open_note(note, {"k": other})  # same name, other key: a different key ID
    with pytest.raises(NoteError, match="no valid signature from a known key"):
        open_note(note, {"j": ed25519_public(seed)})  # same key, other name


def test_unknown_extra_signers_are_ignored():
    seed, pub = keypair()
    stranger, _ = keypair()
    note = sign_note("origin\n42\n", "k", seed)
    stranger_line = sign_note("origin\n42\n", "stranger", stranger).rpartition("\n\n")[2]
    junk_line = "\u2014 k " + base64.b64encode(b"\xde\xad\xbe\xef" + bytes(64)).decode() + "\n"
    text, _, own_line = note.rpartition("\n\n")
    for extra in (stranger_line, junk_line, stranger_line + junk_line):
        assert open_note(note + extra, {"k": pub}) == ("origin\n42\n", ["k"])
        unknown_first = f"{text}\n\n{extra}{own_line}"
        assert open_note(unknown_first, {"k": pub}) == ("origin\n42\n", ["k"])


def test_a_bad_signature_from_a_known_key_rejects_the_whole_note():
    seed, pub = keypair()
    seed2, pub2 = keypair()
    note = sign_note("origin\n42\n", "k", seed)
    bad = resign(sign_note("origin\n42\n", "j", seed2), lambda b: b[:4] + bytes(64))
    bad_line = bad.rpartition("\n\n")[2]
    with pytest.raises(NoteError, match="'j' does not verify"):
        open_note(note + bad_line, {"k": pub, "j": pub2})


@pytest.mark.parametrize(
    "note,reason",
    [
        ("origin\n42\n\u2014 k QUJDREVG\n", "no blank line"),
        ("origin\n42\n\n", "no signature lines"),
        ("origin\n42\n\n\u2014 k QUJDREVG", "does not end in a newline"),
        ("origin\n42\n\n- k QUJDREVG\n", "em dash"),
        ("origin\n42\n\n\u2014k QUJDREVG\n", "em dash"),
        ("origin\n42\n\n\u2014 k\n", "no signature"),
        ("origin\n42\n\n\u2014 k \n", "no signature"),
        ("origin\n42\n\n\u2014 k+1 QUJDREVG\n", "space or '\\+'"),
        ("origin\n42\n\n\u2014 k QUJD REVG\n", "not valid base64"),
        ("origin\n42\n\n\u2014 k QUJDREVG!\n", "not valid base64"),
        ("origin\n42\n\n\u2014 k QUJDREU\n", "not valid base64"),
        ("origin\n42\n\n\u2014 k QUJDREF=\n", "not canonical base64"),
        ("origin\n42\n\n\u2014 k QUJDRA==\n", "shorter than a key ID"),
        ("origin\n42\n\n\u2014 k QUJDREVG\n\n", "no signature lines"),
        ("origin\r\n42\n\n\u2014 k QUJDREVG\n", "control character"),
        ("origin\t\n42\n\n\u2014 k QUJDREVG\n", "control character"),
    ],
)
def test_malformed_notes_are_refused(note, reason):
    seed, pub = keypair()
    with pytest.raises(NoteError, match=reason):
        open_note(note, {"k": pub})


def test_a_note_that_is_not_utf8_is_refused():
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(b"origin\xff\n\n\xe2\x80\x94 k QUJDREVG\n", {})


def test_more_than_the_signature_limit_is_refused_but_sixteen_are_accepted():
    seed, pub = keypair()
    note = sign_note("origin\n42\n", "k", seed)
    junk = "\u2014 other " + base64.b64encode(bytes(68)).decode() + "\n"
    assert open_note(note + junk * 15, {"k": pub})[1] == ["k"]
    with pytest.raises(NoteError, match="more than"):
        open_note(note + junk * MAX_SIGNATURES, {"k": pub})


@pytest.mark.parametrize(
    "text,name,seed",
    [
        ("no newline", "k", bytes(32)),
        ("", "k", bytes(32)),
        ("tab\there\n", "k", bytes(32)),
        ("ok\n", "with space", bytes(32)),
        ("ok\n", "with+plus", bytes(32)),
        ("ok\n", "", bytes(32)),
        ("ok\n", "k", bytes(31)),
    ],
)
def test_sign_note_refuses_bad_text_names_and_seeds(text, name, seed):
    with pytest.raises(NoteError):
        sign_note(text, name, seed)


# --- checkpoints ------------------------------------------------------------------------

ROOT = hashlib.sha256(b"a root").digest()


def test_checkpoint_format_is_origin_size_and_base64_root_then_extensions():
    text = format_checkpoint("refuge.example/log", 7, ROOT, ["ext one"])
    assert text == f"refuge.example/log\n7\n{base64.b64encode(ROOT).decode()}\next one\n"


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(min_codepoint=0x20, blacklist_categories=("Cs",)), min_size=1),
        max_size=3,
    ),
)
def test_checkpoints_round_trip(size, root, extensions):
    text = format_checkpoint("refuge.example/log", size, root, extensions)
    assert parse_checkpoint(text) == Checkpoint("refuge.example/log", size, root, tuple(extensions))


def test_the_spec_example_checkpoint_parses():
    cp = parse_checkpoint(
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()


def test_a_signed_checkpoint_opens_and_parses():
    seed, pub = keypair()
    note = sign_note(format_checkpoint("refuge.example/log", 3, ROOT), "refuge.example/log", seed)
    text, signers = open_note(note, [("refuge.example/log", pub)])
    assert signers == ["refuge.example/log"]
    assert parse_checkpoint(text) == Checkpoint("refuge.example/log", 3, ROOT, ())


B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "text,reason",
    [
        (f"o\n01\n{B64}\n", "leading zeros"),
        (f"o\n00\n{B64}\n", "leading zeros"),
        (f"o\n+1\n{B64}\n", "leading zeros"),
        (f"o\n-1\n{B64}\n", "leading zeros"),
        (f"o\n 1\n{B64}\n", "leading zeros"),
        (f"o\n1_000\n{B64}\n", "leading zeros"),
        (f"o\n\u0661\n{B64}\n", "leading zeros"),  # Arabic-Indic digit one
        (f"o\n{2**64}\n{B64}\n", "64 bits"),
        (f"o\n{'9' * 5000}\n{B64}\n", "leading zeros"),
        ("o\n1\n", "needs origin, size and root"),
        ("o\n", "needs origin, size and root"),
        (f"\n1\n{B64}\n", "empty line"),
        (f"o\n1\n{B64}\n\n", "empty line"),
        (f"o\n1\n{B64}\next\n\nmore\n", "empty line"),
        (f"o\n1\n{B64}", "end in a newline"),
        ("o\n1\nnot base64!\n", "not valid base64"),
        (f"o\n1\n{B64.rstrip('=')}\n", "not valid base64"),
        ("o\n1\n" + base64.b64encode(ROOT[:31]).decode() + "\n", "not 32 bytes"),
        (f"o\r\n1\n{B64}\n", "control character"),
    ],
)
def test_parse_checkpoint_rejects_malformed_text(text, reason):
    with pytest.raises(NoteError, match=reason):
        parse_checkpoint(text)


def test_parse_checkpoint_rejects_non_canonical_base64_root():
    raw = base64.b64decode(B64)
    assert len(raw) == 32  # 32 bytes -> 44 chars with one '=' and 2 unused bits
    last = B64[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    dirty = B64[:-2] + alphabet[alphabet.index(last) ^ 0x01] + "="
    assert base64.b64decode(dirty) == raw
    with pytest.raises(NoteError, match="not canonical"):
        parse_checkpoint(f"o\n1\n{dirty}\n")


def test_parse_checkpoint_accepts_any_non_empty_origin():
    # Clients MUST NOT assume the origin is a URL without spaces.
    assert parse_checkpoint(f"my log\n0\n{B64}\n").origin == "my log"


@pytest.mark.parametrize(
    "origin,size,root,extensions",
    [
        ("", 1, ROOT, ()),
        ("has space", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        ("o", -1, ROOT, ()),
        ("o", 2**64, ROOT, ()),
        ("o", True, ROOT, ()),
        ("o", 1, ROOT[:31], ()),
        ("o", 1, ROOT, ("",)),
        ("o", 1, ROOT, ("two\nlines",)),
    ],
)
def test_format_checkpoint_refuses_what_it_could_not_parse_back(origin, size, root, extensions):
    with pytest.raises(NoteError):
        format_checkpoint(origin, size, root, extensions)
