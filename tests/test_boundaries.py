"""The boundary generator: every case it makes is on the side of the bound it claims, for every operation."""

from __future__ import annotations

import pytest

from contract_tests import latitude
from contract_tests.boundaries import body_boundaries, query_boundaries
from contract_tests.specs import API_BASES, lenient_parameters, load_contract

OPERATIONS = [(api, op["operationId"]) for api in API_BASES for item in load_contract(api)["paths"].values()
              for op in item.values() if isinstance(op, dict) and "operationId" in op]


def test_vai_list_cases_are_the_documented_bounds() -> None:
    """limit 1..100 and offset >= 0: both sides of each bound, and a non-number."""
    base, cases = query_boundaries("virtuousai", "list_memories", set())
    assert base == {}
    assert [(c.name, c.query, c.accept) for c in cases] == [
        ("limit", {"limit": 1}, True), ("limit", {"limit": 0}, False), ("limit", {"limit": 100}, True),
        ("limit", {"limit": 101}, False), ("limit", {"limit": "abc"}, False),
        ("offset", {"offset": 0}, True), ("offset", {"offset": -1}, False), ("offset", {"offset": "abc"}, False)]


def test_lenient_parameters_get_no_cases() -> None:
    """page and page_size have documented fallbacks, so no case claims a rejection for them."""
    _, cases = query_boundaries("ibl", "ai_mentor_orgs_users_edx_memory_list", lenient_parameters(load_contract("ibl")))
    assert {c.name for c in cases} == {"student"}


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS, ids=[f"{a}:{o}" for a, o in OPERATIONS])
def test_body_cases_are_on_their_side_of_the_bound(api: str, operation_id: str) -> None:
    """Accepted cases are valid bodies; rejected ones are invalid even after the latitude's relaxations."""
    base, cases = body_boundaries(api, operation_id)
    schema = latitude.request_schema(api, operation_id)
    if schema is None:
        assert cases == []
        return
    assert latitude.body_valid(schema, base), base
    for case in cases:
        if case.accept:
            assert latitude.body_valid(schema, case.body), case
        else:
            assert not latitude.body_valid_within_latitude(api, operation_id, case.body), case


def test_a_required_field_is_probed_missing_and_past_its_length() -> None:
    """artifacts create: title missing, past 255, exactly 255, null, of another type."""
    _, cases = body_boundaries("ibl", "ai_mentor_orgs_users_artifacts_create")
    title = {c.description: c for c in cases if c.name == "title"}
    assert set(title) == {"exactly maxLength 255", "one past maxLength 255", "not of type string",
                          "null where it is not nullable", "missing, though required"}
    assert "title" not in title["missing, though required"].body
    assert len(title["one past maxLength 255"].body["title"]) == 256
