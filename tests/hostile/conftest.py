"""Fixtures of the hostile corpus: back-off waits recorded instead of slept, short timeouts, and a
copy of the demo home (a published warehouse) to throw bad files at."""
from __future__ import annotations

import shutil
import time
from types import SimpleNamespace

import pytest

from sources import af, http, kolada, pxweb, ted


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Every back-off wait of ``sources.http.request``, recorded instead of slept; the sources'
    own pauses between calls are skipped; every request times out after 0.3 s."""
    recorded: list[float] = []
    monkeypatch.setattr(http, "time", SimpleNamespace(sleep=recorded.append, time=time.time))
    for module in (af, kolada, pxweb, ted):
        monkeypatch.setattr(module, "time", SimpleNamespace(sleep=lambda s: None, time=time.time))
    monkeypatch.setitem(http.request.__kwdefaults__, "timeout", 0.3)
    return recorded


@pytest.fixture
def published_home(demo_home, tmp_path):
    """A private copy of the demo home: a published warehouse that a bad file must leave alone."""
    home = tmp_path / "home"
    shutil.copytree(demo_home, home, ignore=shutil.ignore_patterns(".prefect", ".writer.lock"))
    return home
