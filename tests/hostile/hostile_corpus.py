"""Builders of hostile bytes for tests/hostile (generated in the tests, never committed)."""
from __future__ import annotations

import io
import json
import socket
import tempfile
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

from schemas.prepare import prepare
from sources import registry

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sources" / "samples"
BOLAGSVERKET_ZIP = SAMPLES / "bolagsverket" / "bolagsverket_bulkfil.zip"
SCB_ZIP = SAMPLES / "scb-register" / "scb_bulkfil.zip"
TED_NOTICE = SAMPLES / "ted" / "00035018-2025.xml"
PXWEB_SAMPLE = SAMPLES / "pxweb" / "TAB6260_bas_manad.json"
KOLADA_SAMPLE = SAMPLES / "kolada" / "kolada_N03926.json"

PERSONNUMMER = "19800101-1234"          # shape of a personal identity number (not a real one)
HTML_ERROR = (b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>"
              b"<body><h1>Tekniskt fel</h1><p>F\xc3\xb6rs\xc3\xb6k igen senare.</p></body></html>\n")


def zip_of(members: dict[str, bytes], *, zeros: tuple[str, int] | None = None) -> bytes:
    """A zip of ``members``; ``zeros=(name, megabytes)`` adds a member of that many MB of zero
    bytes, streamed into the archive (a zip bomb in miniature)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if zeros:
            name, mb = zeros
            block = b"\0" * (1 << 20)
            with zf.open(name, "w", force_zip64=mb >= 4096) as fh:
                for _ in range(mb):
                    fh.write(block)
    return buf.getvalue()


def bolagsverket_text() -> bytes:
    with zipfile.ZipFile(BOLAGSVERKET_ZIP) as zf:
        return zf.read("bolagsverket_bulkfil.txt")


def jsonstat_doc(regions: list[str], sexes: list[str], periods: list[str], values, **extra) -> dict:
    """A TAB6471 (monthly population) JSON-stat 2.0 document: Region × Kon × Alder(TotSA) ×
    ContentsCode(000007SF) × Tid, row-major."""
    dims = [("Region", regions), ("Kon", sexes), ("Alder", ["TotSA"]), ("ContentsCode", ["000007SF"]),
            ("Tid", periods)]
    doc = {"version": "2.0", "class": "dataset", "id": [d for d, _ in dims],
           "size": [len(c) for _, c in dims],
           "dimension": {d: {"category": {"index": {c: i for i, c in enumerate(codes)}}} for d, codes in dims},
           "value": values, "extension": {"px": {"tableid": "TAB6471"}}, "updated": "2026-01-31T08:00:00Z"}
    doc["dimension"]["ContentsCode"]["category"]["label"] = {"000007SF": "Folkmängden per månad"}
    doc.update(extra)
    return doc


def as_json(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def prepared(source_id: str, data: bytes, name: str):
    """``schemas.prepare.prepare`` on bytes (parse + validate, as an ingest does; a streamed source's
    blocks gathered), nothing written but a temporary copy of the bytes for the streamed sources."""
    path = Path(tempfile.mkdtemp(prefix="krafter-hostile-")) / name
    path.write_bytes(data)
    snap = SimpleNamespace(read=lambda: data, name=name, path=path, id=f"{source_id}:test")
    return prepare(registry.get(source_id), snap).collect()


def one_line(message: str) -> str:
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert "Traceback" not in message
    return message


class ResettingServer:
    """A TCP server that reads each request and then closes the connection abruptly (RST, via
    SO_LINGER 0) for the first ``resets`` connections, then answers ``then`` (raw HTTP bytes)."""

    def __init__(self, resets: int = 10 ** 6, then: bytes | None = None):
        self.resets, self.then, self.connections = resets, then, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                except OSError:
                    pass
                self.connections += 1
                if self.connections <= self.resets or self.then is None:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                else:
                    conn.sendall(self.then)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def http_response(body: bytes, content_type: str = "application/octet-stream") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body
