"""Who is calling: the identity the authorizer put on the request, and what it may see.

In AWS a Lambda/JWT authorizer fills ``requestContext.authorizer`` with ``role`` (agency_admin, collector,
client_user) and, for a client user, ``client_id``. The local API gateway does the same from a bearer-token map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared.api import ApiError, Forbidden

Role = Literal["agency_admin", "collector", "client_user"]
ROLES: tuple[Role, ...] = ("agency_admin", "collector", "client_user")


@dataclass(frozen=True)
class Identity:
    principal: str
    role: Role
    client_id: str | None = None

    @property
    def is_agency(self) -> bool:
        return self.role in ("agency_admin", "collector")

    def may_see_client(self, client_id: str) -> bool:
        return self.is_agency or self.client_id == client_id

    def require_admin(self) -> None:
        if self.role != "agency_admin":
            raise Forbidden("only an agency administrator may do this")

    def require_client_access(self, client_id: str) -> None:
        if not self.may_see_client(client_id):
            raise Forbidden("you may only see your own client's data")


def from_request_context(request_context: dict[str, Any]) -> Identity:
    auth = request_context.get("authorizer") or {}
    role = auth.get("role")
    principal = auth.get("principalId")
    if not principal or role not in ROLES:
        raise ApiError("unauthenticated", "a valid bearer token is required", status=401)
    client_id = auth.get("client_id") or None
    if role == "client_user" and not client_id:
        raise ApiError("unauthenticated", "a client user's token must name its client", status=401)
    return Identity(principal=str(principal), role=role, client_id=client_id)
