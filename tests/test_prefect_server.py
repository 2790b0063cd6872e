"""The event chain on a real local Prefect server: deploy from prefect.yaml, a process worker runs
the flows, `krafter.dataset.updated` leads to build-marts and then publish-report.

Waiting windows: KRAFTER_TEST_EVENT_TIMEOUT (seconds, default 240)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, SAMPLES
from warehouse.lock import writer_lock

TIMEOUT = float(os.environ.get("KRAFTER_TEST_EVENT_TIMEOUT", "240"))
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for(predicate, what: str, timeout: float = TIMEOUT, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    prefect_home = tmp_path_factory.mktemp("prefect-server-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "PREFECT_LOGGING_LEVEL": "INFO",
           "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
    env.pop("PREFECT_API_KEY", None)
    log = open(prefect_home / "server.log", "w")
    proc = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env={k: v for k, v in env.items() if k != "PREFECT_API_URL"}, stdout=log,
                            stderr=subprocess.STDOUT)

    def healthy():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    try:
        wait_for(healthy, "the Prefect server to start", timeout=300)
        yield env
    finally:
        stop(proc)
        log.close()


def run(args: list[str], env: dict, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=300, **kw)
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]} {result.stderr[-2000:]}"
    return result


def runs(home: Path) -> list[tuple]:
    """meta.runs of the private work database, read under the data home's writer lock like any
    writer would (a reader holding the file would make the worker's build wait or fail)."""
    with writer_lock(home, wait_seconds=TIMEOUT):
        con = duckdb.connect(str(home / "work.duckdb"), read_only=True)
        try:
            return con.execute("SELECT step, status FROM meta.runs ORDER BY started_at").fetchall()
        finally:
            con.close()


LAND = """
import sys
from pathlib import Path
from flows.ingest import ingest_snapshots, store_files
from sources import registry
from sources.snapshot import SnapshotStore
home, source, path = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
spec = registry.get(source)
result = ingest_snapshots(home, spec, store_files(SnapshotStore(home), spec, [path], "synthetic"))
print(result.status)
"""


@pytest.mark.prefect_server
def test_dataset_event_runs_build_marts_then_publish_report(server, tmp_path):
    home = tmp_path / "home"
    env = {**server, "KRAFTER_HOME": str(home)}
    run([str(BIN / "prefect"), "work-pool", "create", "krafter-process", "--type", "process"], env)
    deployed = run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], env)
    for name in ("ingest-labour", "ingest-procurement", "ingest-organisations", "build-marts", "publish-report"):
        assert name in deployed.stdout
    worker_log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "krafter-process"],
                              env=env, cwd=REPO, stdout=worker_log, stderr=subprocess.STDOUT)
    try:
        # landing a dataset emits krafter.dataset.updated (nothing else is called by the test)
        landed = run([sys.executable, "-c", LAND, str(home), "pxweb",
                      str(SAMPLES / "pxweb" / "TAB6260_bas_manad.json")], env)
        assert landed.stdout.strip() == "loaded"
        manifest = home / "manifest.json"
        wait_for(lambda: manifest.exists() and (json.loads(manifest.read_text()).get("report") or {}).get("edition"),
                 "build-marts and publish-report to run")
        state = json.loads(manifest.read_text())
        assert state["warehouse"]["version"] == 1
        wait_for(lambda: ("publish-report", "written") in runs(home), "publish-report to finish")
        steps = runs(home)
        assert steps[:3] == [("ingest:pxweb", "loaded"), ("build-marts", "published"), ("publish-report", "written")]

        # the same file again: unchanged → no event → nothing new is built or published
        again = run([sys.executable, "-c", LAND, str(home), "pxweb",
                     str(SAMPLES / "pxweb" / "TAB6260_bas_manad.json")], env)
        assert again.stdout.strip() == "unchanged"
        # a stray dataset event with nothing new in the ledger: build-marts is a quick no-op
        run([str(BIN / "prefect"), "event", "emit", "krafter.dataset.updated",
             "--resource", json.dumps({"prefect.resource.id": "krafter.dataset.pxweb"})], env)
        wait_for(lambda: ("build-marts", "unchanged") in runs(home), "the no-op build-marts run")
        time.sleep(5)
        assert json.loads(manifest.read_text())["warehouse"]["version"] == 1
        assert [s for s in runs(home) if s[0] == "publish-report"] == [("publish-report", "written")]
    finally:
        stop(worker)
        worker_log.close()
