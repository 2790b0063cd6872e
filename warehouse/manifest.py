"""``<home>/manifest.json``: what ``krafter status`` reads instead of the (locked) databases."""
from __future__ import annotations

import json
import os
from pathlib import Path

MANIFEST_FILE = "manifest.json"


def read(home: Path) -> dict:
    path = Path(home) / MANIFEST_FILE
    if not path.exists():
        return {"sources": {}, "warehouse": None, "report": None}
    return json.loads(path.read_text(encoding="utf-8"))


def write(home: Path, manifest: dict) -> None:
    path = Path(home) / MANIFEST_FILE
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def update(home: Path, **sections) -> dict:
    """Merge top-level sections; ``sources`` entries merge key by key per source id."""
    manifest = read(home)
    for key, value in sections.items():
        if key == "sources":
            for source_id, entry in value.items():
                manifest.setdefault("sources", {}).setdefault(source_id, {}).update(entry)
        else:
            manifest[key] = value
    write(home, manifest)
    return manifest
