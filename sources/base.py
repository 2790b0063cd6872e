"""The small surface every source module shares."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Fetched:
    """Raw bytes from a provider (or a local file) before they become a snapshot."""
    data: bytes
    ext: str
    url: str | None = None
    query: str | None = None
    http_status: int | None = None
    name: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FetchContext:
    """What a live fetch needs to know. ``base_url`` overrides the provider's (tests point it at a
    local server replaying recorded responses)."""
    region: str = "05"
    since: date | None = None
    base_url: str | None = None
    known: frozenset[str] = frozenset()   # sha256 of snapshots already stored
    known_names: frozenset[str] = frozenset()   # names of stored snapshots (e.g. TED publication
                                                 # numbers): a resumed fetch skips these downloads
    etag: str | None = None
    last_modified: str | None = None


class ParseError(ValueError):
    """Bad input: the message is one line naming what is wrong; callers add source and snapshot."""
