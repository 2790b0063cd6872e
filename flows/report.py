"""publish-report: a dated report edition from the published warehouse."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from prefect import flow

from flows import events, logs
from flows.settings import resolve_home
from publish.report import ReportResult, build_report
from warehouse import manifest, runs
from warehouse.db import published_path
from warehouse.lock import writer_lock


def write_report(home: Path, county: str = "05", lang: str = "sv", hold_on_gate: bool = False) -> ReportResult:
    home = Path(home)
    if not published_path(home).exists():
        raise FileNotFoundError(f"{published_path(home)}: no published warehouse yet; run krafter refresh or demo")
    started = datetime.now(timezone.utc)
    with writer_lock(home):
        result = build_report(home, county=county, lang=lang, hold_on_gate=hold_on_gate)
        runs.record(home, "publish-report", started, "written", result.edition)
    manifest.update(home, report={"edition": result.edition, "path": str(result.index), "lang": lang,
                                  "county": county, "tables": result.tables,
                                  "warehouse_version": result.warehouse_version, "held": result.held})
    log = logs.logger()
    log.info("report edition %s written to %s%s", result.edition, result.edition_dir,
             " — HELD by the publication gate" if result.held else "")
    if result.gated:
        log.warning("%d value(s) moved beyond the publication gate: see 'Publiceringskontroll' in %s",
                    result.gated, result.edition_dir / "index.html")
    events.report_published(result.edition, str(result.index))
    return result


@flow(name="publish-report")
def publish_report(home: str | None = None, county: str = "05", lang: str = "sv",
                   hold_on_gate: bool = False) -> ReportResult:
    """Write a dated edition; with ``hold_on_gate`` an edition whose values moved beyond the gate
    is written but not made the latest until an operator runs the report again without it."""
    return write_report(resolve_home(home), county=county, lang=lang, hold_on_gate=hold_on_gate)
