"""One HTTP client for every source: HTTPS with certificate checks, a timeout on every request,
retries with exponential backoff on 429/5xx/timeouts/connection resets honouring ``Retry-After``."""
from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime

import requests

USER_AGENT = "gemensamma-krafter/0.1 (+https://github.com/coompanion-ostergotland/gemensamma-krafter)"
RETRY_STATUS = {429, 500, 502, 503, 504}
log = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """A fetch that failed for good; the message is one line naming source, URL and reason."""


def _retry_after(resp: requests.Response, default: float) -> float:
    value = resp.headers.get("Retry-After")
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return default


_LOOPBACK = ("http://localhost", "http://127.0.0.1", "http://[::1]")


def request(source: str, method: str, url: str, *, session: requests.Session | None = None,
            retries: int = 4, backoff: float = 1.0, timeout: float = 60.0, max_wait: float = 120.0,
            **kwargs) -> requests.Response:
    """Send a request with retries; raise ``FetchError`` for a final failure.

    Only HTTPS with certificate verification reaches the network; plain HTTP is accepted for
    loopback only (the local servers tests replay recorded responses from)."""
    if not url.startswith("https://") and not url.startswith(_LOOPBACK):
        raise FetchError(f"{source}: {url}: refusing a non-HTTPS URL")
    if kwargs.get("verify") is False:
        raise FetchError(f"{source}: {url}: certificate verification cannot be turned off")
    sess = session or requests.Session()
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    attempt = 0
    while True:
        attempt += 1
        try:
            resp = sess.request(method, url, headers=headers, timeout=timeout, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            if attempt > retries:
                raise FetchError(f"{source}: {url}: {type(exc).__name__} after {attempt} attempts") from exc
            wait = backoff * 2 ** (attempt - 1)
            log.warning("%s: %s: %s, retrying in %.1fs", source, url, type(exc).__name__, wait)
            time.sleep(min(wait, max_wait))
            continue
        if resp.status_code in RETRY_STATUS and attempt <= retries:
            wait = _retry_after(resp, backoff * 2 ** (attempt - 1))
            log.warning("%s: %s: HTTP %s, retrying in %.1fs", source, url, resp.status_code, wait)
            time.sleep(min(wait, max_wait))
            continue
        if resp.status_code == 202 and resp.headers.get("x-amzn-waf-action"):
            raise FetchError(f"{source}: {url}: blocked by a WAF challenge (HTTP 202)")
        if resp.status_code >= 400:
            raise FetchError(f"{source}: {url}: HTTP {resp.status_code} {resp.reason}")
        return resp
