"""Offline checks, before any bureau is paid: what ships with the libraries says about a phone or an e-mail.

Phones: phonenumbers' metadata (validity, line type, region, time zones). E-mails: email-validator's syntax check
and normalisation, then whether the domain accepts mail, asked of DNS through dnspython with a short timeout; the
verdict per domain is cached (a run checks thousands of addresses on a few hundred domains). The results are
published to contacts and stored on the contact point (the contact policy reads time zone and line type).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol

import dns.exception
import dns.resolver
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberType, timezone

from shared.events import ContactPointChecks, ContactPointSummary, EmailCheck, PhoneCheck, PhoneLineType

MailServer = Literal["found", "none", "unknown"]

_LINE_TYPES: dict[int, PhoneLineType] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}


def check_phone(value: str, default_region: str = "DE") -> PhoneCheck:
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        return PhoneCheck(valid=False)
    if not phonenumbers.is_valid_number(number):
        return PhoneCheck(valid=False, region=phonenumbers.region_code_for_number(number) or None)
    zones = [z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    return PhoneCheck(
        valid=True,
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        line_type=_LINE_TYPES.get(phonenumbers.number_type(number), "unknown"),
        region=phonenumbers.region_code_for_number(number),
        time_zones=sorted(zones),
    )


# ---- e-mail --------------------------------------------------------------------------------------------------


class DnsResolver(Protocol):
    """dnspython's ``Resolver.resolve`` (the part we use); tests pass a fake, no network."""

    def resolve(self, qname: str, rdtype: str, *, lifetime: float | None = None) -> Any: ...


class MailDomains:
    """Whether a domain accepts mail (RFC 5321 §5.1: its MX records, else its address records; RFC 7505: a
    null MX says no), with a bounded per-domain cache. A DNS timeout is 'unknown' and cached only briefly."""

    def __init__(
        self,
        resolver: DnsResolver | None = None,
        *,
        timeout_seconds: float = 2.0,
        ttl_seconds: float = 3600.0,
        unknown_ttl_seconds: float = 60.0,
        max_domains: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver: DnsResolver = resolver or dns.resolver.Resolver()
        self._timeout = timeout_seconds
        self._ttl = ttl_seconds
        self._unknown_ttl = unknown_ttl_seconds
        self._max = max_domains
        self._clock = clock
        self._cache: OrderedDict[str, tuple[MailServer, float]] = OrderedDict()
        self._lock = threading.Lock()

    def mail_server(self, domain: str) -> MailServer:
        domain = domain.lower().rstrip(".")
        now = self._clock()
        with self._lock:
            hit = self._cache.get(domain)
            if hit and hit[1] > now:
                self._cache.move_to_end(domain)
                return hit[0]
        verdict = self._ask(domain)
        with self._lock:
            self._cache[domain] = (verdict, now + (self._unknown_ttl if verdict == "unknown" else self._ttl))
            self._cache.move_to_end(domain)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return verdict

    def _ask(self, domain: str) -> MailServer:
        try:
            answer = self._resolver.resolve(domain, "MX", lifetime=self._timeout)
            hosts = [str(record.exchange).rstrip(".") for record in answer]
            return "found" if any(hosts) else "none"  # a lone "." exchange is a null MX
        except dns.resolver.NXDOMAIN:
            return "none"
        except dns.resolver.NoAnswer:
            return self._has_address(domain)
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration):
            return "unknown"

    def _has_address(self, domain: str) -> MailServer:
        for rdtype in ("A", "AAAA"):
            try:
                self._resolver.resolve(domain, rdtype, lifetime=self._timeout)
                return "found"
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration):
                return "unknown"
        return "none"


def check_email(value: str, domains: MailDomains | None) -> EmailCheck:
    """``domains=None`` skips the DNS question (local stack without network): mail_server stays 'unknown'."""
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return EmailCheck(valid=False, reason=str(exc))
    verdict: MailServer = domains.mail_server(checked.ascii_domain) if domains else "unknown"
    return EmailCheck(
        valid=True,
        normalised=checked.normalized,
        domain=checked.ascii_domain,
        mail_server=verdict,
        reason="the domain does not accept e-mail" if verdict == "none" else None,
    )


def check_points(
    points: list[ContactPointSummary], domains: MailDomains | None, now: datetime, default_region: str = "DE"
) -> list[ContactPointChecks]:
    """The checks of every phone and e-mail not checked yet (postal addresses have no free check)."""
    out: list[ContactPointChecks] = []
    for point in points:
        if point.checked or point.type == "postal_address":
            continue
        common = {"contact_point_id": point.contact_point_id, "type": point.type, "value": point.value}
        if point.type == "phone":
            out.append(ContactPointChecks(**common, checked_at=now, phone=check_phone(point.value, default_region)))
        else:
            out.append(ContactPointChecks(**common, checked_at=now, email=check_email(point.value, domains)))
    return out
