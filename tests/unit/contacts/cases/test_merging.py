"""Merging two case owners (services/contacts/cases/merging.py): which state a collapsed point keeps, one default
per type, and the contact-policy facts of both files."""

from __future__ import annotations

from typing import Any

from services.contacts.cases import merging


def point(owner: str, cp_id: str, point_type: str, value: str, **state: Any) -> dict[str, Any]:
    return {
        "PK": f"OWNER#{owner}",
        "SK": f"CP#{point_type}#{cp_id}",
        "contact_point_id": cp_id,
        "type": point_type,
        "value": value,
        "valid": state.pop("valid", True),
        "qualification": state.pop("qualification", "pending"),
        "is_default": state.pop("is_default", False),
        "created_at": state.pop("created_at", "2026-01-01T00:00:00+00:00"),
        **state,
    }


def default(owner: str, point_type: str, cp_id: str | None) -> dict[str, Any]:
    return {"PK": f"OWNER#{owner}", "SK": f"DEFAULT#{point_type}", "contact_point_id": cp_id, "revision": 1}


def test_the_same_point_on_both_sides_collapses_into_the_survivors_with_the_established_state() -> None:
    mine = point("s", "s-mail", "email", "anna@example.com")
    theirs = point("m", "m-mail", "email", " Anna@Example.COM", qualification="validated", observation="work")
    (move,) = merging.plan([mine], [theirs]).points
    assert move.kept is mine and move.target_id == "s-mail"
    assert move.fields == {"valid": True, "qualification": "validated", "observation": "work"}


def test_of_two_established_states_the_later_wins_and_pending_never_overrides() -> None:
    validated = point("s", "s-ph", "phone", "+49 30 1234567", qualification="validated",
                      updated_at="2026-03-01T00:00:00+00:00")  # fmt: skip
    invalid_later = point("m", "m-ph", "phone", "+4930 1234567", valid=False, updated_at="2026-05-01T00:00:00+00:00")
    invalid_earlier = {**invalid_later, "updated_at": "2026-02-01T00:00:00+00:00"}
    pending = point("m", "m-ph", "phone", "+49301234567")
    assert merging.merged_state_wins(validated, invalid_later)
    assert not merging.merged_state_wins(validated, invalid_earlier)
    assert not merging.merged_state_wins(validated, pending)
    assert merging.merged_state_wins(point("s", "x", "phone", "1"), invalid_earlier)  # knowledge beats pending


def test_one_default_per_type_stays_the_survivors_own_first() -> None:
    survivor = [point("s", "s-mail", "email", "a@example.com", qualification="validated", is_default=True),
                default("s", "email", "s-mail")]  # fmt: skip
    merged = [
        point("m", "m-mail", "email", "b@example.com", qualification="validated", is_default=True),
        default("m", "email", "m-mail"),
        point("m", "m-ph", "phone", "+41 44 123 45 67", qualification="validated", is_default=True),
        default("m", "phone", "m-ph"),
    ]
    plan = merging.plan(survivor, merged)
    moves = {m.item["contact_point_id"]: m for m in plan.points}
    assert moves["m-mail"].fields == {"is_default": False} and not moves["m-mail"].becomes_default
    assert moves["m-ph"].becomes_default and plan.new_defaults == {"phone": "m-ph"}
    assert len(plan.merged_defaults) == 2


def test_a_survivors_default_that_takes_an_invalid_state_stops_being_the_default() -> None:
    mine = point("s", "s-ph", "phone", "+4930 1", qualification="validated", is_default=True,
                 updated_at="2026-01-01T00:00:00+00:00")  # fmt: skip
    theirs = point("m", "m-ph", "phone", "+4930 1", valid=False, updated_at="2026-06-01T00:00:00+00:00")
    (move,) = merging.plan([mine, default("s", "phone", "s-ph")], [theirs]).points
    assert move.clears_default and move.fields["is_default"] is False and move.fields["valid"] is False


def test_wishes_follow_their_point_and_an_opt_out_on_either_side_still_counts() -> None:
    mine = point("s", "s-ph", "phone", "+4930 1")
    theirs = point("m", "m-ph", "phone", "+4930 1")
    their_wishes = {"PK": "OWNER#m", "SK": "POLICY#POINT#m-ph", "opt_outs": {"sms": {"source": "debtor"}}}
    my_wishes = {"PK": "OWNER#s", "SK": "POLICY#POINT#s-ph", "consents": {"call": {"source": "debtor"}},
                 "revision": 3}  # fmt: skip
    plan = merging.plan([mine, my_wishes], [theirs, their_wishes])
    assert plan.wishes == [(their_wishes, "s-ph", my_wishes)]
    assert merging.combined_wishes(my_wishes, their_wishes) == {
        "opt_outs": {"sms": {"source": "debtor"}},
        "consents": {"call": {"source": "debtor"}},
    }


def test_both_contact_histories_count_in_time_order() -> None:
    mine = {"attempts": [{"at": "2026-05-02", "action_id": "b"}], "conversations": []}
    theirs = {"attempts": [{"at": "2026-05-01", "action_id": "a"}, {"at": "2026-05-02", "action_id": "b"}],
              "conversations": [{"at": "2026-04-01", "case_id": "c"}]}  # fmt: skip
    combined = merging.combined_history(mine, theirs)
    assert combined is not None
    assert [a["action_id"] for a in combined["attempts"]] == ["a", "b"]
    assert combined["conversations"] == [{"at": "2026-04-01", "case_id": "c"}]
    assert merging.combined_history(mine, None) is None


def test_cases_and_holds_move() -> None:
    case = {"PK": "OWNER#m", "SK": "CASE#c1", "case_id": "c1"}
    hold = {"PK": "OWNER#m", "SK": "POLICY#HOLD#h1", "hold_id": "h1"}
    plan = merging.plan([], [case, hold, {"PK": "OWNER#m", "SK": "PROFILE"}])
    assert (plan.cases, plan.holds, plan.points) == ([case], [hold], [])
