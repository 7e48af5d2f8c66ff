"""The Dask executor on one LocalCluster of 2 worker processes (started once for this module)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import pytest
from helpers import find_canary, scan_tree, write_integration

import flowkit as fk
from flowkit import jobs
from flowkit.errors import ExecutorError
from flowkit.executors import ThreadExecutor

distributed = pytest.importorskip("distributed")

from flowkit.executors.dask_executor import DaskExecutor, NodeCall  # noqa: E402

PROBE = """
    import logging
    import os
    import time
    from pathlib import Path

    def pid(credentials, params):
        start = time.time()
        time.sleep(params.get("sleep", 0))
        return {"success": True, "pid": os.getpid(), "start": start, "end": time.time()}

    def where(credentials, params):
        return {"success": True, "file": __file__, "version": 1}

    def flaky(credentials, params):
        counter = Path(params["counter"])
        count = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(count))
        if count < 3:
            raise RuntimeError(f"attempt {count} fails")
        return {"success": True, "message": f"ok on attempt {count}"}

    def boom(credentials, params):
        raise ValueError("it broke")

    def leak(credentials, params):
        token = credentials["token"]
        print("printing", token)
        logging.getLogger("probe").warning("logging %s", token)
        raise ValueError(f"raising {token}")

    def hang(credentials, params):
        Path(params["pidfile"]).write_text(str(os.getpid()))
        while True:
            time.sleep(0.05)

    def die(credentials, params):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)  # the whole worker process goes (os._exit is refused in a task)

    def gate(credentials, params):
        if not Path(params["flag"]).exists():
            return {"success": False, "message": "the flag file is missing"}
        return {"success": True, "message": "open"}
"""


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster, set_as_default=False)
    # Before any timed call: the workers are daemons, which multiprocessing forbids children.
    client.daemonic = set(client.run(lambda: multiprocessing.current_process().daemon).values())
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def executor(client: Any) -> Iterator[DaskExecutor]:
    executor = DaskExecutor(client)
    yield executor
    executor.shutdown()


def setup_probe(ws: fk.Workspace, token: str = "not-a-secret") -> None:
    write_integration(ws.path / "integrations", "probe", PROBE)
    ws.registry.reload()
    ws.types.create("probe", params=[fk.Param("token", kind="password")])
    ws.integrations.create("Probe", type="probe", credentials={"token": token})


def worker_pids(client: Any) -> set[int]:
    return set(client.run(os.getpid).values())


def summary(run: fk.Run) -> dict[str, tuple[str, int, str | None]]:
    return {name: (node.status, node.attempts, node.error) for name, node in run.nodes.items()}


# -- where calls run -------------------------------------------------------------------------
def test_nodes_run_in_worker_processes(ws: fk.Workspace, client: Any, executor: DaskExecutor) -> None:
    setup_probe(ws)
    wf = fk.Workflow("wide")
    for index in range(6):
        wf.add_node(f"n{index}", integration="Probe", task="pid", params={"sleep": 0.2})
    run = ws.run(wf, executor=executor)
    assert run.status == "success", run
    pids = {node.result["pid"] for node in run.nodes.values()}
    assert os.getpid() not in pids
    assert pids == worker_pids(client)  # both worker processes took nodes
    assert ws.runs.get(run.id).status == "success"  # the driver recorded it


def test_integration_code_is_shipped_and_edits_reach_the_workers(
    ws: fk.Workspace, client: Any, executor: DaskExecutor
) -> None:
    setup_probe(ws)
    wf = fk.Workflow("where")
    wf.add_node("w", integration="Probe", task="where")
    first = ws.run(wf, executor=executor).nodes["w"].result
    # The workers import their own unpacked copy, not the driver's folder.
    local_dirs = client.run(lambda dask_worker: dask_worker.local_directory)
    assert not first["file"].startswith(str(ws.path))
    assert any(first["file"].startswith(folder) for folder in local_dirs.values())
    source = ws.path / "integrations" / "probe" / "tasks.py"
    source.write_text(source.read_text().replace('"version": 1', '"version": 2'))
    ws.registry.reload()
    second = ws.run(wf, executor=executor).nodes["w"].result
    assert second["version"] == 2
    assert second["file"] != first["file"]


def test_a_module_a_worker_cannot_import_is_named_with_the_worker(ws: fk.Workspace, executor: DaskExecutor) -> None:
    import types

    module = types.ModuleType("flowkit_test_only_in_driver_memory")
    exec("def hello(credentials, params):\n    return {'success': True}\n", module.__dict__)
    module.__all__ = ["hello"]
    ws.registry.register("inmemory", module)
    ws.types.create("inmemory", params=[])
    ws.integrations.create("Mem", type="inmemory", credentials={})
    wf = fk.Workflow("mem")
    wf.add_node("m", integration="Mem", task="hello")
    assert ws.run(wf, executor=ThreadExecutor()).status == "success"  # fine on the driver
    run = ws.run(wf, executor=executor)
    error = run.nodes["m"].error or ""
    assert run.status == "failed"
    assert "'inmemory' cannot be imported on Dask worker tcp://" in error
    assert "Install the package" in error


# -- same semantics as threads -----------------------------------------------------------------
def semantics_workflow(folder: Path) -> fk.Workflow:
    wf = fk.Workflow("semantics")
    wf.add_node(
        "flaky",
        integration="Probe",
        task="flaky",
        params={"counter": str(folder / "count")},
        retries=2,
        retry_delay=0.05,
    )
    wf.add_node("after_flaky", integration="Probe", task="pid")
    wf.add_node("boom", integration="Probe", task="boom", retries=1, retry_delay=0.05)
    wf.add_node("after_boom", integration="Probe", task="pid")
    wf.add_node("below_after_boom", integration="Probe", task="pid")
    wf.add_node("independent", integration="Probe", task="pid")
    wf.connect("flaky", "after_flaky")
    wf.connect("boom", "after_boom")
    wf.connect("after_boom", "below_after_boom")
    return wf


def test_failure_and_retries_match_the_thread_executor(
    ws: fk.Workspace, tmp_path: Path, executor: DaskExecutor
) -> None:
    setup_probe(ws)
    (tmp_path / "threads").mkdir()
    (tmp_path / "dask").mkdir()
    on_threads = ws.run(semantics_workflow(tmp_path / "threads"), executor=ThreadExecutor())
    on_dask = ws.run(semantics_workflow(tmp_path / "dask"), executor=executor)
    assert summary(on_dask) == summary(on_threads)
    assert (on_dask.status, on_dask.error) == (on_threads.status, on_threads.error)
    assert summary(on_dask)["flaky"] == ("success", 3, None)
    assert summary(on_dask)["boom"] == ("failed", 2, "probe.boom raised ValueError: it broke")
    assert summary(on_dask)["below_after_boom"][0] == "skipped"
    assert on_dask.nodes["independent"].status == "success"
    assert "attempt 1 fails" in on_dask.nodes["flaky"].log  # the workers' captured output came back


def test_resume_on_dask_reruns_only_what_failed(ws: fk.Workspace, tmp_path: Path, executor: DaskExecutor) -> None:
    setup_probe(ws)
    flag = tmp_path / "flag"
    wf = fk.Workflow("resumable")
    wf.add_node("first", integration="Probe", task="pid")
    wf.add_node("gate", integration="Probe", task="gate", params={"flag": str(flag)})
    wf.add_node("last", integration="Probe", task="pid")
    wf.connect("first", "gate")
    wf.connect("gate", "last")
    failed = ws.run(wf, executor=executor)
    assert [failed.nodes[n].status for n in ("first", "gate", "last")] == ["success", "failed", "skipped"]
    flag.touch()
    resumed = ws.resume(failed, executor=executor)
    assert resumed.status == "success"
    assert resumed.nodes["first"].reused and not resumed.nodes["gate"].reused
    assert resumed.resumed_from == failed.id


def test_a_timeout_stops_the_task_inside_a_daemonic_worker(
    ws: fk.Workspace, client: Any, tmp_path: Path, executor: DaskExecutor
) -> None:
    assert client.daemonic == {True}  # the case multiprocessing refuses by default
    setup_probe(ws)
    pidfile = tmp_path / "hang.pid"
    wf = fk.Workflow("hangs")
    wf.add_node("hang", integration="Probe", task="hang", params={"pidfile": str(pidfile)}, timeout=1)
    wf.add_node("after", integration="Probe", task="pid")
    wf.connect("hang", "after")
    started = time.monotonic()
    run = ws.run(wf, executor=executor)
    elapsed = time.monotonic() - started
    assert run.nodes["hang"].status == "failed"
    assert run.nodes["hang"].error == "probe.hang timed out after 1 s and was stopped."
    assert run.nodes["after"].status == "skipped"
    # 1 s plus the worker's first start of its fork server, which takes seconds on a busy 2-core machine.
    assert elapsed < 10.0
    child = int(pidfile.read_text())
    assert child not in worker_pids(client)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # the task's process is gone


# -- secrets ---------------------------------------------------------------------------------------
def test_no_secret_in_task_keys_worker_logs_or_records(
    ws: fk.Workspace, client: Any, canary: str, executor: DaskExecutor
) -> None:
    setup_probe(ws, token=canary)
    wf = fk.Workflow("leaky")
    wf.add_node("leak", integration="Probe", task="leak", retries=1, retry_delay=0.01)
    wf.add_node("leak_timed", integration="Probe", task="leak", timeout=5)
    wf.add_node("fine", integration="Probe", task="pid")
    run = ws.run(wf, executor=executor)
    assert run.nodes["leak"].status == "failed" and run.nodes["fine"].status == "success"
    assert "raising ***" in (run.nodes["leak"].error or "")
    transitions = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.transition_log))
    keys = {str(entry[0]) for entry in transitions}
    ours = {key for key in keys if run.id in key}
    assert len(ours) == 4  # leak twice, leak_timed, fine
    assert all(key.startswith(("probe.leak-", "probe.pid-")) for key in ours)
    assert find_canary(canary, repr(transitions)) == []
    worker_logs = client.get_worker_logs()
    nanny_logs = client.get_worker_logs(nanny=True)
    scheduler_logs = client.get_scheduler_logs()
    assert find_canary(canary, repr(worker_logs), repr(nanny_logs), repr(scheduler_logs)) == []
    assert find_canary(canary, repr(run), str(run.to_dict())) == []
    assert scan_tree(canary, ws.path) == []
    # Nothing of the run (its calls held the credentials) stays in the scheduler once its results are back.
    deadline, run_id = time.monotonic() + 10, run.id
    while client.run_on_scheduler(lambda dask_scheduler: [k for k in dask_scheduler.tasks if run_id in str(k)]):
        assert time.monotonic() < deadline, "the scheduler still holds the run's tasks"
        time.sleep(0.05)


def test_a_raising_call_reaches_the_driver_and_not_the_worker_log(
    client: Any, canary: str, executor: DaskExecutor
) -> None:
    # Dask logs a failed task with its arguments and exception ("Compute Failed"); ours never fail in Dask.
    future = executor.submit(int, canary)
    with pytest.raises(ValueError, match="invalid literal"):
        future.result(timeout=30)
    assert future.exception() is not None
    assert find_canary(canary, repr(client.get_worker_logs())) == []


def test_a_node_call_never_shows_its_arguments(canary: str) -> None:
    from flowkit.executors import invoke

    call = NodeCall(invoke.call_task, ("probe", "/x", "leak", {"token": canary}, {"p": canary}, None))
    assert find_canary(canary, repr(call), str(call)) == []
    assert "probe.leak" in repr(call)


# -- batches and the command line -------------------------------------------------------------------------
def save_batch_workflow(ws: fk.Workspace, tmp_path: Path) -> fk.Workflow:
    wf = fk.Workflow("batch")
    wf.add_node("work", integration="Probe", task="pid", params={"sleep": "{{ inputs.sleep }}"})
    wf.add_node("check", integration="Probe", task="gate", params={"flag": str(tmp_path) + "/{{ inputs.flag }}"})
    wf.connect("work", "check")
    ws.workflows.save(wf)
    (tmp_path / "open").touch()
    return wf


def test_a_batch_runs_on_dask_and_the_driver_records_it(
    ws: fk.Workspace, client: Any, tmp_path: Path, executor: DaskExecutor
) -> None:
    setup_probe(ws)
    save_batch_workflow(ws, tmp_path)
    entries = [{"sleep": 0.1, "flag": "open"}] * 5 + [{"sleep": 0, "flag": "closed"}]
    batch = jobs.run_batch(ws, "batch", entries, parallel=3, executor=executor, progress=False)
    assert [job.status for job in batch.jobs] == ["success"] * 5 + ["failed"]
    assert batch.jobs[-1].error == "1 node(s) failed: check."
    runs = [ws.runs.get(job.run_id) for job in batch.jobs if job.run_id]
    assert "the flag file is missing" in (runs[-1].nodes["check"].error or "")
    assert len(runs) == 6 and {run.trigger for run in runs} == {"batch"}
    assert {run.pid for run in runs} == {os.getpid()}  # recorded by the driver, not by a worker
    assert {run.nodes["work"].result["pid"] for run in runs} <= worker_pids(client)
    assert client.status == "running"  # the batch did not close a client it did not open


def test_cli_run_and_batch_with_dask(
    ws: fk.Workspace, client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flowkit import cli

    setup_probe(ws)
    save_batch_workflow(ws, tmp_path)
    address = client.scheduler.address
    code = cli.main(["-w", str(ws.path), "run", "batch", "-i", "sleep=0", "-i", "flag=open", "--dask", address])
    assert code == 0, capsys.readouterr()
    assert ws.runs.list(workflow="batch")[0].trigger == "cli"
    lines = tmp_path / "inputs.jsonl"
    lines.write_text('{"sleep": 0, "flag": "open"}\n{"sleep": 0, "flag": "closed"}\n')
    code = cli.main(["-w", str(ws.path), "job", "batch", "--batch", str(lines), "--dask", address, "-q"])
    out = capsys.readouterr().out
    assert code == cli.EXIT_FAILED
    assert "1 ok, 1 failed, 2 jobs" in out
    code = cli.main(["-w", str(ws.path), "run", "batch", "--dask", address, "--executor", "inline"])
    assert code == cli.EXIT_INVALID
    assert "either --dask or --executor inline" in capsys.readouterr().err
    assert client.status == "running"


# -- connecting --------------------------------------------------------------------------------------
def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ExecutorError, match=f"Cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        DaskExecutor(f"tcp://127.0.0.1:{port}", connect_timeout=1)


def test_by_address_and_by_name(ws: fk.Workspace, client: Any) -> None:
    setup_probe(ws)
    wf = fk.Workflow("one")
    wf.add_node("p", integration="Probe", task="pid")
    address = client.scheduler.address
    with DaskExecutor(address) as executor:
        assert executor.width == 2
        assert ws.run(wf, executor=executor).nodes["p"].result["pid"] in worker_pids(client)
    wide = fk.Workflow("wide")
    for index in range(4):
        wide.add_node(f"n{index}", integration="Probe", task="pid", params={"sleep": 0.1})
    with DaskExecutor(address, max_workers=1) as executor:
        assert executor.width == 1
        nodes = ws.run(wide, executor=executor).nodes.values()
    spans = sorted((node.result["start"], node.result["end"]) for node in nodes)
    assert all(end <= later for (_, end), (later, _) in zip(spans, spans[1:], strict=False))  # one call at a time
    # By name, the way `flowkit run --executor dask` builds it: Dask's configured scheduler.
    with dask.config.set({"scheduler-address": address}):
        run = ws.run(wf, executor="dask")
    assert run.status == "success"
    assert run.nodes["p"].result["pid"] in worker_pids(client)
    assert client.status == "running"  # the executors closed their own clients only


@pytest.mark.slow
def test_without_an_address_it_starts_and_stops_its_own_local_cluster_with_tls(ws: fk.Workspace) -> None:
    from distributed.security import Security

    setup_probe(ws)
    wf = fk.Workflow("one")
    wf.add_node("p", integration="Probe", task="pid")
    security = Security.temporary()  # a throw-away certificate authority, as a real cluster would have its own
    with dask.config.set({"scheduler-address": None}), DaskExecutor(max_workers=1, security=security) as executor:
        assert executor.address.startswith("tls://")  # every hop encrypted, the credentials in the calls too
        assert executor.width == 1
        assert executor.dashboard_link.startswith("http://")
        own_pids = worker_pids(executor.client)
        assert ws.run(wf, executor=executor).nodes["p"].result["pid"] in own_pids
        cluster = executor._own_cluster
    assert cluster.status.name == "closed" and executor.client.status == "closed"


def test_import_flowkit_does_not_import_distributed() -> None:
    code = (
        "import sys, flowkit as fk\n"
        "fk.executors.ThreadExecutor, fk.Workspace\n"
        "assert 'distributed' not in sys.modules\n"
        "assert fk.executors.DaskExecutor.__name__ == 'DaskExecutor'\n"
        "assert 'distributed' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# Last: it kills a worker process (its nanny starts a new one, which the test waits for).
def test_a_worker_dying_mid_call_fails_that_node_only(ws: fk.Workspace, client: Any, executor: DaskExecutor) -> None:
    setup_probe(ws)
    allowed = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures)
    client.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures", 0))
    try:
        wf = fk.Workflow("dies")
        wf.add_node("die", integration="Probe", task="die")
        wf.add_node("after", integration="Probe", task="pid")
        wf.add_node("independent", integration="Probe", task="pid", params={"sleep": 0.1})
        wf.connect("die", "after")
        run = ws.run(wf, executor=executor)
    finally:
        client.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures", allowed))
        client.wait_for_workers(2, timeout=60)
    error = run.nodes["die"].error or ""
    assert run.nodes["die"].status == "failed"
    assert "could not run on DaskExecutor(" in error and "ExecutorError: Dask task probe.die-" in error
    assert "KilledWorker" in error, error
    assert run.nodes["after"].status == "skipped"
    assert run.nodes["independent"].status == "success"
    assert ws.runs.get(run.id).status == "failed"


# -- hostile tasks and cancelling (issue 13) ------------------------------------------------------
@pytest.mark.parametrize("kind", ["KeyboardInterrupt", "SystemExit", "GeneratorExit", "Custom"])
def test_a_base_exception_on_a_worker_fails_that_node_only(
    ws: fk.Workspace, executor: DaskExecutor, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    from hostile_support import add_hostile

    add_hostile(ws)
    wf = fk.Workflow("base")
    wf.add_node("ok", integration="Hostile", task="quick")
    wf.add_node("bad", integration="Hostile", task="raises", params={"kind": kind})
    wf.add_node("after", integration="Hostile", task="quick")
    wf.connect("bad", "after")
    run = ws.run(wf, executor=executor)
    assert {name: node.status for name, node in run.nodes.items()} == {
        "ok": "success",
        "bad": "failed",
        "after": "skipped",
    }
    error = run.nodes["bad"].error or ""
    assert error.startswith("hostile.raises raised ") and kind in error
    assert "ModuleNotFoundError" not in error
    assert not [record for record in caplog.records if record.levelname == "CRITICAL"]


def test_a_run_deadline_on_dask_kills_the_timed_call(
    ws: fk.Workspace, client: Any, tmp_path: Path, executor: DaskExecutor
) -> None:
    from hostile_support import add_hostile, wait_for_file, wait_gone

    add_hostile(ws)
    pidfile = tmp_path / "sleeper.pid"
    wf = fk.Workflow("deadline")
    wf.add_node(
        "slow", integration="Hostile", task="sleeps", params={"pidfile": str(pidfile), "seconds": 60}, timeout=120
    )
    wf.add_node("after", integration="Hostile", task="quick")
    wf.connect("slow", "after")
    run = ws.run(wf, executor=executor, deadline=8)
    assert run.status == "cancelled"
    assert (run.nodes["slow"].status, run.nodes["after"].status) == ("cancelled", "skipped")
    assert wait_gone(int(wait_for_file(pidfile)), within=5)


def test_an_integrations_own_exception_class_goes_back_as_text(ws: fk.Workspace) -> None:
    # The class exists where the module is loaded (the worker), maybe not on the driver: send its text.
    from hostile_support import add_hostile

    from flowkit.executors.dask_executor import _portable

    add_hostile(ws)
    raises = ws.registry.task("hostile", "raises").func
    custom = raises.__globals__["Custom"]
    assert custom.__module__.startswith("flowkit._plugins.")
    back = _portable(custom("custom base exception"))
    assert isinstance(back, ExecutorError) and str(back) == "Custom: custom base exception"
