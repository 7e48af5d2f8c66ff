"""The store's costs as history and collections grow, measured side by side in one run.

Run: ``.venv/bin/python benchmarks/bench_store.py [--repeats N]``. Everything lives
in one temporary folder on one disk; each pair is measured alternately and
compared by medians:

1. saving one finished run (``ws.runs.save``) with 10,000 runs stored ÷ with
   100 stored. Goal ≤ 1.5.
2. saving one run ÷ one fsync'd JSON-lines append of the same record (the
   least a durable write can cost). Goal ≤ 5.
3. listing the 20 newest runs (``ws.runs.list()``, whole `Run` objects) with
   10,000 stored ÷ with 100. Goal ≤ 2.
4. a one-node run (``ws.run``, inline) in a workspace holding 2.5 MB of saved
   workflows ÷ in a workspace holding only that one. Goal ≤ 1.5. For
   reference, the same with the workflows in one file (the layout before:
   every run parsed them all).
5. listing the 20 newest runs (``ws.runs.listing()``) whose results are 2 MB
   each ÷ 200 KB each: peak memory (goal ≤ 1.5: flat); for reference, the
   peak of ``ws.runs.list()``, which loads each whole run; the time of a
   listing with 2 MB results ÷ small ones (report: each listed file is checked
   against its checksum), and of listing again in the same process.
6. opening a workspace holding 1,000 integrations and 1,000 workflows and
   listing both (absolute ms, in this process and in a fresh one).
7. a cold ``flowkit --help`` ÷ ``python -c pass`` (absolute ms too).
8. for reference, what the store replaced: one insert into a default
   ``TinyDB`` JSON file with 10,000 documents ÷ with 100.

The stored histories are written directly in the store's layout (checksummed
run file + index line per run) rather than through 10,000 durable saves, which
would only make the set-up slow; the measured operations go through the public API.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchkit import bench_workspace

import flowkit as fk
from flowkit import jsonvalue
from flowkit.model import new_run_id
from flowkit.store import FileStore, dumps_checksummed


def sample_run(workflow: str = "Nightly report", nodes: int = 10) -> fk.Run:
    """A finished run of a typical size: ten nodes with small results."""
    run = fk.Run(workflow=workflow, inputs={"day": "2026-01-01", "team": "ops"}, status="success")
    for i in range(nodes):
        run.nodes[f"step_{i}"] = fk.NodeRun(
            f"step_{i}",
            status="success",
            attempts=1,
            started_at=run.started_at + i,
            finished_at=run.started_at + i + 0.25,
            params={"channel": "#ops", "n": i},
            result={"success": True, "message": f"step {i} done", "items": list(range(20))},
        )
    run.finished_at = run.started_at + nodes
    return run


def fill_history(ws: fk.Workspace, count: int, *, result_bytes: int = 0) -> None:
    """Store `count` finished runs in the RunStore layout: one checksummed file each plus an index line.

    Args:
        result_bytes: also give one node of each run a result this large.
    """
    folder = ws.store.runs.folder
    folder.mkdir(parents=True, exist_ok=True)
    template = sample_run()
    if result_bytes:
        template.nodes["step_0"].result = {"success": True, "message": "big", "data": "x" * result_bytes}
    lines = []
    for i in range(count):
        template.id = new_run_id()
        template.workflow = f"Workflow {i % 7}"
        (folder / f"{template.id}.json").write_bytes(dumps_checksummed(template.to_dict()))
        lines.append("\n" + jsonvalue.dumps(template.summary()) + "\n")
    with open(ws.store.runs.index_path, "a", encoding="utf-8") as index:
        index.write("".join(lines))


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def alternate(repeats: int, **actions: Callable[[], Any]) -> dict[str, float]:
    """Median seconds of each action, the actions taking turns so load changes hit all alike."""
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            samples[name].append(timed(action))
    return {name: statistics.median(values) for name, values in samples.items()}


def fsync_append(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def measure_runs(root: Path, repeats: int) -> list[tuple[str, float, str, str]]:
    small, large = fk.Workspace(root / "runs-100"), fk.Workspace(root / "runs-10000")
    fill_history(small, 100)
    fill_history(large, 10_000)
    run = sample_run()
    line = (jsonvalue.dumps(run.to_dict()) + "\n").encode()
    baseline = root / "baseline.jsonl"

    def save(ws: fk.Workspace) -> Callable[[], None]:
        def action() -> None:
            run.id = new_run_id()
            ws.runs.save(run)

        return action

    saves = alternate(repeats * 3, small=save(small), large=save(large), append=lambda: fsync_append(baseline, line))
    lists = alternate(repeats * 3, small=lambda: small.runs.list(limit=20), large=lambda: large.runs.list(limit=20))
    assert len(large.runs.list(limit=20)) == 20
    return [
        (
            "save a run: 10,000 stored ÷ 100 stored",
            saves["large"] / saves["small"],
            "≤ 1.5",
            f"{saves['large'] * 1e3:.2f} ms vs {saves['small'] * 1e3:.2f} ms",
        ),
        (
            "save a run ÷ fsync'd JSON-lines append",
            saves["large"] / saves["append"],
            "≤ 5",
            f"{saves['large'] * 1e3:.2f} ms vs {saves['append'] * 1e3:.2f} ms",
        ),
        (
            "list 20 newest runs: 10,000 stored ÷ 100",
            lists["large"] / lists["small"],
            "≤ 2",
            f"{lists['large'] * 1e3:.2f} ms vs {lists['small'] * 1e3:.2f} ms",
        ),
    ]


NOOP = """
def noop(credentials, params):
    return {"success": True, "message": "ok"}
"""


def measure_workflows(root: Path, repeats: int) -> list[tuple[str, float, str, str]]:
    """A one-node run beside 2.5 MB of other saved workflows, and in a workspace holding only its own."""
    empty, full = bench_workspace(root / "wf-empty", NOOP), bench_workspace(root / "wf-full", NOOP)
    for ws in (empty, full):
        one = fk.Workflow("one")
        one.add_node("only", integration="Bench", task="noop")
        ws.workflows.save(one)
    for i in range(50):
        other = fk.Workflow(f"Other {i}", "sixty nodes of 700-byte params")
        for n in range(60):
            other.add_node(f"n{n}", integration="Bench", task="noop", params={"text": f"{n} " + "x" * 700})
        full.store.upsert("workflows", {**other.to_dict(), "version": 1})  # saved as ws.workflows.save does
    saved = sum(path.stat().st_size for path in full.path.joinpath("workflows").iterdir())
    # The layout before: every workflow in one file, which each run parsed and checksummed whole.
    single = fk.Workspace(full.path, store=FileStore(full.path, folders=()))
    with single.store.locked():
        docs = {str(i + 1): doc for i, doc in enumerate(full.store.all("workflows"))}
        single.store.path("workflows").write_bytes(dumps_checksummed({"_default": docs}))

    def run(ws: fk.Workspace) -> Callable[[], None]:
        return lambda: ws.run("one", executor="inline")

    for ws in (empty, full, single):
        run(ws)()  # warm: the module loaded, the key read
    times = alternate(repeats * 3, empty=run(empty), full=run(full), single=run(single))
    return [
        (
            f"one-node run: {saved / 1e6:.1f} MB of workflows saved ÷ none",
            times["full"] / times["empty"],
            "≤ 1.5",
            f"{times['full'] * 1e3:.2f} ms vs {times['empty'] * 1e3:.2f} ms",
        ),
        (
            "reference: the same, workflows in one file (before)",
            times["single"] / times["empty"],
            "reference",
            f"{times['single'] * 1e3:.2f} ms",
        ),
    ]


def peak_bytes(action: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure_listing(root: Path, repeats: int) -> list[tuple[str, float, str, str]]:
    """Listing the 20 newest runs as their results grow: peak memory, and time in a fresh process state."""
    sizes = {"small": 0, "200 KB": 200_000, "2 MB": 2_000_000}
    paths = {name: root / f"list-{index}" for index, name in enumerate(sizes)}
    for name, size in sizes.items():
        fill_history(fk.Workspace(paths[name]), 20, result_bytes=size)

    def cold(name: str) -> Callable[[], Any]:
        # A new Workspace each time: nothing checked before is remembered.
        return lambda: fk.Workspace(paths[name]).runs.listing(limit=20)

    assert len(cold("2 MB")().runs) == 20
    peaks = {name: statistics.median(peak_bytes(cold(name)) for _ in range(3)) for name in sizes}
    whole = peak_bytes(lambda: fk.Workspace(paths["2 MB"]).runs.list(limit=20))
    times = alternate(repeats, **{name: cold(name) for name in sizes})
    again = fk.Workspace(paths["2 MB"])
    again.runs.listing(limit=20)
    warm = alternate(repeats, small=cold("small"), again=lambda: again.runs.listing(limit=20))
    return [
        (
            "runs listing, 20 runs: 2 MB results ÷ 200 KB, peak memory",
            peaks["2 MB"] / peaks["200 KB"],
            "≤ 1.5",
            f"{peaks['2 MB'] / 1e6:.2f} MB vs {peaks['200 KB'] / 1e6:.2f} MB (small results: "
            f"{peaks['small'] / 1e6:.2f} MB)",
        ),
        (
            "reference: ws.runs.list() (whole runs), 2 MB results, peak",
            whole / 1e6,
            "MB",
            "what listing from the index avoids",
        ),
        (
            "runs listing, 20 runs: 2 MB results ÷ small, time",
            times["2 MB"] / times["small"],
            "report",
            f"{times['2 MB'] * 1e3:.1f} ms vs {times['small'] * 1e3:.1f} ms (each file checked in chunks)",
        ),
        (
            "the same listed again in one process ÷ small, first time",
            warm["again"] / warm["small"],
            "report",
            f"{warm['again'] * 1e3:.2f} ms (files found whole are not read again)",
        ),
    ]


def fill_collections(ws: fk.Workspace, count: int) -> None:
    """`count` encrypted integrations and `count` five-node workflows, written in one transaction each."""
    ws.types.create("demo", params=[fk.Param("token", kind="password", required=True)], check_module=False)
    ring = ws.keyring(create=True)
    integrations = []
    for i in range(count):
        token, key_id = ring.encrypt({"token": f"token-{i:06d}-" + "x" * 40})
        integrations.append(
            {"name": f"Integration {i}", "type": "demo", "fields": ["token"], "secret": token, "key_id": key_id}
        )
    workflows = []
    for i in range(count):
        wf = fk.Workflow(f"Workflow {i}", "Five steps")
        for n in range(5):
            wf.add_node(
                f"step_{n}",
                integration=f"Integration {(i + n) % count}",
                task="ping",
                params={"text": f"{{{{ inputs.who }}}} {n}", "n": n},
            )
            if n:
                wf.connect(f"step_{n - 1}", f"step_{n}")
        workflows.append({**wf.to_dict(), "version": 1})
    with ws.store.locked():  # written in the store's layout, as fill_history does for runs
        table = {str(i + 1): doc for i, doc in enumerate(integrations)}
        ws.store.path("integrations").write_bytes(dumps_checksummed({"_default": table}))
        for doc in workflows:
            ws.store.upsert("workflows", doc)


def measure_open(root: Path, repeats: int) -> list[tuple[str, float, str, str]]:
    path = root / "collections"
    fill_collections(fk.Workspace(path), 1_000)

    def open_and_list() -> None:
        ws = fk.Workspace(path)
        assert len(ws.integrations.list()) == 1_000
        assert len(ws.workflows.list()) == 1_000

    times = alternate(repeats, open=lambda: fk.Workspace(path), open_and_list=open_and_list)
    code = (
        f"import flowkit as fk; ws = fk.Workspace({str(path)!r}); "
        "assert len(ws.integrations.list()) == 1000 and len(ws.workflows.list()) == 1000"
    )
    cold = statistics.median(
        timed(lambda: subprocess.run([sys.executable, "-c", code], check=True)) for _ in range(max(3, repeats // 2))
    )
    size = sum(p.stat().st_size for p in path.glob("**/*.json")) / 1e6
    return [
        ("open a workspace (Workspace(path))", times["open"] * 1e3, "ms", ""),
        (
            "open + list 1,000 integrations and 1,000 workflows",
            times["open_and_list"] * 1e3,
            "ms",
            f"{size:.1f} MB of JSON",
        ),
        ("the same in a fresh process (import included)", cold * 1e3, "ms", ""),
    ]


def measure_cli(repeats: int) -> list[tuple[str, float, str, str]]:
    script = str(Path(sys.executable).with_name("flowkit"))
    times = alternate(
        repeats,
        help=lambda: subprocess.run([script, "--help"], check=True, capture_output=True),
        bare=lambda: subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True),
    )
    return [
        (
            "cold `flowkit --help` ÷ `python -c pass`",
            times["help"] / times["bare"],
            "report",
            f"{times['help'] * 1e3:.0f} ms vs {times['bare'] * 1e3:.0f} ms",
        )
    ]


def measure_tinydb(root: Path, repeats: int) -> list[tuple[str, float, str, str]]:
    from tinydb import TinyDB

    def database(count: int) -> TinyDB:
        db = TinyDB(root / f"tinydb-{count}.json")
        db.insert_multiple(sample_run().summary() | {"n": i} for i in range(count))
        return db

    small, large = database(100), database(10_000)
    doc = sample_run().summary()
    times = alternate(repeats, small=lambda: small.insert(doc), large=lambda: large.insert(doc))
    return [
        (
            "reference: default TinyDB insert, 10,000 docs ÷ 100",
            times["large"] / times["small"],
            "reference",
            f"{times['large'] * 1e3:.2f} ms vs {times['small'] * 1e3:.2f} ms (what RunStore avoids)",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="samples per measurement (×3 for run saves)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowkit-bench-") as folder:
        root = Path(folder)
        os.environ["FLOWKIT_CONFIG_DIR"] = str(root / "config")  # a throwaway key, never the user's
        os.environ.pop("FLOWKIT_SECRET_KEY", None)
        started = time.perf_counter()
        rows = measure_runs(root, args.repeats)
        rows += measure_workflows(root, args.repeats)
        rows += measure_listing(root, args.repeats)
        rows += measure_open(root, args.repeats)
        rows += measure_cli(args.repeats)
        rows += measure_tinydb(root, max(3, args.repeats // 3))
        elapsed = time.perf_counter() - started
    width = max(len(row[0]) for row in rows)
    print(f"flowkit store benchmark — medians, {args.repeats} repeats, {os.cpu_count()} CPUs, in {elapsed:.0f} s")
    print(f"{'measure'.ljust(width)}  {'value':>9}  goal / unit  detail")
    for name, value, goal, detail in rows:
        print(f"{name.ljust(width)}  {value:9.2f}  {goal:<11}  {detail}")


if __name__ == "__main__":
    main()
