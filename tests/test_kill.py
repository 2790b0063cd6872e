"""kill -9 at every named point of a refresh (DESIGN §3 "a crash at any point leaves the published
file intact; the next run cleans up and succeeds", §8 "Atomic").

Each case copies one reference home that already holds a complete published warehouse (version N,
built from the bundled samples), then runs the step "ingest a changed wise.csv, then marts and
report" (the body of ``flows.refresh.ingest_file``) in a subprocess with ``KRAFTER_KILL_AT=<point>``.
That step passes every point in ``warehouse.faults.POINTS``. The extra wise row marks an award
winner as a work-integration social enterprise, so the ingest lands new data and the marts values
really change (checked once, in ``uninterrupted``).

The step runs without the Prefect flow wrapper (``ingest_source.fn`` + ``run_chain``: the stage
functions need no Prefect server); event emission, the run artifact and the headless-Chromium PNGs
are stubbed out to keep a case to a few seconds. The killed run and the recovery run of a case are
processes forked from a server that has the imports done (``ForkServer``); the reference home and
the uninterrupted run use fresh interpreters. The cases run two at a time, started by the module
fixture; every test then asserts on the facts its own case recorded.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from warehouse.faults import POINTS

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sources" / "samples"
WORKERS = 2                 # the machine has two cores
MARTS_QUERY = "SELECT * EXCLUDE (computed_at) FROM marts.indicator_value ORDER BY ALL"
# A valid org number that wins an award in the TED samples (Mjölby Måleri HB, private): listing it
# as a WISE makes it idea-based, so sc_ideburen_* values change.
EXTRA_WISE_ROW = '969100-0096,"Mjölby Måleri HB",curated (test),2026-02-01\n'

# The step under test. ``step(argv)`` with argv = HOME (--samples | SOURCE PATH) is the body of
# ``flows.refresh.ingest_file`` (or of the demo, with --samples) without the Prefect wrappers.
STEP = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import flows.events as events
    import flows.refresh as refresh
    import publish.report as report
    events.emit = lambda *a, **k: None                 # no Prefect API in this process
    refresh._artifact = lambda summary: None
    report._render_pngs = lambda jobs, cache: False    # headless Chromium: not under test here
    from flows.ingest import ingest_source, sample_files
    from sources import registry
    from warehouse.lock import writer_lock

    def step(argv):
        home = Path(argv[0])
        print("pid", os.getpid(), flush=True)
        with writer_lock(home):
            if argv[1] == "--samples":
                results = [ingest_source.fn(str(home), s.id, [str(f) for f in sample_files(s.id)],
                                            kind="synthetic") for s in registry.select(None) if sample_files(s.id)]
            else:
                results = [ingest_source.fn(str(home), argv[1], [argv[2]], kind="captured")]
            summary = refresh.run_chain(home, results, county="05")
        bad = [r.message for r in results if r.status not in ("loaded", "unchanged")]
        print("done", summary.marts.status, summary.marts.version, bad, flush=True)
        return 1 if bad else 0
""")
SCRIPT = STEP + "\nsys.exit(step(sys.argv[1:]))\n"

# The kill cases fork their step from a server that imported everything once (the imports take
# longer than most steps). The child is an ordinary process that SIGKILLs itself at the point; the
# server imported modules only (no thread, no open file, no database), so the child starts clean.
FORK_SERVER = STEP + textwrap.dedent("""
    import json, traceback
    print("ready", flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
                os.dup2(os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
                os.environ.update(req["env"])
                code = step(req["args"])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)
""")


def subprocess_env(tmp: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRAFTER_", "PREFECT_API"))}
    env.update(PYTHONPATH=str(REPO), PREFECT_HOME=str(tmp / "prefect-home"), DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.update(extra)
    return env


def run_step(home: Path, *args: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    """The step in a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", SCRIPT, str(home), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


class ForkServer:
    """Runs the step in forked children of one interpreter that has the imports done."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.proc = subprocess.Popen([sys.executable, "-c", FORK_SERVER], cwd=REPO, env=subprocess_env(tmp),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.n = 0

    def run(self, home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        self.n += 1
        out, err = self.tmp / f"step-{self.n}.out", self.tmp / f"step-{self.n}.err"
        self.proc.stdin.write(json.dumps({"args": [str(home), *args], "env": env or {},
                                          "out": str(out), "err": str(err)}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "fork server died"
        return subprocess.CompletedProcess(args, json.loads(line)["returncode"], out.read_text(), err.read_text())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def reference_home(tmp_path_factory) -> Path:
    """A data home with version 1 published from the bundled samples, built once per session
    (shared with tests/test_concurrency.py through the session's base temp directory)."""
    ref = tmp_path_factory.getbasetemp() / "krafter-reference-home"
    if not (ref / "warehouse.duckdb").exists():
        shutil.rmtree(ref, ignore_errors=True)
        tmp = tmp_path_factory.mktemp("reference-build")
        r = run_step(ref, "--samples", env=subprocess_env(tmp))
        assert r.returncode == 0, r.stderr[-3000:]
        assert published_version(ref) == 1
    return ref


def changed_wise(folder: Path) -> Path:
    """The bundled wise.csv with one extra valid row."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "wise.csv"
    path.write_text((SAMPLES / "wise" / "wise.csv").read_text(encoding="utf-8") + EXTRA_WISE_ROW,
                    encoding="utf-8")
    return path


def copy_home(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".prefect", ".writer.lock"))
    return dst


def published_version(home: Path) -> int:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT version FROM meta.warehouse_info").fetchall()[0][0]
    finally:
        con.close()


def marts_digest(con) -> str:
    rows = con.execute(MARTS_QUERY).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@dataclass
class State:
    """What a test needs to know about a home at one moment."""
    version: int | None = None
    digest: str | None = None
    error: str | None = None              # the published file did not open read-only / query
    manifest_version: int | None = None
    built_versions: int | None = None     # max(meta.marts_build.build_id) in work.duckdb
    wise_loads: int | None = None         # loaded wise batches in the ledger
    wise_snapshots: int = 0               # raw wise snapshots stored
    strays: list[str] = field(default_factory=list)
    report_error: str | None = None       # the latest report does not show the published version
    lock_holder: str = ""


def strays(home: Path) -> list[str]:
    found = [p for p in home.rglob("*") if p.name.endswith(".part") or p.name.startswith("warehouse.next.duckdb")]
    return sorted(str(p.relative_to(home)) for p in found)


def report_error(home: Path, version: int | None) -> str | None:
    """None when report/index.html is the latest edition's page and that edition was built from
    the published warehouse version."""
    index = home / "report" / "index.html"
    editions = sorted(p for p in (home / "report" / "editions").glob("*") if p.is_dir() and "." not in p.name)
    if not index.exists() or not editions:
        return "no report"
    latest = editions[-1]
    meta = json.loads((latest / "manifest.json").read_text(encoding="utf-8"))
    if meta["warehouse_version"] != version:
        return f"latest edition {latest.name} shows version {meta['warehouse_version']}, published is {version}"
    page = (latest / "index.html").read_text(encoding="utf-8")
    if index.read_text(encoding="utf-8") != page.replace('href="tables/', f'href="editions/{latest.name}/tables/'):
        return f"report/index.html is not edition {latest.name}'s page"
    return None


def observe(home: Path) -> State:
    s = State()
    try:
        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        try:
            s.version = con.execute("SELECT version FROM meta.warehouse_info").fetchall()[0][0]
            s.digest = marts_digest(con)
        finally:
            con.close()
    except Exception as exc:  # recorded, asserted by the test
        s.error = f"{type(exc).__name__}: {exc}"
    manifest = home / "manifest.json"
    if manifest.exists():
        s.manifest_version = (json.loads(manifest.read_text(encoding="utf-8")).get("warehouse") or {}).get("version")
    work = duckdb.connect(str(home / "work.duckdb"), read_only=True)
    try:
        s.built_versions = work.execute("SELECT max(build_id) FROM meta.marts_build").fetchall()[0][0]
        s.wise_loads = work.execute("SELECT count(*) FROM meta.loads WHERE source = 'wise' "
                                    "AND status = 'loaded'").fetchall()[0][0]
    finally:
        work.close()
    s.wise_snapshots = len([p for p in (home / "raw" / "wise").glob("*") if not p.name.endswith(".json")])
    s.strays = strays(home)
    s.report_error = report_error(home, s.version)
    lock = home / ".writer.lock"
    s.lock_holder = lock.read_text().strip() if lock.exists() else ""
    return s


@dataclass
class Case:
    point: str
    before: State
    kill: subprocess.CompletedProcess
    after_kill: State
    recovery: subprocess.CompletedProcess
    after_recovery: State
    lock_free: bool


def run_case(servers: queue.Queue, point: str, ref: Path, root: Path, wise: Path) -> Case:
    home = copy_home(ref, root / point / "home")
    before = observe(home)
    server = servers.get()
    try:
        kill = server.run(home, "wise", str(wise), env={"KRAFTER_KILL_AT": point})
        after_kill = observe(home)
        recovery = server.run(home, "wise", str(wise))
    finally:
        servers.put(server)
    after_recovery = observe(home)
    with open(home / ".writer.lock", "a+") as fh:    # nobody holds the writer lock any more
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            lock_free = True
        except BlockingIOError:
            lock_free = False
    return Case(point, before, kill, after_kill, recovery, after_recovery, lock_free)


@pytest.fixture(scope="module")
def wise_file(tmp_path_factory) -> Path:
    return changed_wise(tmp_path_factory.mktemp("kill-input"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, State]:
    ref = reference_home(tmp_path_factory)
    return ref, observe(ref)


@pytest.fixture(scope="module")
def uninterrupted(reference, wise_file, tmp_path_factory) -> State:
    """The same step, same inputs, on another copy, never killed: what every recovery converges to."""
    ref, old = reference
    root = tmp_path_factory.mktemp("kill-uninterrupted")
    home = copy_home(ref, root / "home")
    r = run_step(home, "wise", str(wise_file), env=subprocess_env(root))
    assert r.returncode == 0, r.stderr[-3000:]
    new = observe(home)
    assert new.version == old.version + 1 and new.error is None
    assert new.digest != old.digest, "the changed wise.csv must change the marts values"
    assert new.strays == [] and new.report_error is None
    return new


@pytest.fixture(scope="module")
def cases(request, reference, wise_file, tmp_path_factory):
    """Start the selected kill cases two at a time; each test waits for its own."""
    ref, _ = reference
    selected = [item.callspec.params["point"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec") and "point" in item.callspec.params]
    root = tmp_path_factory.mktemp("kill-cases")
    servers: queue.Queue = queue.Queue()
    started = [ForkServer(tmp_path_factory.mktemp("fork-server")) for _ in range(WORKERS)]
    for server in started:
        servers.put(server)
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    futures = {p: pool.submit(run_case, servers, p, ref, root, wise_file) for p in dict.fromkeys(selected)}
    yield lambda point: futures[point].result(timeout=900)
    pool.shutdown(wait=True, cancel_futures=True)
    for server in started:
        server.close()


class StaleReport(AssertionError):
    """The report does not follow the published warehouse after the recovery run."""


# After a kill at these points the new warehouse is already in place (the rename happened):
# the last complete version is the new one, N + 1. At every other point it is still N.
SWAPPED = {"after-swap", "mid-report", "before-report-index"}

# Evidence that the kill really happened where its name says (State after the kill, reference N).
EVIDENCE = {
    "before-snapshot": lambda s, n: s.wise_snapshots == n.wise_snapshots,
    "after-snapshot": lambda s, n: s.wise_snapshots == n.wise_snapshots + 1 and s.wise_loads == n.wise_loads,
    "mid-load": lambda s, n: s.wise_snapshots == n.wise_snapshots + 1 and s.wise_loads == n.wise_loads,
    "after-load": lambda s, n: s.wise_loads == n.wise_loads + 1 and s.built_versions == n.built_versions,
    "mid-build": lambda s, n: s.wise_loads == n.wise_loads + 1 and s.built_versions == n.built_versions,
    "after-build": lambda s, n: s.built_versions == n.built_versions + 1 and not s.strays,
    "mid-publish": lambda s, n: "warehouse.next.duckdb" in s.strays,
    "before-swap": lambda s, n: "warehouse.next.duckdb" in s.strays,
    "after-swap": lambda s, n: s.manifest_version == n.version and "warehouse.next.duckdb" not in s.strays,
    "mid-report": lambda s, n: any(p.startswith("report/editions/") and p.endswith(".part") for p in s.strays),
    "before-report-index": lambda s, n: s.report_error is not None and not s.strays,
}
assert set(EVIDENCE) == set(POINTS)


@pytest.mark.parametrize("point", [pytest.param(p, id=p)
                                   for p in POINTS])
def test_kill_minus_nine_keeps_the_last_complete_warehouse_and_the_next_run_converges(
        point, cases, reference, uninterrupted):
    _, n = reference
    case = cases(point)
    assert case.before.version == n.version and case.before.digest == n.digest

    # 1. the process died by SIGKILL at the point, not by an error
    assert case.kill.returncode == -9, case.kill.stderr[-3000:]
    assert EVIDENCE[point](case.after_kill, n), (point, case.after_kill)

    # 2. the published warehouse opens read-only and is the last complete version, values included
    s = case.after_kill
    assert s.error is None, s.error
    last_complete = uninterrupted if point in SWAPPED else n
    assert s.version == last_complete.version
    assert s.digest == last_complete.digest

    # 3. the same step again succeeds and converges on the uninterrupted run's values
    assert case.recovery.returncode == 0, case.recovery.stderr[-3000:]
    r = case.after_recovery
    assert r.error is None, r.error
    assert r.digest == uninterrupted.digest
    # versions are never reused; a build recorded but not published (after-build … after-swap) is
    # rebuilt under the next number, so the recovered version is N + 1 or N + 2
    assert r.version in (n.version + 1, n.version + 2)
    assert r.manifest_version == r.version == r.built_versions       # krafter status agrees
    assert r.wise_loads == n.wise_loads + 1                           # landed exactly once

    # 4. nothing half-written is left, and the writer lock was taken by the recovery run and is free
    assert [p for p in r.strays if not p.startswith("report/")] == []
    recovery_pid = case.recovery.stdout.split()[1]
    assert r.lock_holder == recovery_pid
    assert case.lock_free

    # 5. the report follows the published warehouse, with no half-written edition left
    if r.report_error or r.strays:
        raise StaleReport(r.report_error or f"left behind: {r.strays}")
