"""Merging two case owners that are one person (an accepted match review): the rules, free of AWS.

The *merged* case owner's cases, contact points and contact-policy facts move to the *surviving* one; the merged
one stays as a tombstone (``merged_into``) so that old links and late events find the survivor.

* **Same contact point twice** (the same normalised value on both): one point stays, the survivor's, with the
  better of the two states. A state somebody established (validated with evidence, or invalidated with a reason or
  a bounce) beats pending (nobody knows yet); of two established states the later one wins, since it is the newer
  knowledge about that number or address. Details the survivor's point lacks (observation, trace, checks) are
  taken from the other.
* **Defaults**: one per type. The survivor's default stays; where it has none, the merged one's default becomes
  the survivor's (if its point is still valid and validated after the collapse).
* **Contact-policy facts**: holds move as they are; a point's wishes (opt-outs, consents) follow the point (both
  kept where both points had some: an opt-out on either side still counts); the contact history and the
  inconvenient times are combined, so caps and quiet times count both files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.contacts.cases import domain
from shared.events import ContactPointData

STATE_FIELDS = ("valid", "qualification")
DETAIL_FIELDS = ("observation", "trace", "checks", "address")


def same_point_key(item: dict[str, Any]) -> tuple[str, str]:
    """Two stored points are the same point when their type and normalised value agree."""
    data = ContactPointData(type=item["type"], value=str(item["value"]))
    return str(item["type"]), domain.normalised_value(data)


def _established(item: dict[str, Any]) -> bool:
    return not bool(item.get("valid", True)) or item.get("qualification") == "validated"


def _changed_at(item: dict[str, Any]) -> str:
    return str(item.get("updated_at") or item.get("created_at") or "")


def merged_state_wins(kept: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether ``other``'s validation state replaces ``kept``'s on the one point that stays (see the module)."""
    if _established(kept) != _established(other):
        return _established(other)
    if not _established(other):
        return False  # both pending: nothing to choose
    return _changed_at(other) > _changed_at(kept)


@dataclass(frozen=True)
class PointMove:
    """One of the merged case owner's contact points: moved as it is, or collapsed into the survivor's ``kept``."""

    item: dict[str, Any]
    kept: dict[str, Any] | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # changes to ``kept`` (collapse) or the moved item
    becomes_default: bool = False
    clears_default: bool = False  # the survivor's default point took an invalid state: its type has none now

    @property
    def target_id(self) -> str:
        return str((self.kept or self.item)["contact_point_id"])


@dataclass(frozen=True)
class MergePlan:
    cases: list[dict[str, Any]]
    points: list[PointMove]
    holds: list[dict[str, Any]]
    wishes: list[tuple[dict[str, Any], str, dict[str, Any] | None]]  # merged's item, target point id, survivor's
    new_defaults: dict[str, str]  # type → contact point id that becomes the survivor's default
    merged_defaults: list[dict[str, Any]]  # the merged case owner's DEFAULT# pointers (removed)


def _by_prefix(items: list[dict[str, Any]], prefix: str) -> dict[str, dict[str, Any]]:
    return {str(i["SK"]): i for i in items if str(i["SK"]).startswith(prefix)}


def plan(survivor_items: list[dict[str, Any]], merged_items: list[dict[str, Any]]) -> MergePlan:
    """What moves where: ``*_items`` are every item of each case owner's partition (``OWNER#<id>``)."""
    survivor_points = list(_by_prefix(survivor_items, "CP#").values())
    by_value = {same_point_key(p): p for p in survivor_points}
    survivor_defaults = {
        str(i["SK"]).removeprefix("DEFAULT#"): i for i in _by_prefix(survivor_items, "DEFAULT#").values()
    }
    merged_defaults = _by_prefix(merged_items, "DEFAULT#")
    merged_default_ids = {str(i.get("contact_point_id")) for i in merged_defaults.values() if i.get("contact_point_id")}
    has_default = {t for t, i in survivor_defaults.items() if i.get("contact_point_id")}

    moves: list[PointMove] = []
    new_defaults: dict[str, str] = {}
    for item in sorted(_by_prefix(merged_items, "CP#").values(), key=lambda i: str(i["SK"])):
        point_type = str(item["type"])
        kept = by_value.get(same_point_key(item))
        fields: dict[str, Any] = {}
        if kept is not None:
            if merged_state_wins(kept, item):
                fields.update({f: item.get(f) for f in STATE_FIELDS})
            fields.update({f: item[f] for f in DETAIL_FIELDS if item.get(f) is not None and kept.get(f) is None})
            result = {**kept, **fields}
        else:
            result = dict(item)
        wants_default = str(item["contact_point_id"]) in merged_default_ids and point_type not in has_default
        usable = bool(result.get("valid")) and result.get("qualification") == "validated"
        becomes_default = wants_default and usable and point_type not in new_defaults
        if becomes_default:
            new_defaults[point_type] = str(result["contact_point_id"])
            fields["is_default"] = True
        elif kept is None and item.get("is_default"):
            fields["is_default"] = False  # the survivor's default of this type stays the only one
        clears_default = kept is not None and bool(kept.get("is_default")) and not usable
        if clears_default:
            fields["is_default"] = False
        moves.append(PointMove(item, kept, fields, becomes_default, clears_default))

    target_of = {str(m.item["contact_point_id"]): m.target_id for m in moves}
    survivor_wishes = _by_prefix(survivor_items, "POLICY#POINT#")
    wishes = []
    for sk, item in sorted(_by_prefix(merged_items, "POLICY#POINT#").items()):
        point_id = sk.removeprefix("POLICY#POINT#")
        target = target_of.get(point_id, point_id)
        wishes.append((item, target, survivor_wishes.get(f"POLICY#POINT#{target}")))
    return MergePlan(
        cases=sorted(_by_prefix(merged_items, "CASE#").values(), key=lambda i: str(i["SK"])),
        points=moves,
        holds=sorted(_by_prefix(merged_items, "POLICY#HOLD#").values(), key=lambda i: str(i["SK"])),
        wishes=wishes,
        new_defaults=new_defaults,
        merged_defaults=list(merged_defaults.values()),
    )


def combined_wishes(survivor: dict[str, Any] | None, merged: dict[str, Any]) -> dict[str, Any]:
    """A point's wishes from both files: every opt-out and consent of either (the survivor's where both have one
    for a channel), every channel either found invalid, and a work phone if either said so."""
    mine = survivor or {}
    out: dict[str, Any] = {}
    for name in ("opt_outs", "consents"):
        both = {**dict(merged.get(name) or {}), **dict(mine.get(name) or {})}
        if both:
            out[name] = both
    invalid_for = sorted({*(merged.get("invalid_for") or ()), *(mine.get("invalid_for") or ())})
    if invalid_for:
        out["invalid_for"] = invalid_for
    for flag in ("at_work", "no_contact_at_work"):
        if mine.get(flag) or merged.get(flag):
            out[flag] = True
    for name, value in merged.items():
        if name not in out and name not in mine and name not in ("PK", "SK", "revision", "updated_at"):
            out[name] = value
    return out


def combined_history(survivor: dict[str, Any] | None, merged: dict[str, Any] | None) -> dict[str, Any] | None:
    """Both contact histories as one (attempts and conversations in time order), or None if neither has one."""
    if not merged:
        return None
    mine = survivor or {}
    attempts = sorted(
        {str(a["action_id"]): a for a in [*(merged.get("attempts") or []), *(mine.get("attempts") or [])]}.values(),
        key=lambda a: str(a["at"]),
    )
    conversations = sorted(
        {
            (str(c["at"]), str(c["case_id"])): c
            for c in [*(merged.get("conversations") or []), *(mine.get("conversations") or [])]
        }.values(),
        key=lambda c: str(c["at"]),
    )
    return {"attempts": attempts, "conversations": conversations}


def combined_times(survivor: dict[str, Any] | None, merged: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if not merged:
        return None
    seen: dict[str, dict[str, Any]] = {}
    for t in [*((survivor or {}).get("times") or []), *(merged.get("times") or [])]:
        seen.setdefault(repr(sorted(t.items())), t)
    return list(seen.values())
