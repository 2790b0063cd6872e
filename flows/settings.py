"""Where the data home is: ``--home``, else ``$KRAFTER_HOME``, else ``./data``."""
from __future__ import annotations

import os
from pathlib import Path


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    return Path(home or os.environ.get("KRAFTER_HOME") or "data").resolve()


def prefect_home_for(home: Path) -> None:
    """``PREFECT_HOME`` lives under the data home unless the operator set it (call before importing prefect)."""
    os.environ.setdefault("PREFECT_HOME", str(Path(home) / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
