"""The planner: consent decides, sections order, translations follow their originals."""

import pytest

from packets.plan import consent_status, make_plan
from packets.profiles import get_profile
from vault.core import Document

TODAY = "2026-11-23"


def doc(i, type, lang=None, translation_of=None):
    return Document(id=f"case-d{i}", case_id="case", version=1, blob="b", key_version=1, type=type, title=f"T{i}",
                    filename="f.pdf", size=1, sha256="0" * 64, mime="application/pdf", added_by="u",
                    added_at=f"2026-11-{i:02d}T00:00:00Z", lang=lang, translation_of=translation_of)


def grant(recipient, docs=(), expires=None, seq=1):
    return {"action": "granted", "recipient": recipient, "docs": list(docs), "expires": expires, "seq": seq}


def withdraw(recipient, docs=(), seq=2):
    return {"action": "withdrawn", "recipient": recipient, "docs": list(docs), "expires": None, "seq": seq}


def test_consent_is_missing_until_granted_and_the_last_word_wins():
    assert consent_status([], "irb-rpd-disclosure", "d1", TODAY)[0] == "missing"
    assert consent_status([grant("irb-rpd-disclosure")], "irb-rpd-disclosure", "d1", TODAY)[0] == "granted"
    assert consent_status([grant("unhcr-resettlement")], "irb-rpd-disclosure", "d1", TODAY)[0] == "missing"
    assert consent_status([grant("irb-rpd-disclosure"), withdraw("irb-rpd-disclosure", ["d1"])],
                          "irb-rpd-disclosure", "d1", TODAY)[0] == "withdrawn"
    assert consent_status([grant("irb-rpd-disclosure"), withdraw("irb-rpd-disclosure", ["d1"])],
                          "irb-rpd-disclosure", "d2", TODAY)[0] == "granted"
    assert consent_status([grant("irb-rpd-disclosure", expires="2026-11-22")], "irb-rpd-disclosure", "d1", TODAY)[0] == "expired"
    assert consent_status([grant("irb-rpd-disclosure", ["d2"])], "irb-rpd-disclosure", "d1", TODAY)[0] == "missing"


def test_documents_without_consent_are_listed_and_not_included():
    profile = get_profile("irb-rpd-disclosure")
    docs = [doc(1, "legal-declaration"), doc(2, "medical")]
    plan = make_plan(docs, [grant(profile.id, ["case-d1"])], profile, TODAY)
    assert [e.doc.id for e in plan.included] == ["case-d1"]
    assert [(e.doc.id, e.consent) for e in plan.without_consent] == [("case-d2", "missing")]


def test_override_includes_everything_admitted_and_says_so():
    profile = get_profile("irb-rpd-disclosure")
    plan = make_plan([doc(1, "legal-declaration")], [], profile, TODAY, override_consent=True)
    assert plan.included and plan.included[0].reason.startswith("included by consent override")


def test_excluded_types_never_go_in_even_with_consent():
    profile = get_profile("ccvt-intake")
    assert profile.excludes("legal-declaration")
    plan = make_plan([doc(1, "legal-declaration"), doc(2, "medical")], [grant(profile.id)], profile, TODAY)
    assert [e.doc.type for e in plan.included] == ["medical"]
    assert "never sent" in plan.entries[[e.doc.id for e in plan.entries].index("case-d1")].reason


def test_translation_follows_its_original_and_sections_keep_profile_order():
    profile = get_profile("irb-rpd-disclosure")
    d1 = doc(1, "medical")
    d2 = doc(2, "legal-declaration", lang="es")
    d3 = doc(3, "translation", lang="en", translation_of="case-d2")
    d4 = doc(4, "identity")
    plan = make_plan([d1, d2, d3, d4], [grant(profile.id)], profile, TODAY)
    order = [e.doc.id for e in plan.included]
    assert order.index("case-d3") == order.index("case-d2") + 1
    section_rank = {s.id: i for i, s in enumerate(profile.sections)}
    originals = [e for e in plan.included if not e.doc.translation_of]
    ranks = [section_rank[e.section] for e in originals]
    assert ranks == sorted(ranks)
    assert plan.missing_translations == []


def test_missing_translation_is_reported():
    profile = get_profile("irb-rpd-disclosure")
    plan = make_plan([doc(1, "legal-declaration", lang="es")], [grant(profile.id)], profile, TODAY)
    assert plan.missing_translations == ["case-d1"]


@pytest.mark.parametrize("profile_id", ["irb-rpd-disclosure", "ircc-resettlement", "unhcr-resettlement",
                                        "ccvt-intake", "frontline-defenders"])
def test_missing_required_types_are_reported(profile_id):
    profile = get_profile(profile_id)
    plan = make_plan([], [], profile, TODAY)
    assert plan.missing_types == list(profile.required_types)


def test_translations_into_a_language_the_recipient_does_not_read_are_left_out():
    profile = get_profile("irb-rpd-disclosure")
    d1 = doc(1, "legal-declaration", lang="en")
    d2 = doc(2, "translation", lang="es", translation_of="case-d1")
    plan = make_plan([d1, d2], [grant(profile.id)], profile, TODAY)
    assert [e.doc.id for e in plan.included] == ["case-d1"] and plan.missing_declarations == []
    assert "does not accept" in plan.entries[1].reason
