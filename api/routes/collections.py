from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response

from api import scope
from api.deps import PrincipalDep, ServicesDep
from api.schemas import CollectionBody, CollectionOut
from core.access import Action
from core.errors import Conflict

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.get("")
def list_collections(services: ServicesDep, principal: PrincipalDep) -> list[CollectionOut]:
    principal.require(Action.READ)
    return [CollectionOut(**asdict(c)) for c in scope.visible_collections(services, principal)]


@router.post("", status_code=201)
def create_collection(body: CollectionBody, services: ServicesDep, principal: PrincipalDep) -> CollectionOut:
    principal.require(Action.MANAGE_COLLECTIONS, team=body.team)
    if any(c.name == body.name for c in services.catalog.collections()):
        raise Conflict(f"a collection named {body.name!r} already exists")
    services.catalog.ensure_collection(body.name, team=body.team, description=body.description)
    return CollectionOut(
        name=body.name, team=body.team, description=body.description, document_count=0, chunk_count=0
    )


@router.get("/{name}")
def get_collection(name: str, services: ServicesDep, principal: PrincipalDep) -> CollectionOut:
    principal.require(Action.READ)
    return CollectionOut(**asdict(scope.collection(services, principal, name)))


@router.delete("/{name}", status_code=204)
def delete_collection(name: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    info = scope.collection(services, principal, name)
    principal.require(Action.MANAGE_COLLECTIONS, team=info.team)
    services.delete_collection(name)
    return Response(status_code=204)
