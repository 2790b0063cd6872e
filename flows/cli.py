"""``krafter``: the command line. Prefect is imported only after PREFECT_HOME is settled."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from flows.settings import prefect_home_for, resolve_home

app = typer.Typer(help="Gemensamma krafter: Swedish open data on social procurement, cross-sector "
                       "collaboration and the labour market, from sources to a published DuckDB "
                       "warehouse and a report.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
console = Console(stderr=True)
out = Console()

HOME_HELP = "Data home (default: $KRAFTER_HOME, else ./data)."


def _fail(message: str) -> None:
    console.print(f"[bold red]krafter: error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


def _setup(home: Optional[Path]) -> Path:
    h = resolve_home(home)
    h.mkdir(parents=True, exist_ok=True)
    prefect_home_for(h)
    return h


def _print_summary(summary, title: str) -> None:
    table = Table(title=title, show_lines=False)
    for col in ("source", "status", "new snapshots", "rows", "quarantined", "note"):
        table.add_column(col, justify="right" if col in ("new snapshots", "rows", "quarantined") else "left")
    for i in summary.ingests:
        table.add_row(i.source, i.status, str(i.snapshots_new), f"{i.rows:,}".replace(",", " "),
                      str(i.quarantined), i.message or "")
    out.print(table)
    if summary.marts:
        m = summary.marts
        counts = m.counts or {}
        out.print(f"Warehouse: {m.path} (version {m.version}, {m.status}{', demo data' if m.demo else ''})")
        if counts:
            out.print("  " + ", ".join(f"{k} {v:,}".replace(",", " ") for k, v in counts.items()))
    if summary.report:
        out.print(f"Report:    {summary.report.index}  (edition {summary.report.edition})")
    loaded = [i for i in summary.ingests if i.status == "loaded"]
    out.print(f"Datasets loaded: {len(loaded)}, rows: {sum(i.rows for i in loaded):,}, ".replace(",", " ")
              + f"quarantined rows: {sum(i.quarantined for i in summary.ingests)}"
              + (f", indicator values: {summary.marts.counts.get('marts.indicator_value', 0):,}".replace(",", " ")
                 if summary.marts and summary.marts.counts else ""))


def _run(fn, *args, **kwargs):
    try:
        with console.status("working…", spinner="dots"):
            return fn(*args, **kwargs)
    except typer.Exit:
        raise
    except Exception as exc:  # every failure: non-zero exit and one line
        _fail(_one_line(exc))


@app.command()
def demo(home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP),
         lang: str = typer.Option("sv", "--lang", help="Report language: sv or en.")) -> None:
    """Run the whole chain on the bundled samples, offline (re-running converges to the same marts)."""
    h = _setup(home)
    from flows.refresh import refresh
    summary = _run(refresh, home=str(h), samples=True, lang=lang)
    _print_summary(summary, "krafter demo — bundled synthetic samples")
    if summary.failed:
        _fail("; ".join(i.message or i.source for i in summary.failed))


@app.command()
def refresh(home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP),
            region: str = typer.Option("05", "--region", help="County code the report focuses on."),
            only: Optional[str] = typer.Option(None, "--only", help="Comma-separated source ids or families."),
            since: Optional[datetime] = typer.Option(None, "--since", formats=["%Y-%m-%d"],
                                                     help="Backfill from this date (YYYY-MM-DD)."),
            lang: str = typer.Option("sv", "--lang")) -> None:
    """Fetch the live sources, then build the marts and the report when something changed."""
    h = _setup(home)
    from sources import registry
    try:
        registry.select(only)
    except registry.UnknownSource as exc:
        _fail(str(exc))
    from flows.refresh import refresh as refresh_flow
    summary = _run(refresh_flow, home=str(h), region=region, only=only,
                   since=since.date() if since else None, lang=lang)
    _print_summary(summary, "krafter refresh")
    if summary.failed:
        _fail("; ".join(i.message or i.source for i in summary.failed))


@app.command()
def ingest(source_id: str = typer.Argument(..., metavar="ID", help="Source id, e.g. pxweb, ted, bolagsverket."),
           file: Path = typer.Option(..., "--file", help="Local file (or folder) to ingest."),
           home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP),
           region: str = typer.Option("05", "--region")) -> None:
    """Take one local file through the same path as a fetch, then the chain downstream of it."""
    h = _setup(home)
    from sources import registry
    try:
        spec = registry.get(source_id)
    except registry.UnknownSource as exc:
        _fail(str(exc))
    if not registry.implemented(spec):
        _fail(f"{source_id}: not implemented in this version")
    if not file.exists():
        _fail(f"{file}: no such file or folder")
    from flows.refresh import ingest_file
    summary = _run(ingest_file, source_id, str(file), home=str(h), region=region)
    _print_summary(summary, f"krafter ingest {source_id}")
    if summary.failed:
        _fail("; ".join(i.message or i.source for i in summary.failed))


INSPECT_FORMATS = {"eforms": "ted", "ted-xml": "ted"}


@app.command()
def inspect(what: str = typer.Argument(..., metavar="ID|FORMAT", help="Source id or format (eforms, ted-xml)."),
            file: Path = typer.Argument(..., help="File to read."),
            limit: int = typer.Option(20, help="National registers (read as a stream): rows shown per table.")) -> None:
    """Print what the parser makes of a file, as JSON. Nothing is written.

    The national registers (bolagsverket, scb-register) are read block by block like an ingest; for
    them each table's row count and its first --limit rows are printed, not millions of rows."""
    from sources import registry
    from sources.base import ParseError
    source_id = INSPECT_FORMATS.get(what, what)
    try:
        spec = registry.get(source_id)
        module = spec.load()
    except (registry.UnknownSource, ModuleNotFoundError) as exc:
        _fail(_one_line(exc))
    if not file.is_file():
        _fail(f"{file}: no such file")
    try:
        if hasattr(module, "parse_blocks"):
            result = _inspect_blocks(module.parse_blocks(file, file.name), limit)
        elif hasattr(module, "inspect"):
            result = module.inspect(file.read_bytes(), file.name)
        else:
            frames = module.parse(file.read_bytes(), file.name)
            result = {name: frame.to_dicts() for name, frame in frames.items()}
    except ParseError as exc:
        _fail(f"{source_id}: {file}: {_one_line(exc)}")
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1, default=str)
    sys.stdout.write("\n")


def _inspect_blocks(blocks, limit: int) -> dict:
    """{table: {"rows": count, "first": [first ``limit`` rows]}} of a stream of frames; anonymous
    counts (sole traders) are summed."""
    out: dict[str, dict] = {}
    for frames in blocks:
        for name, frame in frames.items():
            t = out.setdefault(name, {"rows": 0, "first": []})
            if name.endswith("_sole_traders"):
                total = (t["first"][0]["count"] if t["first"] else 0) + int(frame["count"].sum())
                t.update(rows=1, first=[{"count": total}])
                continue
            t["rows"] += frame.height
            if len(t["first"]) < limit:
                t["first"].extend(frame.head(limit - len(t["first"])).to_dicts())
    return out


@app.command()
def status(home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP),
           as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Per source: last snapshot, fetched at, rows, quarantined, freshness; the warehouse version."""
    from sources import registry
    from warehouse import manifest
    h = resolve_home(home)
    m = manifest.read(h)
    now = datetime.now(timezone.utc)
    rows = []
    for spec in registry.SOURCES.values():
        s = m.get("sources", {}).get(spec.id, {})
        fetched = s.get("fetched_at")
        checked = s.get("checked_at") or fetched     # a live check that found nothing new counts
        if not checked:
            fresh = "never"
        else:
            age = (now - datetime.fromisoformat(checked)).total_seconds() / 86400
            fresh = "fresh" if age <= spec.cadence_days else f"stale ({age:.0f} d > {spec.cadence_days} d)"
        rows.append({"source": spec.id, "family": spec.family, "last_snapshot": s.get("last_snapshot"),
                     "fetched_at": fetched, "checked_at": s.get("checked_at"), "kind": s.get("kind"), "rows": s.get("rows"),
                     "quarantined": s.get("quarantined"), "status": s.get("status", "not loaded"),
                     "freshness": fresh, "message": s.get("message")})
    if as_json:
        json.dump({"home": str(h), "sources": rows, "warehouse": m.get("warehouse"), "report": m.get("report")},
                  sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return
    table = Table(title=f"krafter status — {h}")
    for col in ("source", "family", "last snapshot", "fetched at", "rows", "quarantined", "status", "freshness"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["source"], r["family"], (r["last_snapshot"] or "—")[:12], (r["fetched_at"] or "—")[:19],
                      "—" if r["rows"] is None else str(r["rows"]), "—" if r["quarantined"] is None else str(r["quarantined"]),
                      r["status"] + (" (synthetic)" if r["kind"] == "synthetic" else ""), r["freshness"])
    out.print(table)
    w = m.get("warehouse")
    if w:
        out.print(f"Warehouse version {w['version']} published {w['published_at']}{' — demo data' if w.get('demo') else ''}: {w['path']}")
    else:
        out.print("Warehouse: not published yet")


@app.command()
def explain(indicator: str = typer.Argument(..., help="Indicator id, e.g. sp_reserved_share."),
            region: str = typer.Option(..., "--region", help="Region code: 0580, 05, 00."),
            period: str = typer.Option(..., "--period", help="2025 or 2025-01."),
            sex: str = typer.Option("T", "--sex", help="T, K or M."),
            home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP),
            as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List the rows behind one indicator value and the queries that produced it."""
    from publish.explain import ExplainError, explain as explain_value
    try:
        e = explain_value(resolve_home(home), indicator, region, period, sex)
    except ExplainError as exc:
        _fail(str(exc))
    if as_json:
        json.dump({"indicator": e.indicator, "value": e.value, "rows": e.rows, "queries": e.queries,
                   "models": e.models}, sys.stdout, ensure_ascii=False, indent=1, default=str)
        sys.stdout.write("\n")
        return
    v = e.value
    out.print(f"[bold]{e.indicator['name_en']}[/] ({indicator}) — region {region}, period {period}, sex {sex}")
    out.print(f"value {v['value']} {v['unit']} = {v['numerator']} / {v['denominator']}; n {v['n']}, "
              f"coverage {v['coverage']}, status {v['status']}")
    out.print(f"definition: {e.indicator['definition_en']}")
    if e.rows:
        table = Table(title=f"{len(e.rows)} rows behind the value")
        for col in e.rows[0]:
            table.add_column(col)
        for r in e.rows:
            table.add_row(*("" if x is None else str(x) for x in r.values()))
        out.print(table)
    else:
        out.print("no underlying rows")
    out.print("models: " + ", ".join(e.models))
    for q in e.queries:
        out.print(q, highlight=False)


@app.command()
def report(home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP),
           lang: str = typer.Option("sv", "--lang", help="sv (default) or en."),
           region: str = typer.Option("05", "--region", help="County the report focuses on."),
           hold_on_gate: bool = typer.Option(False, "--hold-on-gate",
                                             help="Keep the previous edition as the latest when values moved "
                                                  "beyond the publication gate.")) -> None:
    """Write a report edition from the published warehouse (Swedish, or English with --lang en)."""
    h = _setup(home)
    if lang not in ("sv", "en"):
        _fail(f"--lang must be sv or en, not '{lang}'")
    from flows.report import publish_report
    result = _run(publish_report, home=str(h), county=region, lang=lang, hold_on_gate=hold_on_gate)
    out.print(f"Report:    {result.edition_dir / 'index.html'}  (edition {result.edition}, {lang})")
    if result.gated:
        out.print(f"Publication gate: {result.gated} value(s) moved beyond the threshold"
                  + (" — edition HELD, report/index.html still shows the previous one" if result.held else ""))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
