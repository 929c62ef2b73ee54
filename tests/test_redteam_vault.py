"""Red team: an insider with write access to the storage, a second local user, killed processes.

Each test is an attack the way the attacker works: raw writes to the vault's objects
(``World.replace_object``, on the folder and on S3 through moto), objects signed by hand with
the attacker's own enrolled key, a second REFUGE_HOME. What tests/test_insider.py,
test_tamper.py and test_crash.py already prove is not repeated here. Each attack must end in
a refusal (exit 3 or 4, one line naming the problem, nothing written) or a detection.
"""

from __future__ import annotations

import json

import pytest

from vault import age


def _case_id(w) -> str:
    return w.decl.partition("-")[0]


def _opens_anything(w, case_id: str, identities) -> list[str]:
    """The blobs and events of the case that decrypt with ``identities``."""
    opened = []
    for key in w.object_names():
        if key.startswith((f"cases/{case_id}/blobs/", f"cases/{case_id}/events/")):
            try:
                age.decrypt_bytes(list(identities), w.read_object(key))
                opened.append(key)
            except age.AgeError:
                continue
    return opened


# --- a planted wrap of the case key ----------------------------------------------------------------


def test_a_wrap_replaced_by_a_revoked_member_is_never_encrypted_to(case_world):
    """bob, revoked from the case but still enrolled, replaces carol's copy of the new key version
    with a key of his own, wrapped to carol's public recipient (anyone can encrypt to it). carol
    must not encrypt her next document or event to it."""
    w = case_world
    cid = _case_id(w)
    w.ok("case", "grant", "MX-0001", "carol", user="erin")
    w.ok("case", "revoke", "MX-0001", "bob", user="erin")
    carol = w.open("carol")
    rogue = age.X25519Identity.generate()
    w.replace_object(f"cases/{cid}/keys/0002/{carol.me.user_id}",
                     age.encrypt_bytes([carol.me.age_identity.recipient], f"{rogue}\n".encode()))
    before = [k for k in w.object_names() if k.startswith("cases/")]
    p = w.run("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user="carol")
    assert [k for k in w.object_names() if k.startswith("cases/")] == before  # nothing written, not even a blob
    assert p.returncode == 3 and len(p.stderr.splitlines()) == 1, p.stderr
    assert b"key version 2" in p.stderr and b"replaced" in p.stderr
    assert not _opens_anything(w, cid, [rogue])
    problems = json.loads(w.run("fsck", "--json", user="carol").stdout)["problems"]
    assert [(pr["object"], pr["kind"]) for pr in problems] == [(f"cases/{cid}/keys/", "altered")]
