"""The query service: ``create_app(settings, open_services)`` opens the services in its lifespan
(``sourcebook.wiring.create_api`` passes the composition root's); nothing happens at import."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import errors
from api.deps import LocalOperator
from api.metrics import Metrics, RequestMetrics
from api.readiness import WarmUp
from api.routes import (
    answers,
    collections,
    documents,
    governance,
    insights,
    keys,
    models,
    review,
    system,
    templates,
)
from api.services import Services
from api.storable_text import StorableText
from api.upload_limit import ENVELOPE, UploadLimit
from core.access import Role
from core.catalog.keys import KeyRing
from core.settings import Settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    open_services: Callable[[Settings], Services],
    *,
    local_operator: LocalOperator | None = None,
    background: Callable[[Services], Callable[[], None]] | None = None,
) -> FastAPI:
    """``local_operator``: the data folder owner's token (``sourcebook serve`` passes one);
    ``background``: work started with the services (the quality schedule), returning its stop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = open_services(settings)
        app.state.services = services
        _bootstrap_admin_key(services.keys, settings)
        _apply_audit_retention(services)
        _seed_templates(services)
        # Listen at once (/healthz), but report ready only once the models are loaded (/readyz).
        app.state.warm_up = warm_up = WarmUp(services.warm_up)
        warm_up.start()
        resumed = services.intake.resume()
        if resumed:
            log.warning("resumed %d documents left unfinished by the last run", len(resumed))
        stop_background = background(services) if background is not None else None
        try:
            yield
        finally:
            if stop_background is not None:
                stop_background()
            warm_up.stop()
            services.close()

    app = FastAPIOffline(
        title="Sourcebook",
        version="0.1.0",
        description="Cited answers from your own documents. Authenticate with `Authorization: Bearer <key>`.",
        lifespan=lifespan,
    )
    app.state.metrics = Metrics(tenant_labels=settings.metrics_tenant_labels)
    app.state.local_operator = local_operator
    app.add_middleware(StorableText)
    errors.install(app)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    app.add_middleware(UploadLimit, limit=settings.max_upload_bytes + ENVELOPE)

    for module in (
        system,
        collections,
        documents,
        answers,
        governance,
        keys,
        templates,
        review,
        insights,
        models,
    ):
        app.include_router(module.router)
    return app


def _apply_audit_retention(services: Services) -> None:
    days = services.settings.audit_retention_days
    if days:
        cutoff = datetime.now(UTC) - timedelta(days=days)
        purged = services.audit.purge(cutoff)
        if purged:
            log.info("purged %d audit entries older than %d days", purged, days)
        answers = services.answers.purge(cutoff)
        if answers:
            log.info("purged %d answers (and their feedback) older than %d days", answers, days)


def _seed_templates(services: Services) -> None:
    """The shipped starter templates, added (or updated, unless a person changed them) at start:
    global ones, unless a YAML file names its ``team``."""
    from retrieval.templates import shipped

    written = services.templates.seed([(t.body(), t.team) for t in shipped()])
    if written:
        log.info("seeded question templates: %s", ", ".join(written))


def _bootstrap_admin_key(keys: KeyRing, settings: Settings) -> None:
    """The single-node default needs a first key: write one for an admin, readable by us only."""
    if keys.any_admin():
        return
    issued = keys.issue("admin", Role.ADMIN, ())
    path = settings.home / "admin-key.txt"
    path.write_text(issued.secret + "\n")
    os.chmod(path, 0o600)
    log.warning("created the first admin API key: it is in %s", path.resolve())
