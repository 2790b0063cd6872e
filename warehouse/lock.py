"""An OS file lock in the data home serialises writers (CLI and Prefect deployments alike)."""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".writer.lock"


class LockBusy(RuntimeError):
    pass


# flock locks belong to an open file: a second open in the same process would wait on itself, so
# nested use (refresh → build-marts → publish-report in one process) re-enters instead.
_held: dict[str, int] = {}


@contextmanager
def writer_lock(home: Path, wait_seconds: float = 600.0):
    """Hold the data home's writer lock; wait up to ``wait_seconds`` for another writer to finish.

    The lock is released by the OS when the process dies, so a kill -9 never leaves it stuck."""
    Path(home).mkdir(parents=True, exist_ok=True)
    path = Path(home) / LOCK_FILE
    key = str(path.resolve())
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    fh = open(path, "a+")
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "?"
                    raise LockBusy(f"another krafter writer holds {path} (pid {holder}); "
                                   f"waited {wait_seconds:.0f}s") from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        _held[key] = 1
        yield
    finally:
        _held.pop(key, None)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        finally:
            fh.close()
