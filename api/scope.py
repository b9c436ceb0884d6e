"""What a caller may see: visible collections and documents. Not visible reads as not found,
so a key never learns that another team's collection or document exists."""

from __future__ import annotations

from datetime import UTC, datetime

from api.schemas import Filters
from api.services import Services
from core.access import Action, Principal
from core.catalog import CollectionInfo
from core.domain import Document
from core.errors import NotFound
from core.protocols import SearchFilter


def visible_collections(services: Services, principal: Principal) -> list[CollectionInfo]:
    return [c for c in services.catalog.collections() if principal.sees(c.team)]


def collection(services: Services, principal: Principal, name: str) -> CollectionInfo:
    """A visible collection with its counts (which count every chunk: for listings, not checks)."""
    for info in visible_collections(services, principal):
        if info.name == name:
            return info
    raise NotFound(f"no collection named {name!r}")


def team_of(services: Services, principal: Principal, name: str) -> str:
    """The team of a collection the caller sees: the check every search and ask makes, one
    indexed row (the counts of ``collection`` scanned every chunk of the node, per request)."""
    team = services.catalog.collection_team(name)  # NotFound in the same words as below
    if not principal.sees(team):
        raise NotFound(f"no collection named {name!r}")
    return team


def document(services: Services, principal: Principal, document_id: str) -> Document:
    doc = services.catalog.find_document(document_id)
    if doc is None or not principal.sees(doc.team or ""):
        raise NotFound(f"no document with id {document_id!r}")
    return doc


def search_filter(
    services: Services, principal: Principal, collections: list[str], filters: Filters
) -> SearchFilter:
    principal.require(Action.READ)
    for name in collections:
        team_of(services, principal, name)
    return SearchFilter(
        collections=tuple(collections),
        teams=principal.visible_teams,
        document_ids=tuple(filters.document_ids),
        media_types=tuple(filters.media_types),
        tags=tuple(filters.tags),
        ingested_after=_unix(filters.ingested_after),
        ingested_before=_unix(filters.ingested_before),
    )


def _unix(moment: datetime | None) -> float | None:
    """Unix seconds of a filter's date; a date without a zone is UTC (not the server's local time,
    whose conversion fails for the first and last days of the calendar: "year 0 is out of range")."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
