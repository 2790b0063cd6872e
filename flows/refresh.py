"""The whole chain in one process: ingest → build-marts (only when something changed) → report."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger

from flows.ingest import IngestSummary, ingest_source, sample_files
from flows.marts import MartsSummary, build_and_publish
from flows.report import write_report
from flows.settings import resolve_home
from publish.report import ReportResult
from sources import registry
from warehouse import manifest
from warehouse.lock import writer_lock


@dataclass
class RefreshSummary:
    home: str
    ingests: list[IngestSummary] = field(default_factory=list)
    marts: MartsSummary | None = None
    report: ReportResult | None = None

    @property
    def failed(self) -> list[IngestSummary]:
        return [i for i in self.ingests if i.status in ("failed", "rejected")]


def report_needed(home: Path, warehouse_version: int | None) -> bool:
    """The latest report does not show the published warehouse: missing, built from another
    version, or an edition left half-written by a crash."""
    report = manifest.read(home).get("report") or {}
    editions = Path(home) / "report" / "editions"
    return (not (Path(home) / "report" / "index.html").exists()
            or report.get("warehouse_version") != warehouse_version
            or any(editions.glob("*.part")))


def run_chain(home: Path, ingests: list[IngestSummary], county: str, lang: str = "sv") -> RefreshSummary:
    """Downstream of the ingests: marts when anything changed (or nothing is published yet), then the report."""
    summary = RefreshSummary(str(home), ingests)
    summary.marts = build_and_publish(home)
    if summary.marts.status == "published" or report_needed(home, summary.marts.version):
        summary.report = write_report(home, county=county, lang=lang)
    _artifact(summary)
    return summary


@flow(name="refresh")
def refresh(home: str | None = None, region: str = "05", only: str | None = None,
            since: date | None = None, samples: bool = False, lang: str = "sv") -> RefreshSummary:
    """Ingest the selected sources (live, or the bundled samples with ``samples=True``), then
    build and publish the marts when something changed, then the report."""
    h = resolve_home(home)
    log = get_run_logger()
    with writer_lock(h):
        ingests = []
        for spec in registry.select(only):
            if samples:
                files = sample_files(spec.id)
                if not files:
                    continue
                result = ingest_source(str(h), spec.id, [str(f) for f in files], kind="synthetic")
            elif not spec.fetchable:
                result = IngestSummary(spec.id, "skipped", message=f"file only: krafter ingest {spec.id} --file PATH")
            else:
                result = ingest_source(str(h), spec.id, live=True, region=region, since=since)
            log.info("%s: %s%s", spec.id, result.status, f" — {result.message}" if result.message else "")
            ingests.append(result)
        return run_chain(h, ingests, county=region, lang=lang)


@flow(name="ingest-file")
def ingest_file(source_id: str, path: str, home: str | None = None, region: str = "05") -> RefreshSummary:
    """One local file (or folder) through the same path, then the chain downstream of it."""
    from flows.ingest import files_of
    h = resolve_home(home)
    with writer_lock(h):
        result = ingest_source(str(h), source_id, [str(f) for f in files_of(Path(path))], kind="captured")
        return run_chain(h, [result], county=region)


def _artifact(summary: RefreshSummary) -> None:
    try:
        from prefect.artifacts import create_table_artifact
        rows = [{"source": i.source, "status": i.status, "new snapshots": i.snapshots_new, "rows": i.rows,
                 "quarantined": i.quarantined, "message": i.message or ""} for i in summary.ingests]
        if summary.marts:
            rows.append({"source": "warehouse", "status": summary.marts.status, "new snapshots": "",
                         "rows": summary.marts.counts.get("marts.indicator_value", ""), "quarantined": "",
                         "message": f"version {summary.marts.version}"})
        create_table_artifact(rows, key="krafter-run-summary", description="What landed in this run")
    except Exception:  # pragma: no cover - artifacts are best effort outside a run
        pass
