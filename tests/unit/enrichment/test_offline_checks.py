"""Offline checks: phonenumbers' own example numbers for line type, region and time zone; e-mail normalisation and
the MX question against a fake resolver (no network in tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dns.exception
import dns.resolver
import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from services.enrichment.offline_checks import MailDomains, check_email, check_phone, check_points
from shared.events import ContactPointSummary


def _example(region: str, kind: int) -> str:
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize(
    ("region", "kind", "line_type"),
    [
        ("DE", PhoneNumberType.MOBILE, "mobile"),
        ("DE", PhoneNumberType.FIXED_LINE, "fixed_line"),
        ("DE", PhoneNumberType.PREMIUM_RATE, "premium_rate"),
        ("GB", PhoneNumberType.VOIP, "voip"),
        ("FR", PhoneNumberType.TOLL_FREE, "toll_free"),
    ],
)
def test_line_type_and_region_of_the_libraries_example_numbers(region: str, kind: int, line_type: str) -> None:
    checked = check_phone(_example(region, kind))
    assert checked.valid and checked.line_type == line_type and checked.region == region


def test_time_zone_of_a_german_and_an_american_number() -> None:
    assert check_phone(_example("DE", PhoneNumberType.MOBILE)).time_zones == ["Europe/Berlin"]
    new_york = check_phone("+1 212-555-0123")  # 212: Manhattan
    assert new_york.region == "US" and new_york.time_zones == ["America/New_York"]


def test_national_number_is_read_in_the_default_region_and_normalised_to_e164() -> None:
    checked = check_phone("0151 23456789", default_region="DE")
    assert checked.valid and checked.e164 == "+4915123456789" and checked.line_type == "mobile"


@pytest.mark.parametrize("value", ["+49 12", "not a number", "", "+999 123456"])
def test_impossible_numbers_are_invalid(value: str) -> None:
    checked = check_phone(value)
    assert not checked.valid and checked.line_type == "unknown" and checked.time_zones == []


# ---- e-mail ------------------------------------------------------------------------------------------------


class _Mx:
    def __init__(self, exchange: str) -> None:
        self.exchange = exchange


class FakeResolver:
    """dnspython's resolve(): answers from a table, raises its exceptions, counts the questions."""

    def __init__(self, zone: dict[tuple[str, str], Any]) -> None:
        self.zone = zone
        self.asked: list[tuple[str, str]] = []

    def resolve(self, qname: str, rdtype: str, *, lifetime: float | None = None) -> Any:
        self.asked.append((qname, rdtype))
        assert lifetime is not None and lifetime <= 5, "every DNS question has a short timeout"
        answer = self.zone.get((qname, rdtype), dns.resolver.NoAnswer)
        if isinstance(answer, type) and issubclass(answer, Exception):
            raise answer()
        return answer


ZONE: dict[tuple[str, str], Any] = {
    ("mail.example", "MX"): [_Mx("mx1.mail.example."), _Mx("mx2.mail.example.")],
    ("nomail.example", "MX"): [_Mx(".")],  # RFC 7505 null MX
    ("gone.example", "MX"): dns.resolver.NXDOMAIN,
    ("bare.example", "A"): ["192.0.2.1"],  # no MX, but an address: RFC 5321 implicit MX
    ("slow.example", "MX"): dns.exception.Timeout,
}


def test_mail_server_verdicts_from_the_fake_resolver() -> None:
    domains = MailDomains(FakeResolver(ZONE), timeout_seconds=1.5)
    assert domains.mail_server("mail.example") == "found"
    assert domains.mail_server("nomail.example") == "none"
    assert domains.mail_server("gone.example") == "none"
    assert domains.mail_server("bare.example") == "found"
    assert domains.mail_server("empty.example") == "none"  # no MX, no A, no AAAA
    assert domains.mail_server("slow.example") == "unknown"


def test_verdicts_are_cached_per_domain_and_a_timeout_only_briefly() -> None:
    resolver, now = FakeResolver(ZONE), [0.0]
    domains = MailDomains(resolver, ttl_seconds=3600, unknown_ttl_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        domains.mail_server("MAIL.example.")
        domains.mail_server("slow.example")
    assert resolver.asked == [("mail.example", "MX"), ("slow.example", "MX")]
    now[0] = 61.0
    domains.mail_server("mail.example")
    domains.mail_server("slow.example")
    assert resolver.asked[2:] == [("slow.example", "MX")]


def test_cache_is_bounded() -> None:
    resolver = FakeResolver(ZONE)
    domains = MailDomains(resolver, max_domains=2)
    for name in ("a.example", "b.example", "c.example", "a.example"):
        domains.mail_server(name)
    assert [q for q, _ in resolver.asked if _ == "MX"] == ["a.example", "b.example", "c.example", "a.example"]


def test_email_is_normalised_and_its_domain_checked() -> None:
    checked = check_email("Erika.Mustermann@MAIL.example", MailDomains(FakeResolver(ZONE)))
    assert checked.valid and checked.normalised == "Erika.Mustermann@mail.example"
    assert checked.domain == "mail.example" and checked.mail_server == "found" and checked.reason is None


def test_email_on_a_domain_without_mail_is_flagged() -> None:
    checked = check_email("someone@nomail.example", MailDomains(FakeResolver(ZONE)))
    assert checked.valid and checked.mail_server == "none" and checked.reason


@pytest.mark.parametrize("value", ["no-at-sign", "two@@example.org", "a@b", "x@-bad-.example", ""])
def test_malformed_emails_are_invalid_with_a_reason_and_no_dns_question(value: str) -> None:
    resolver = FakeResolver(ZONE)
    checked = check_email(value, MailDomains(resolver))
    assert not checked.valid and checked.reason and resolver.asked == []


def test_without_dns_the_domain_stays_unknown() -> None:
    assert check_email("a@mail.example", None).mail_server == "unknown"


def test_check_points_checks_each_unchecked_phone_and_email_once() -> None:
    points = [
        ContactPointSummary(contact_point_id="p1", type="phone", value="+4915123456789", state="pending"),
        ContactPointSummary(contact_point_id="p2", type="email", value="a@mail.example", state="default"),
        ContactPointSummary(contact_point_id="p3", type="email", value="b@mail.example", state="pending", checked=True),
        ContactPointSummary(contact_point_id="p4", type="postal_address", value="Weg 1, Berlin", state="pending"),
    ]
    now = datetime(2026, 11, 28, tzinfo=UTC)
    checks = check_points(points, MailDomains(FakeResolver(ZONE)), now)
    assert [(c.contact_point_id, c.usable) for c in checks] == [("p1", True), ("p2", True)]
    assert checks[0].phone and checks[0].phone.line_type == "mobile" and checks[0].email is None
    assert checks[1].email and checks[1].email.mail_server == "found" and checks[1].checked_at == now
