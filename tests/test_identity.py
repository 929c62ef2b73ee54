"""Identities: passphrase rules, the scrypt work factor, the unlock agent."""

import stat

import pytest

from vault import age, agent
from vault.errors import InvalidInput
from vault.identity import Home, SecretIdentity, WORK_FACTOR, work_factor


def test_real_identities_use_work_factor_18(monkeypatch, tmp_path):
    monkeypatch.delenv("REFUGE_TEST_WORK_FACTOR")
    assert work_factor() == WORK_FACTOR == 18
    home = Home(tmp_path)
    home.create(SecretIdentity.generate("alice"), "a long enough passphrase")
    [stanza] = age.read_header(open(tmp_path / "identities" / "alice.age", "rb"))
    assert stanza.type == "scrypt" and stanza.args[1] == "18"


def test_identity_file_is_private_and_opens_only_with_its_passphrase(tmp_path):
    home = Home(tmp_path)
    secret = SecretIdentity.generate("alice")
    home.create(secret, "a long enough passphrase")
    path = tmp_path / "identities" / "alice.age"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert home.unlock("alice", "a long enough passphrase").user_id == secret.user_id
    with pytest.raises(InvalidInput, match="wrong passphrase"):
        home.unlock("alice", "not the passphrase")


def test_short_passphrase_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="at least 12"):
        Home(tmp_path).create(SecretIdentity.generate("alice"), "elevenchars")
    assert not (tmp_path / "identities" / "alice.age").exists()


def test_identity_plaintext_is_an_age_identity_file(tmp_path):
    secret = SecretIdentity.generate("alice")
    text = secret.to_text()
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert lines == [str(secret.age_identity)]
    assert SecretIdentity.from_text(text).user_id == secret.user_id


def test_agent_serves_the_identity_until_locked(tmp_path):
    home = Home(tmp_path / "h")
    secret = SecretIdentity.generate("alice")
    home.create(secret, "a long enough passphrase")
    path = agent.start(home, secret, minutes=1)
    try:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert agent.fetch(home, "alice").user_id == secret.user_id
    finally:
        assert agent.stop(home, "alice")
    assert agent.fetch(home, "alice") is None


@pytest.mark.s3_in_stress("a rule of the agent; the vault is only read")
def test_unlock_then_commands_need_no_passphrase(case_world):
    env_no_pass = {"REFUGE_PASSPHRASE": ""}
    assert case_world.run("case", "list", user="bob", **env_no_pass).returncode == 1
    assert case_world.run("unlock", "--timeout", "1", user="bob").returncode == 0
    try:
        p = case_world.run("doc", "list", "MX-0001", user="bob", **env_no_pass)
        assert p.returncode == 0, p.stderr
    finally:
        assert case_world.run("lock", user="bob").returncode == 0
    assert case_world.run("case", "list", user="bob", **env_no_pass).returncode == 1
