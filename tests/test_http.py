"""sources.http.request: retries with exponential backoff, Retry-After, final failures as one-line
FetchErrors, the User-Agent, and WAF challenges. Waits are recorded, never slept."""
from __future__ import annotations

import socket
import time
from email.utils import formatdate
from types import SimpleNamespace

import pytest

from sources import http
from sources.http import USER_AGENT, FetchError, request


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Record every back-off wait instead of sleeping. The module's ``time`` name is replaced (not
    ``time.sleep`` itself) so the test server's thread keeps the real clock."""
    recorded: list[float] = []
    monkeypatch.setattr(http, "time", SimpleNamespace(sleep=recorded.append, time=time.time))
    return recorded


def test_429_with_retry_after_waits_that_long_then_succeeds(httpserver, waits):
    httpserver.expect_ordered_request("/x").respond_with_data("slow down", status=429,
                                                              headers={"Retry-After": "2"})
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    resp = request("demo", "GET", httpserver.url_for("/x"))
    assert resp.status_code == 200 and resp.text == "ok"
    assert waits == [2.0]
    assert len(httpserver.log) == 2


def test_retry_after_as_http_date_is_honoured(httpserver, waits):
    httpserver.expect_ordered_request("/x").respond_with_data(
        "", status=503, headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)})
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    request("demo", "GET", httpserver.url_for("/x"))
    assert len(waits) == 1 and 27 <= waits[0] <= 30


def test_retry_after_is_capped_by_max_wait(httpserver, waits):
    httpserver.expect_ordered_request("/x").respond_with_data("", status=429, headers={"Retry-After": "3600"})
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    request("demo", "GET", httpserver.url_for("/x"), max_wait=120)
    assert waits == [120]


def test_503_three_times_backs_off_exponentially(httpserver, waits):
    for _ in range(3):
        httpserver.expect_ordered_request("/x").respond_with_data("unavailable", status=503)
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    resp = request("demo", "GET", httpserver.url_for("/x"), backoff=1)
    assert resp.text == "ok"
    assert waits == [1, 2, 4]


def test_500_that_never_recovers_is_a_one_line_fetch_error(httpserver, waits):
    httpserver.expect_request("/broken").respond_with_data("boom", status=500)
    url = httpserver.url_for("/broken")
    with pytest.raises(FetchError) as err:
        request("demo", "GET", url, retries=4, backoff=1)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("demo: ") and url in msg and "HTTP 500" in msg
    assert len(httpserver.log) == 5          # first try + 4 retries
    assert waits == [1, 2, 4, 8]


def test_404_fails_at_once_without_retry(httpserver, waits):
    httpserver.expect_request("/missing").respond_with_data("no", status=404)
    url = httpserver.url_for("/missing")
    with pytest.raises(FetchError, match="HTTP 404") as err:
        request("demo", "GET", url)
    assert url in str(err.value)
    assert len(httpserver.log) == 1
    assert waits == []


def test_read_timeout_is_retried_then_a_fetch_error(waits):
    # a socket that accepts connections (kernel backlog) but never answers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/slow"
        with pytest.raises(FetchError) as err:
            request("demo", "GET", url, timeout=0.2, retries=2, backoff=1)
    finally:
        silent.close()
    msg = str(err.value)
    assert "demo: " in msg and url in msg and "Timeout" in msg and "after 3 attempts" in msg
    assert waits == [1, 2]


def test_connection_refused_is_retried_then_a_fetch_error(waits):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                  # nothing listens on this port now
    url = f"http://127.0.0.1:{port}/x"
    with pytest.raises(FetchError, match="ConnectionError after 3 attempts") as err:
        request("demo", "GET", url, timeout=0.5, retries=2, backoff=0.5)
    assert url in str(err.value)
    assert waits == [0.5, 1.0]


def test_user_agent_is_sent_and_extra_headers_kept(httpserver, waits):
    httpserver.expect_request("/ua", headers={"User-Agent": USER_AGENT, "Accept": "application/json"}
                              ).respond_with_data("ok")
    resp = request("demo", "GET", httpserver.url_for("/ua"), headers={"Accept": "application/json"})
    assert resp.status_code == 200
    assert httpserver.log[0][0].headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("gemensamma-krafter/")


def test_waf_challenge_202_is_a_fetch_error(httpserver, waits):
    httpserver.expect_request("/waf").respond_with_data("", status=202,
                                                        headers={"x-amzn-waf-action": "challenge"})
    with pytest.raises(FetchError, match="WAF") as err:
        request("demo", "GET", httpserver.url_for("/waf"))
    assert "HTTP 202" in str(err.value)
    assert len(httpserver.log) == 1 and waits == []


def test_plain_202_is_returned(httpserver, waits):
    httpserver.expect_request("/accepted").respond_with_data("queued", status=202)
    assert request("demo", "GET", httpserver.url_for("/accepted")).status_code == 202


def test_only_https_reaches_the_network():
    with pytest.raises(FetchError, match="refusing a non-HTTPS URL"):
        request("demo", "GET", "http://example.org/data.json")
    with pytest.raises(FetchError, match="certificate verification cannot be turned off"):
        request("demo", "GET", "https://example.org/data.json", verify=False)


def test_identifiers_in_sql_come_from_a_fixed_shape():
    from warehouse.db import quote_ident
    assert quote_ident("pxweb_observation") == '"pxweb_observation"'
    for hostile in ('x"; DROP TABLE core.organisation; --', "a b", "core.organisation", ""):
        with pytest.raises(ValueError):
            quote_ident(hostile)
