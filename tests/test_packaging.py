"""The installed package carries every file the code reads at run time (a wheel install, not only
an editable one): each data file under a package folder is matched by pyproject's package-data."""
from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _matches(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.replace("**/", "")) for p in patterns)


def _files(packages: list[str]) -> list[str]:
    """The repository's files (git's list; without git, every file below the package folders)."""
    try:
        return subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return [str(f.relative_to(ROOT)) for p in packages for f in (ROOT / p).rglob("*")
                if f.is_file() and "__pycache__" not in f.parts]


def test_every_data_file_of_a_package_is_declared_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    package_data: dict[str, list[str]] = config["package-data"]
    packages = [p.rstrip("*") for p in config["packages"]["find"]["include"]]
    tracked = _files(packages)
    missing = []
    for path in tracked:
        top, _, rest = path.partition("/")
        if top not in packages or not rest or path.endswith(".py") or Path(path).name == "README.md":
            continue
        if not _matches(rest, package_data.get(top, [])):
            missing.append(path)
    assert missing == []
    # the files the warehouse needs are among them
    assert _matches("published/views_and_comments.sql", package_data["transforms"])
    assert _matches("migrations/001_meta.sql", package_data["warehouse"])
