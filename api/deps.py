"""Request dependencies: the services built by the lifespan, and the caller behind the key."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.services import Services
from core.access import Principal, Role
from core.errors import Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sb_…`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key, as a header")


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


@dataclass(frozen=True, slots=True)
class LocalOperator:
    """The owner of a single node's data folder, as the CLI reaches its running server: a random
    token that lives in the server's memory and in a file only that owner can read
    (``sourcebook/serving.py``), accepted as an admin named ``user`` for the server's lifetime."""

    token: str
    user: str

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(secret.encode(), self.token.encode())


def principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Principal:
    secret = bearer.credentials if bearer is not None else header
    if not secret:
        raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
    operator: LocalOperator | None = getattr(request.app.state, "local_operator", None)
    if operator is not None and operator.matches(secret):
        return Principal(operator.user, Role.ADMIN, ())
    return services(request).keys.authenticate(secret)


PrincipalDep = Annotated[Principal, Depends(principal)]
