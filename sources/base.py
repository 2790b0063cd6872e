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


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def refuse_utf16(data: bytes) -> None:
    """UTF-16 text (Excel's "Unicode text" export) is refused by name: with its NUL bytes removed
    it would half decode and fail later for a misleading reason (a "missing" first column)."""
    if data[:2] in UTF16_BOMS:
        raise ParseError("file is UTF-16 text (byte-order mark); save it as UTF-8")


def shown(text: str) -> str:
    """File content quoted in an error message: digit runs that could be personal identity numbers
    replaced by their length, at most 200 characters (``schemas.validate.redact``)."""
    from schemas.validate import redact
    return redact(text) or ""


def load_json(data: bytes):
    """Parse UTF-8 JSON (with or without a BOM); bad input is a one-line ParseError."""
    import json
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ParseError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
