from __future__ import annotations

from fastapi import APIRouter, Response

from api import scope
from api.deps import PrincipalDep, ServicesDep
from api.schemas import CollectionBody, CollectionOut, CollectionPatch, ReindexOut
from core.access import Action
from core.catalog import CollectionInfo
from ingest.intake import Outcome

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.get("")
def list_collections(services: ServicesDep, principal: PrincipalDep) -> list[CollectionOut]:
    principal.require(Action.READ)
    return [_out(c) for c in scope.visible_collections(services, principal)]


@router.post("", status_code=201)
def create_collection(body: CollectionBody, services: ServicesDep, principal: PrincipalDep) -> CollectionOut:
    principal.require(Action.MANAGE_COLLECTIONS, team=body.team)
    services.catalog.create_collection(
        body.name,
        body.team,
        description=body.description,
        pii_policy=body.pii_policy,
        pii_patterns=body.pii_patterns,
    )
    services.audit.record(
        principal.user,
        "collection.create",
        body.name,
        team=body.team,
        detail={"pii_policy": body.pii_policy, "pii_patterns": body.pii_patterns},
    )
    return _out(scope.collection(services, principal, body.name))


@router.get("/{name}")
def get_collection(name: str, services: ServicesDep, principal: PrincipalDep) -> CollectionOut:
    principal.require(Action.READ)
    return _out(scope.collection(services, principal, name))


@router.patch("/{name}")
def update_collection(
    name: str, body: CollectionPatch, services: ServicesDep, principal: PrincipalDep
) -> CollectionOut:
    """Change the description or the PII policy; the policy applies to documents ingested after."""
    info = scope.collection(services, principal, name)
    principal.require(Action.MANAGE_COLLECTIONS, team=info.team)
    changes = body.model_dump(exclude_none=True)
    if changes:
        services.catalog.update_collection(name, **changes)
        services.audit.record(principal.user, "collection.update", name, team=info.team, detail=changes)
    return _out(scope.collection(services, principal, name))


@router.delete("/{name}", status_code=204)
def delete_collection(name: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    info = scope.collection(services, principal, name)
    principal.require(Action.MANAGE_COLLECTIONS, team=info.team)
    services.library.delete_collection(name)
    services.audit.record(principal.user, "collection.delete", name, team=info.team)
    return Response(status_code=204)


@router.post("/{name}/reindex", status_code=202)
def reindex_collection(name: str, services: ServicesDep, principal: PrincipalDep) -> ReindexOut:
    """Process every ready document again (after a change of chunking or parser settings).

    Documents stay searchable throughout: each one's new chunks replace its old ones in place.
    """
    info = scope.collection(services, principal, name)
    principal.require(Action.MANAGE_COLLECTIONS, team=info.team)
    submitted = services.library.reindex(name)
    queued = None if submitted is None else sum(sub.outcome is Outcome.QUEUED for sub in submitted)
    services.audit.record(principal.user, "collection.reindex", name, team=info.team)
    return ReindexOut(collection=name, queued=queued)


def _out(info: CollectionInfo) -> CollectionOut:
    return CollectionOut.model_validate(info)
