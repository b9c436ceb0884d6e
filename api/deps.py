"""Request dependencies: the services built by the lifespan, and the caller behind the key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.services import Services
from core.access import Principal
from core.errors import Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sb_…`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key, as a header")


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


def principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Principal:
    secret = bearer.credentials if bearer is not None else header
    if not secret:
        raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
    return services(request).keys.authenticate(secret)


PrincipalDep = Annotated[Principal, Depends(principal)]
