"""`krafter refresh` against live-shaped HTTP: a local server replays TED's search API and notice
XML (the real client code runs: paging, downloads, snapshots, the chain downstream)."""
from __future__ import annotations

import json
from datetime import date

import duckdb
from werkzeug import Response

from flows.refresh import refresh
from tests.conftest import SAMPLES


def test_refresh_fetches_new_notices_then_resumes_without_downloading_again(prefect_harness, httpserver,
                                                                             tmp_path, monkeypatch):
    xmls = [p for p in sorted((SAMPLES / "ted").glob("*.xml")) if not p.stem.endswith("2022")][:8]
    notices = [{"publication-number": p.stem,
                "links": {"xml": {"MUL": f"https://ted.europa.eu/en/notice/{p.stem}/xml"}}} for p in xmls]
    searches: list[dict] = []

    def search(request):
        body = request.get_json()
        searches.append(body)
        page = notices[:5] if "iterationNextToken" not in body else (
            notices[5:] if body["iterationNextToken"] == "t1" else [])
        token = {None: "t1", "t1": "t2"}.get(body.get("iterationNextToken"))
        return Response(json.dumps({"notices": page, "totalNoticeCount": len(notices),
                                    "iterationNextToken": token, "timedOut": False}),
                        content_type="application/json")

    downloads: list[str] = []

    def notice(request):
        downloads.append(request.path)
        number = request.path.split("/")[3]
        return Response((SAMPLES / "ted" / f"{number}.xml").read_bytes(), content_type="application/xml")

    httpserver.expect_request("/v3/notices/search", method="POST").respond_with_handler(search)
    for p in xmls:
        httpserver.expect_request(f"/en/notice/{p.stem}/xml").respond_with_handler(notice)
    monkeypatch.setenv("KRAFTER_TED_URL", httpserver.url_for("/").rstrip("/"))
    home = tmp_path / "home"

    first = refresh(home=str(home), only="ted", since=date(2023, 10, 1))
    [ted] = first.ingests
    assert (ted.status, ted.snapshots_new) == ("loaded", 8)
    assert len(downloads) == 8
    assert "publication-date >= 20231001" in searches[0]["query"] and searches[0]["paginationMode"] == "ITERATION"
    assert first.marts.status == "published" and first.report is not None
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    notices_landed = con.execute("SELECT count(*) FROM core.notice").fetchall()[0][0]
    kinds = con.execute("SELECT DISTINCT kind FROM meta.snapshot").fetchall()
    con.close()
    assert notices_landed == 8 and kinds == [("captured",)]

    # the next night: the same search answer; nothing is downloaded again and nothing is rebuilt
    second = refresh(home=str(home), only="ted", since=date(2023, 10, 1))
    assert second.ingests[0].status == "unchanged"
    assert len(downloads) == 8
    assert second.marts.status == "unchanged"
