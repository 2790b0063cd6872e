"""The report in a real browser: headless Chromium loads it from a local HTTP server."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


@pytest.fixture()
def chromium():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (.ci/run installs it)")
        pytest.skip("Chromium not installed (CI installs it; apt-get install chromium)")
    return CHROMIUM


@pytest.fixture()
def served_report(demo_home):
    requests: list[tuple[str, int]] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_request(self, code="-", size="-"):
            requests.append((self.path, int(code) if str(code).isdigit() else 0))

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(demo_home / "report")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html", requests
    server.shutdown()


def test_report_renders_every_table_without_errors(chromium, served_report, tmp_path):
    url, requests = served_report
    profile = tmp_path / "profile"
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    for section in ("overview", "social_procurement", "sector_collaboration", "labour_market"):
        assert f'id="{section}"' in html
    assert html.count('class="gt_table"') >= 4
    assert "Östergötlands län" in html and "Demodata" in html
    console_errors = [l for l in dom.stderr.splitlines() if "CONSOLE" in l and ("Error" in l or "Uncaught" in l)]
    assert console_errors == []
    assert requests and all(code < 400 for _, code in requests), requests

    shot = tmp_path / "report.png"
    run = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                          "--window-size=1280,2000", url], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
