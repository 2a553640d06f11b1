"""Who is calling: the identity the authorizer put on the request, and what it may see and do.

Two authorizer shapes are understood, both as a REST API puts them into ``requestContext.authorizer``:
- a Lambda authorizer (and the local API gateway's bearer-token map): ``principalId``, ``role`` and, for a
  client user, ``client_id``;
- the Cognito user-pool authorizer of the template (``authorizer.claims``): ``custom:role``,
  ``custom:client_id`` and ``sub`` (or ``email``) as principal.
An HTTP API (payload 2.0, ``authorizer.jwt.claims``) never gets here: ``http.RestApi`` refuses its events.

Roles: ``agency_admin`` (everything), ``collector`` (reads everything, changes what is not reserved to an
administrator), ``client_user`` (reads its own client's data only, changes nothing of the client's setup).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from shared.api import ApiError
from shared.errors import Forbidden, NotFound

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

    def require_agency(self) -> None:
        if not self.is_agency:
            raise Forbidden("only agency staff may do this")

    def require_client_access(self, client_id: str) -> None:
        if not self.may_see_client(client_id):
            raise Forbidden("you may only see your own client's data")

    def require_client_read(self, client_id: str) -> None:
        """Reading another client's data: a client user learns nothing, not even that the client exists."""
        if not self.may_see_client(client_id):
            raise NotFound("client", client_id)


def _unauthenticated(message: str = "a valid bearer token is required") -> ApiError:
    return ApiError("unauthenticated", message, status=401)


def _claims(auth: dict[str, Any]) -> dict[str, Any] | None:
    claims = auth.get("claims")
    return claims if isinstance(claims, dict) else None


def from_request_context(request_context: dict[str, Any]) -> Identity:
    auth = request_context.get("authorizer") or {}
    if not isinstance(auth, dict):
        raise _unauthenticated()
    claims = _claims(auth)
    if claims is not None:
        role = claims.get("custom:role")
        principal = claims.get("sub") or claims.get("email")
        client_id = claims.get("custom:client_id") or None
    else:
        role = auth.get("role")
        principal = auth.get("principalId")
        client_id = auth.get("client_id") or None
    if not principal or role not in ROLES:
        raise _unauthenticated()
    if role == "client_user" and not client_id:
        raise _unauthenticated("a client user's token must name its client")
    return Identity(principal=str(principal), role=cast(Role, role), client_id=str(client_id) if client_id else None)


def agency(who: Identity) -> None:
    """A route's `allow` for agency work: a client user may only read (403 before anything is looked up)."""
    who.require_agency()
