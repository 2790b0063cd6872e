"""Every event the pipeline emits, in one place. Payloads point at data, never carry it."""
from __future__ import annotations

import logging

SNAPSHOT_FETCHED = "krafter.snapshot.fetched"
DATASET_UPDATED = "krafter.dataset.updated"
DATASET_REJECTED = "krafter.dataset.rejected"
MARTS_UPDATED = "krafter.marts.updated"
REPORT_PUBLISHED = "krafter.report.published"

log = logging.getLogger(__name__)


def source_resource(source_id: str) -> dict:
    return {"prefect.resource.id": f"krafter.source.{source_id}", "prefect.resource.name": source_id}


def dataset_resource(source_id: str) -> dict:
    return {"prefect.resource.id": f"krafter.dataset.{source_id}", "prefect.resource.name": source_id}


WAREHOUSE_RESOURCE = {"prefect.resource.id": "krafter.warehouse"}
REPORT_RESOURCE = {"prefect.resource.id": "krafter.report"}


def _has_api() -> bool:
    """Inside a flow or task run, or with a configured Prefect API. Outside both, emitting would
    start a temporary Prefect server just to drop the event: stage functions called directly
    (tests, scripts) stay quiet instead."""
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.settings import PREFECT_API_URL
    return bool(PREFECT_API_URL.value()) or FlowRunContext.get() is not None or TaskRunContext.get() is not None


def emit(event: str, resource: dict, payload: dict) -> None:
    """Emit through Prefect's event client; a pipeline run never fails because events are off."""
    try:
        if not _has_api():
            log.debug("no Prefect API: %s not emitted", event)
            return
        from prefect.events import emit_event
        emit_event(event=event, resource=resource, payload=payload)
    except Exception as exc:  # pragma: no cover - events are best effort
        log.warning("could not emit %s: %s", event, exc)


def snapshot_fetched(source_id: str, sha256: str, size: int, kind: str) -> None:
    emit(SNAPSHOT_FETCHED, source_resource(source_id),
         {"source": source_id, "sha256": sha256, "bytes": size, "kind": kind})


def dataset_updated(source_id: str, snapshots: list[str], rows: int, quarantined: int) -> None:
    emit(DATASET_UPDATED, dataset_resource(source_id),
         {"source": source_id, "snapshots": snapshots, "rows": rows, "quarantined": quarantined})


def dataset_rejected(source_id: str, snapshots: list[str], reason: str) -> None:
    emit(DATASET_REJECTED, dataset_resource(source_id),
         {"source": source_id, "snapshots": snapshots, "reason": reason})


def marts_updated(version: int, path: str, indicator_values: int) -> None:
    emit(MARTS_UPDATED, WAREHOUSE_RESOURCE,
         {"version": version, "path": path, "indicator_values": indicator_values})


def report_published(edition: str, path: str) -> None:
    emit(REPORT_PUBLISHED, REPORT_RESOURCE, {"edition": edition, "path": path})
