"""Shared fixtures: a Prefect test harness for the session (temporary PREFECT_HOME, its own
server on loopback) and one demo run of the whole chain that integration tests read."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Prefect reads its settings at import: give it a private home before anything imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="krafter-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sources" / "samples"


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def demo_home(prefect_harness, tmp_path_factory) -> Path:
    """A data home after one `krafter demo` chain (the refresh flow on the bundled samples)."""
    from flows.refresh import refresh
    home = tmp_path_factory.mktemp("demo-home")
    summary = refresh(home=str(home), samples=True)
    assert not summary.failed, [i.message for i in summary.failed]
    return home


def published(home: Path):
    import duckdb
    return duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
