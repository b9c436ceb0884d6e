"""The audit trail and usage: who asked, uploaded and changed what; who spent what."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict

from api.deps import PrincipalDep, ServicesDep
from core.access import Action
from core.errors import Forbidden

router = APIRouter(prefix="/v1", tags=["governance"])


class VerificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ok: bool
    checked: int
    broken_at: int | None
    reason: str


@router.get(
    "/audit",
    response_class=Response,
    responses={
        200: {
            "content": {"application/x-ndjson": {}, "text/csv": {}},
            "description": "Audit entries, oldest first: JSON lines, or CSV.",
        }
    },
)
def export_audit(
    services: ServicesDep,
    principal: PrincipalDep,
    since: datetime | None = None,
    until: datetime | None = None,
    format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl",
) -> Response:
    """Export the audit trail for a date range (admins)."""
    principal.require(Action.READ_AUDIT)
    out = io.StringIO()
    services.audit.export(out, fmt=format, since=since, until=until)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return Response(out.getvalue(), media_type=media)


@router.get("/audit/verify")
def verify_audit(services: ServicesDep, principal: PrincipalDep) -> VerificationOut:
    """Recompute the hash chain; says where it breaks if an entry was edited or removed."""
    principal.require(Action.READ_AUDIT)
    result = services.audit.verify()
    return VerificationOut.model_validate(result)


@router.get("/usage")
def usage(
    services: ServicesDep,
    principal: PrincipalDep,
    user: str | None = None,
    team: str | None = None,
) -> dict[str, object]:
    """This month's credits and this minute's requests: yours, your team's, or (admins) anyone's."""
    principal.require(Action.READ)
    if team is not None:
        if not principal.sees(team):
            raise Forbidden(f"not a member of team {team!r}")
        return services.quotas.usage("team", team)
    name = user or principal.user
    if name != principal.user:
        principal.require(Action.READ_AUDIT)
    return services.quotas.usage("user", name)
