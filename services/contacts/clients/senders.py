"""A business unit's sender: an identity this deployment may send from, verified in SES, checked when it is set.

The notifications function's IAM policy allows ``ses:SendEmail`` from exactly three identities: the default
sender (the ``SenderEmail`` parameter), its domain, and the ``SenderDomain`` parameter (infra/permissions.py).
A sender outside them, or one SES has not verified, would have every e-mail refused later, in a queue, with the
event ending in a DLQ; checking it here turns that into a clear 422 for the administrator who sets it.
"""

from __future__ import annotations

from services.contacts import settings
from shared import aws
from shared.errors import Invalid

FIELD = "email.sender_email"


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def default_sender() -> str:
    """The sender of the built-in business unit and of every client without its own: the deployment's."""
    return settings.get().default_sender_email


def check(address: str) -> None:
    """Refuse (422) a sender the deployment may not send from, or one that is not verified in SES."""
    own = settings.get()
    if address.lower() == own.default_sender_email.lower():
        return  # verified before the deploy; its own identity is in the policy
    domain = domain_of(address)
    allowed = sorted({domain_of(own.default_sender_email), *([own.sender_domain.lower()] if own.sender_domain else [])})
    if domain not in allowed:
        raise Invalid(
            "sender_not_allowed",
            f"this deployment sends e-mail only from {own.default_sender_email} or addresses at "
            f"{' or '.join(allowed)}; an operator can allow another domain (the SenderDomain parameter)",
            FIELD,
        )
    identities = [address, domain]
    found = aws.client("ses").get_identity_verification_attributes(Identities=identities)["VerificationAttributes"]
    if not any(found.get(i, {}).get("VerificationStatus") == "Success" for i in identities):
        raise Invalid(
            "sender_not_verified",
            f"{address} is not verified in SES: verify the address or its domain {domain} first",
            FIELD,
        )
