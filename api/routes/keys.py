"""API keys, for admins: create (the secret is shown once), list, revoke; every change audited.

The same operations as ``sourcebook keys``, so an operator can revoke a leaked key while the
server runs. A revocation takes effect at once on the server that handled it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from api.deps import PrincipalDep, ServicesDep
from core.access import Action, Role

router = APIRouter(prefix="/v1/keys", tags=["keys"])

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@:-]*$"


class KeyBody(BaseModel):
    role: Role
    teams: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=20, description="Needed for every role but admin."
    )
    user: str | None = Field(
        None, min_length=1, max_length=128, pattern=_NAME, description="Default: role and teams."
    )


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key_id: str
    user: str
    role: Role
    teams: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key_id: str
    secret: str = Field(description="The whole key. Shown this once; only its hash is stored.")
    user: str
    role: Role
    teams: list[str]


@router.post("", status_code=201)
def create_key(body: KeyBody, services: ServicesDep, principal: PrincipalDep) -> IssuedKeyOut:
    """Issue a key for a user (created if new; a different role or team replaces theirs)."""
    principal.require(Action.MANAGE_KEYS)
    user = body.user or f"{body.role.value}-{'-'.join(body.teams)}".rstrip("-")
    issued = services.keys.issue(user, body.role, tuple(body.teams), actor=principal.user)
    return IssuedKeyOut.model_validate(issued)


@router.get("")
def list_keys(
    services: ServicesDep,
    principal: PrincipalDep,
    include_revoked: Annotated[bool, Query()] = False,
) -> list[KeyOut]:
    """Every key's id, user, role, teams and use; never a secret."""
    principal.require(Action.MANAGE_KEYS)
    return [KeyOut.model_validate(k) for k in services.keys.entries(include_revoked=include_revoked)]


@router.delete("/{key_id}", status_code=204)
def revoke_key(
    key_id: Annotated[str, PathParam(max_length=64)], services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Revoke a key by its id (the part after ``sb_``); it stops working at once."""
    principal.require(Action.MANAGE_KEYS)
    services.keys.revoke(key_id, actor=principal.user)
    return Response(status_code=204)
