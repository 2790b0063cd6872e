"""Content-addressed store of raw snapshots: ``raw/<source>/<sha256>.<ext>`` plus a sidecar
``<sha256>.sidecar.json``.

The same bytes are stored once; storing them again only returns the existing snapshot. The sidecar
says where the bytes came from (URL, query, HTTP status, fetched at), their licence and whether they
are ``captured`` from the provider or ``synthetic`` (bundled samples, test fixtures).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path


SIDECAR = ".sidecar.json"
COPY_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Snapshot:
    source: str
    sha256: str
    ext: str
    path: Path
    fetched_at: str
    kind: str = "captured"                  # captured | synthetic
    url: str | None = None
    query: str | None = None
    http_status: int | None = None
    licence: str | None = None
    name: str | None = None                 # original file name, when there was one
    size: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Short id used in lineage columns and messages."""
        return f"{self.source}:{self.sha256[:12]}"

    def read(self) -> bytes:
        return self.path.read_bytes()

    def sidecar(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_atomic(path: Path, data: bytes | Path) -> None:
    """Write ``data`` (bytes, or the file at that path, copied in blocks) to ``path``: fsynced, renamed."""
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        if isinstance(data, Path):
            with open(data, "rb") as src:
                shutil.copyfileobj(src, fh, COPY_BLOCK)
        else:
            fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _sha256_of(data: bytes | Path) -> tuple[str, int]:
    if not isinstance(data, Path):
        return hashlib.sha256(data).hexdigest(), len(data)
    h, size = hashlib.sha256(), 0
    with open(data, "rb") as fh:
        while buf := fh.read(COPY_BLOCK):
            h.update(buf)
            size += len(buf)
    return h.hexdigest(), size


class SnapshotStore:
    def __init__(self, home: Path):
        self.root = Path(home) / "raw"

    def put(self, source: str, data: bytes | Path, ext: str, *, kind: str = "captured",
            url: str | None = None, query: str | None = None, http_status: int | None = None,
            licence: str | None = None, name: str | None = None,
            extra: dict | None = None) -> tuple[Snapshot, bool]:
        """Store ``data`` (bytes, or a local file, which is hashed and copied in blocks, never read
        whole); returns the snapshot and whether it is new."""
        sha, size = _sha256_of(data)
        ext = ext.lstrip(".")
        folder = self.root / source
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{sha}.{ext}"
        meta_path = folder / f"{sha}{SIDECAR}"
        if path.exists() and meta_path.exists():
            return self._from_sidecar(meta_path), False
        _write_atomic(path, data)
        snap = Snapshot(source=source, sha256=sha, ext=ext, path=path, fetched_at=_now(), kind=kind,
                        url=url, query=query, http_status=http_status, licence=licence, name=name,
                        size=size, extra=extra or {})
        _write_atomic(meta_path, json.dumps(snap.sidecar(), ensure_ascii=False, indent=1).encode())
        return snap, True

    def _from_sidecar(self, meta_path: Path) -> Snapshot:
        d = json.loads(meta_path.read_text())
        d["path"] = meta_path.parent / f"{d['sha256']}.{d['ext']}"
        return Snapshot(**d)

    def get(self, source: str, sha256: str) -> Snapshot:
        return self._from_sidecar(self.root / source / f"{sha256}{SIDECAR}")

    def list(self, source: str) -> list[Snapshot]:
        """Snapshots of a source, oldest first."""
        folder = self.root / source
        if not folder.exists():
            return []
        snaps = [self._from_sidecar(p) for p in folder.glob(f"*{SIDECAR}")]
        return sorted(snaps, key=lambda s: (s.fetched_at, s.sha256))

    def prune(self, source: str, keep: int, protect: set[str] = frozenset()) -> list[str]:
        """Retention: keep the newest ``keep`` snapshots (and any in ``protect``); returns removed sha256s."""
        snaps = self.list(source)
        doomed = [s for s in snaps[:-keep] if s.sha256 not in protect] if keep > 0 else []
        for s in doomed:
            s.path.unlink(missing_ok=True)
            (self.root / source / f"{s.sha256}{SIDECAR}").unlink(missing_ok=True)
        return [s.sha256 for s in doomed]
