"""Named points where the kill test stops the process with SIGKILL (``KRAFTER_KILL_AT=<point>``).

Production never sets the variable; the checks cost one dictionary lookup. The points cover the
whole refresh: before and after snapshotting, mid-load, mid-build, mid-publish and mid-report.
"""
from __future__ import annotations

import os
import signal

POINTS = (
    "before-snapshot",       # fetched bytes in memory, nothing stored yet
    "after-snapshot",        # raw snapshot stored, nothing parsed
    "mid-load",              # inside the staging transaction, data deleted and half inserted
    "after-load",            # staging committed, manifest not yet updated
    "mid-build",             # inside the core/marts transaction
    "after-build",           # work database built, nothing published
    "mid-publish",           # warehouse.next.duckdb half written
    "before-swap",           # next file complete and fsynced, not yet renamed
    "after-swap",            # new warehouse in place, manifest not yet updated
    "mid-report",            # report edition half written
    "before-report-index",   # edition complete, latest index not yet replaced
)
# points in the worker processes of a large batch (schemas.prepare): killing one there is a worker
# lost (out of memory, say), not the run
WORKER_POINTS = ("in-worker",)


def checkpoint(point: str) -> None:
    if os.environ.get("KRAFTER_KILL_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
