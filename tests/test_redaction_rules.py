"""Redaction rules are recorded for members only, encrypted like the rest of the case."""

import json

import pytest

pytestmark = pytest.mark.s3_in_stress("who may list and change redaction rules")


def test_terms_and_regions_are_listed_to_members(case_world):
    case_world.ok("redact", "term", "MX-0001", "Ana Demo Example", "--category", "always", user="bob")
    case_world.ok("redact", "region", case_world.decl, "--page", "1", "--box", "72,600,300,640", user="bob")
    rules = json.loads(case_world.ok("redact", "list", "MX-0001", "--json", user="bob"))
    assert [(r["kind"], r["category"]) for r in rules] == [("term", "always"), ("region", "always")]
    assert rules[0]["text"] == "Ana Demo Example" and rules[1]["box"] == [72.0, 600.0, 300.0, 640.0]
    assert b"Ana Demo Example" not in case_world.vault_bytes()


def test_outsiders_and_auditors_cannot_list_rules(case_world):
    assert case_world.run("redact", "list", "MX-0001", user="carol").returncode == 1  # no such case among theirs
    assert case_world.run("redact", "list", "MX-0001", user="dave").returncode == 4


def test_bad_box_and_category_are_refused(case_world):
    p = case_world.run("redact", "region", case_world.decl, "--page", "1", "--box", "1,2,3", user="bob")
    assert p.returncode == 1 and b"four numbers" in p.stderr
    p = case_world.run("redact", "term", "MX-0001", "x y", "--category", "Not Valid", user="bob")
    assert p.returncode == 1 and b"category" in p.stderr


def test_rules_can_be_removed(case_world):
    case_world.ok("redact", "term", "MX-0001", "Ciudad Ficticia", "--category", "location", user="bob")
    [rule] = json.loads(case_world.ok("redact", "list", "MX-0001", "--json", user="bob"))
    case_world.ok("redact", "remove", "MX-0001", rule["id"], user="bob")
    assert json.loads(case_world.ok("redact", "list", "MX-0001", "--json", user="bob")) == []
