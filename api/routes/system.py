"""Health, readiness, metrics and jobs."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api import scope
from api.deps import PrincipalDep, ServicesDep
from api.readiness import WarmUp
from api.schemas import JobOut
from core.access import Action
from core.errors import BackendUnavailable, NotFound

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, services: ServicesDep) -> dict[str, str]:
    """The catalog and the vector store answer, and the models are loaded (503 until then)."""
    warm_up: WarmUp | None = getattr(request.app.state, "warm_up", None)
    if warm_up is not None and not warm_up.ready:
        failed = f" (last attempt failed: {warm_up.error})" if warm_up.error else ""
        raise BackendUnavailable(f"not ready: loading the models{failed}")
    try:
        services.catalog.collection_teams()
        services.store.count()
    except Exception as exc:
        raise BackendUnavailable(f"not ready: {exc}") from exc
    warmed = f"{warm_up.seconds:.1f} s" if warm_up is not None and warm_up.seconds is not None else "n/a"
    precision = services.precision
    return {
        "status": "ready",
        "catalog": "ok",
        "vector_store": "ok",
        "models": f"loaded in {warmed}",
        "embedder": services.live.model,
        "embed_precision": precision.dtype,
        "embed_precision_reason": precision.reason,
        "question_runtime": services.question_runtime,
    }


@router.get("/metrics", response_class=Response)
def metrics(request: Request, services: ServicesDep) -> Response:
    """Prometheus metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    last = {p.collection: bool(p.dropped) for p in services.quality_runs.trend(limit=500)}
    request.app.state.metrics.live(services.live.model, last)
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/jobs/{job_id}")
def get_job(job_id: str, services: ServicesDep, principal: PrincipalDep) -> JobOut:
    principal.require(Action.READ)
    job = services.jobs.get(job_id)
    try:
        scope.team_of(services, principal, job.collection)
    except NotFound:
        raise NotFound(f"no job with id {job_id!r}") from None
    return JobOut.model_validate(job)
