"""SMART scopes, v1 and v2, reduced to what the read-only API may grant."""

from __future__ import annotations

from portal.smart.scopes import READ, SEARCH, parse


def test_v1_read_grants_read_and_search() -> None:
    scopes = parse("launch/patient openid fhirUser patient/Observation.read")
    assert scopes.allows("Observation", READ) and scopes.allows("Observation", SEARCH)
    assert not scopes.allows("Condition", READ)
    assert scopes.patient_launch and scopes.context == {"launch/patient", "openid", "fhirUser"}


def test_v2_letters_grant_exactly_what_they_say() -> None:
    scopes = parse("patient/Observation.rs patient/Condition.r patient/*.s")
    assert scopes.allows("Observation", READ) and scopes.allows("Condition", READ)
    assert scopes.allows("Patient", SEARCH) and not scopes.allows("Patient", READ)


def test_writes_and_bad_scopes_grant_nothing() -> None:
    scopes = parse(
        "patient/Observation.write patient/Observation.cud patient/Observation.sr system/*.rs x y/z"
    )
    assert scopes.resources == []
    assert scopes.unknown == ["patient/Observation.sr", "system/*.rs", "x", "y/z"]


def test_user_scopes_read_as_patient_scopes_and_wildcards_cover_all() -> None:
    scopes = parse("user/*.read")
    assert scopes.allows("Immunization", READ) and scopes.text() == "patient/*.rs"


def test_granular_scopes_restrict_by_their_query() -> None:
    lab = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    scopes = parse(f"patient/Observation.rs?category={lab}")
    assert scopes.restrictions("Observation", SEARCH) == [(("category", lab),)]
    assert parse("patient/Observation.rs").restrictions("Observation", SEARCH) is None


def test_parse_never_raises_on_junk() -> None:
    assert parse("\x00 " * 5 + "patient/Obs.rs?" + "a" * 600).resources == []
    assert parse("").text() == ""
