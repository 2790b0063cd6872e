"""Hostile servers met by the sources' fetch functions (TED, Kolada, Arbetsförmedlingen, PxWeb,
Bolagsverket): 429 with Retry-After, 500/503, timeouts, connection resets and HTML error pages
served with HTTP 200. Retries back off (waits are recorded, never slept — see ``waits``); a final
failure is a one-line FetchError/ParseError naming the source, the URL and the reason."""
from __future__ import annotations

import socket

import pytest

from hostile_corpus import HTML_ERROR, TED_NOTICE, ResettingServer, http_response, one_line
from sources import af, bolagsverket, kolada, pxweb, ted
from sources.base import FetchContext, ParseError
from sources.http import FetchError

XLSX = b"PK\x03\x04 pretend workbook bytes"      # fetch stores bytes; parsing is another test's job


def ted_page(httpserver) -> dict:
    return {"notices": [{"publication-number": "00035018-2025",
                         "links": {"xml": {"MUL": httpserver.url_for("/en/notice/00035018-2025/xml")}}}],
            "totalNoticeCount": 1, "iterationNextToken": None}


def ted_ctx(httpserver) -> FetchContext:
    return FetchContext(base_url=httpserver.url_for("/").rstrip("/"))


def af_ctx(base: str) -> FetchContext:
    return FetchContext(base_url=f"{base}/statistik/af_kommun_2024-01.xlsx")


def kolada_ctx(base: str) -> FetchContext:
    return FetchContext(base_url=f"{base}/v3")


def fetch_error(fn, *reason: str) -> str:
    with pytest.raises(FetchError) as err:
        fn()
    msg = one_line(str(err.value))
    for r in reason:
        assert r in msg, msg
    return msg


# --- 429 with Retry-After -------------------------------------------------------------------

def test_af_429_with_retry_after_is_honoured_then_fetched(httpserver, waits):
    path = "/statistik/af_kommun_2024-01.xlsx"
    httpserver.expect_ordered_request(path).respond_with_data("slow down", status=429, headers={"Retry-After": "7"})
    httpserver.expect_ordered_request(path).respond_with_data(XLSX)
    [got] = af.fetch(af_ctx(httpserver.url_for("").rstrip("/")))
    assert got.data == XLSX and got.http_status == 200 and waits == [7.0]


def test_ted_search_429_with_retry_after_is_honoured_then_fetched(httpserver, waits):
    httpserver.expect_ordered_request("/v3/notices/search", method="POST").respond_with_data(
        "", status=429, headers={"Retry-After": "3"})
    httpserver.expect_ordered_request("/v3/notices/search", method="POST").respond_with_json(ted_page(httpserver))
    httpserver.expect_ordered_request("/en/notice/00035018-2025/xml").respond_with_data(TED_NOTICE.read_bytes())
    [got] = ted.fetch(ted_ctx(httpserver))
    assert got.name == "00035018-2025.xml" and got.data == TED_NOTICE.read_bytes()
    assert waits == [3.0]


def test_kolada_429_that_persists_honours_every_retry_after_then_fails(httpserver, waits):
    httpserver.expect_request("/v3/kpi/N03926").respond_with_data("", status=429, headers={"Retry-After": "3"})
    url = httpserver.url_for("/v3/kpi/N03926")
    msg = fetch_error(lambda: kolada.fetch(kolada_ctx(httpserver.url_for("").rstrip("/"))),
                      "kolada: ", url, "HTTP 429")
    assert msg.startswith("kolada: ")
    assert waits == [3.0, 3.0, 3.0, 3.0] and len(httpserver.log) == 5


# --- 500 / 503 ------------------------------------------------------------------------------

def test_ted_notice_503_twice_backs_off_then_fetched(httpserver, waits):
    httpserver.expect_ordered_request("/v3/notices/search", method="POST").respond_with_json(ted_page(httpserver))
    for _ in range(2):
        httpserver.expect_ordered_request("/en/notice/00035018-2025/xml").respond_with_data("", status=503)
    httpserver.expect_ordered_request("/en/notice/00035018-2025/xml").respond_with_data(TED_NOTICE.read_bytes())
    [got] = ted.fetch(ted_ctx(httpserver))
    assert got.data == TED_NOTICE.read_bytes() and waits == [1.0, 2.0]


@pytest.mark.parametrize("source", ["kolada", "ted"])
def test_500_that_never_recovers_is_a_one_line_fetch_error(httpserver, waits, source):
    if source == "kolada":
        httpserver.expect_request("/v3/kpi/N03926").respond_with_data("boom", status=500)
        url, call = httpserver.url_for("/v3/kpi/N03926"), lambda: kolada.fetch(kolada_ctx(httpserver.url_for("").rstrip("/")))
    else:
        httpserver.expect_request("/v3/notices/search", method="POST").respond_with_data("boom", status=500)
        url, call = httpserver.url_for("/v3/notices/search"), lambda: ted.fetch(ted_ctx(httpserver))
    msg = fetch_error(call, f"{source}: {url}: HTTP 500")
    assert "boom" not in msg
    assert waits == [1.0, 2.0, 4.0, 8.0] and len(httpserver.log) == 5


def test_af_503_that_never_recovers_is_a_one_line_fetch_error(httpserver, waits):
    httpserver.expect_request("/statistik/af_kommun_2024-01.xlsx").respond_with_data("", status=503)
    fetch_error(lambda: af.fetch(af_ctx(httpserver.url_for("").rstrip("/"))), "af: ", "HTTP 503")
    assert len(waits) == 4


# --- timeouts and connection resets ---------------------------------------------------------

@pytest.fixture
def silent_base():
    """A socket that accepts connections (kernel backlog) but never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


@pytest.mark.parametrize("source", ["af", "kolada"])
def test_timeouts_are_retried_then_a_one_line_fetch_error(silent_base, waits, source):
    module, ctx = (af, af_ctx(silent_base)) if source == "af" else (kolada, kolada_ctx(silent_base))
    fetch_error(lambda: module.fetch(ctx), f"{source}: {silent_base}", "Timeout after 5 attempts")
    assert waits == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("source", ["af", "kolada"])
def test_connection_reset_every_time_is_a_one_line_fetch_error(waits, source):
    with ResettingServer() as server:
        module, ctx = (af, af_ctx(server.url)) if source == "af" else (kolada, kolada_ctx(server.url))
        fetch_error(lambda: module.fetch(ctx), f"{source}: {server.url}", "ConnectionError after 5 attempts")
    assert server.connections == 5 and waits == [1.0, 2.0, 4.0, 8.0]


def test_connection_reset_once_is_retried_then_fetched(waits):
    with ResettingServer(resets=1, then=http_response(XLSX)) as server:
        [got] = af.fetch(af_ctx(server.url))
    assert got.data == XLSX and server.connections == 2 and waits == [1.0]


# --- HTML error pages served with HTTP 200 ---------------------------------------------------

def test_ted_search_answered_by_an_html_page_is_one_line_error(httpserver, waits):
    httpserver.expect_request("/v3/notices/search", method="POST").respond_with_data(
        HTML_ERROR, content_type="text/html; charset=utf-8")
    with pytest.raises(ParseError) as err:
        ted.fetch(ted_ctx(httpserver))
    assert one_line(str(err.value)).endswith("/v3/notices/search: HTML page instead of JSON (HTTP 200)")


def test_ted_notice_answered_by_an_html_page_is_one_line_error(httpserver, waits):
    httpserver.expect_request("/v3/notices/search", method="POST").respond_with_json(ted_page(httpserver))
    httpserver.expect_request("/en/notice/00035018-2025/xml").respond_with_data(HTML_ERROR, content_type="application/xml")
    with pytest.raises(ParseError) as err:
        ted.fetch(ted_ctx(httpserver))
    assert one_line(str(err.value)).endswith("HTML page instead of notice XML (HTTP 200)")


@pytest.mark.parametrize("source", ["kolada", "pxweb"])
def test_json_api_answered_by_an_html_page_is_one_line_error(httpserver, waits, source):
    httpserver.expect_request(f"/api/{'kpi/N03926' if source == 'kolada' else 'config'}").respond_with_data(
        HTML_ERROR, content_type="text/html")
    module = kolada if source == "kolada" else pxweb
    with pytest.raises(ParseError) as err:
        module.fetch(FetchContext(base_url=httpserver.url_for("/api")))
    assert one_line(str(err.value)).endswith("answer is not JSON (HTTP 200)")


def test_bolagsverket_download_answered_by_an_html_page_is_refused(httpserver, waits, tmp_path):
    httpserver.expect_request("/bolagsverket/bolagsverket_bulkfil.zip").respond_with_data(
        HTML_ERROR, content_type="text/html")
    with pytest.raises(ParseError) as err:
        bolagsverket.fetch(FetchContext(base_url=httpserver.url_for("/").rstrip("/")), folder=tmp_path)
    assert one_line(str(err.value)).endswith(f"the download is not a zip archive ({len(HTML_ERROR)} bytes)")
