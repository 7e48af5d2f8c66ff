"""Warm kernels for batches: started ahead of their jobs, one fresh kernel per job, none left behind."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest
from helpers import write_integration

import flowkit as fk
from flowkit import jobs
from flowkit.atomic import pid_alive
from flowkit.errors import JobError, ValidationError

if TYPE_CHECKING:
    from flowkit.jobs.kernel_pool import KernelPool

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process start times from /proc")

PROBE = '''
import builtins
import os
import time


def _started_at():
    """When this process started, in seconds since the epoch (from /proc)."""
    with open("/proc/self/stat") as handle:
        ticks = int(handle.read().rsplit(")", 1)[1].split()[19])  # since boot
    with open("/proc/uptime") as handle:
        uptime = float(handle.read().split()[0])
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))


def probe(credentials, params):
    """Say which kernel ran this job, when it started, and whether a job ran in it before."""
    earlier = getattr(builtins, "_flowkit_test_jobs", 0)
    builtins._flowkit_test_jobs = earlier + 1
    return {"success": True, "message": "probed", "pid": os.getpid(), "kernel_started_at": _started_at(),
            "earlier_jobs": earlier, "cwd": os.getcwd(), "mark": os.environ.get("FLOWKIT_TEST_MARK")}
'''


@pytest.fixture
def probe_ws(ws: fk.Workspace) -> fk.Workspace:
    write_integration(ws.path / "integrations", "probe", PROBE)
    ws.registry.reload()
    ws.types.create("probe", description="probe", params=[])
    ws.integrations.create("Probe", type="probe", credentials={})
    wf = fk.Workflow("probe")
    wf.add_node("probe", integration="Probe", task="probe", params={"n": "{{ inputs.n }}"})
    ws.workflows.save(wf)
    return ws


def kernel_children() -> set[int]:
    """Kernel processes this process started that still run."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and (b"kernelapp" in cmdline or b"ipykernel_launcher" in cmdline):
            found.add(int(entry.name))
    return found


def wait_gone(pids: set[int], seconds: float = 10.0) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in pids):
        time.sleep(0.05)
    return {pid for pid in pids if pid_alive(pid)}


def probes(ws: fk.Workspace, result: jobs.BatchResult) -> list[tuple[dict, fk.Run]]:
    found = []
    for job in result.jobs:
        run = ws.runs.get(job.run_id)
        found.append((run.nodes["probe"].result, run))
    return found


def pool(**options: Any) -> KernelPool:
    from flowkit.jobs.kernel_pool import KernelPool  # here: the batch tests also run where it does not exist

    return KernelPool(**options)


def run_in(kernel: Any, source: str) -> str:
    from flowkit.jobs.kernel import CellOutputs

    cell = nbformat.v4.new_code_cell(source)
    kernel.run(source, timeout=30, outputs=CellOutputs(cell))
    return "".join(output.get("text", "") for output in cell.outputs)


def test_a_batch_starts_the_next_jobs_kernel_while_the_current_job_runs(probe_ws: fk.Workspace, tmp_path: Path) -> None:
    result = jobs.run_batch(
        probe_ws, "probe", [{"n": n} for n in range(3)], parallel=1, output_dir=tmp_path / "out", progress=False
    )

    assert result.ok, result.summary()
    seen = probes(probe_ws, result)
    for (_, earlier_run), (later, _) in zip(seen, seen[1:], strict=False):
        # /proc start times have a resolution of one clock tick (10 ms)
        assert later["kernel_started_at"] < earlier_run.finished_at - 0.02, (later, earlier_run.finished_at)


def test_each_job_of_a_batch_gets_a_fresh_kernel_of_its_own(probe_ws: fk.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = jobs.run_batch(probe_ws, "probe", [{"n": n} for n in range(4)], parallel=2, output_dir=out, progress=False)

    assert result.ok, result.summary()
    seen = [probe for probe, _ in probes(probe_ws, result)]
    assert len({probe["pid"] for probe in seen}) == 4
    assert [probe["earlier_jobs"] for probe in seen] == [0, 0, 0, 0]
    for job in result.jobs:
        cells = [cell for cell in json.loads(Path(job.report).read_text())["cells"] if cell["cell_type"] == "code"]
        assert cells[0]["execution_count"] == 1  # the warm-up ran silently: the job's cells count from 1
    assert {probe["cwd"] for probe in seen} == {str(out.resolve())}
    assert wait_gone({probe["pid"] for probe in seen}) == set()


def test_no_kernel_outlives_a_batch_even_one_no_job_took(probe_ws: fk.Workspace, tmp_path: Path) -> None:
    before = kernel_children()
    result = jobs.run_batch(
        probe_ws, "probe", [{"n": 1}], parallel=1, warm_kernels=3, output_dir=tmp_path / "out", progress=False
    )

    assert result.ok, result.summary()
    assert wait_gone(kernel_children() - before) == set()


def test_closing_a_pool_kills_kernels_ready_and_starting(tmp_path: Path) -> None:
    before = kernel_children()
    kernels = pool(count=3, ahead=3, cwd=tmp_path, warmup=None)
    deadline = time.monotonic() + 60
    while len(kernel_children() - before) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = kernel_children() - before
    assert len(started) == 3 and kernels.started == 3

    kernels.close()  # some may still be starting

    assert wait_gone(started) == set()
    with pytest.raises(JobError, match="closed"):
        kernels.take("python3", cwd=tmp_path, env=None, deadline=time.monotonic() + 5)


def test_an_error_inside_the_pool_block_kills_its_kernels(tmp_path: Path) -> None:
    before = kernel_children()
    with pytest.raises(RuntimeError), pool(count=2, ahead=2, cwd=tmp_path, warmup=None) as kernels:
        kernel = kernels.take("python3", cwd=tmp_path, env=None, deadline=time.monotonic() + 60)
        kernel.close()
        raise RuntimeError("the batch broke")
    assert wait_gone(kernel_children() - before) == set()


def test_a_kernel_starts_in_its_jobs_folder_and_environment(tmp_path: Path) -> None:
    job_folder, other = tmp_path / "jobs", tmp_path / "other"
    job_folder.mkdir()
    other.mkdir()
    show = "import os; print(os.getcwd(), os.environ.get('FLOWKIT_TEST_MARK'), os.environ.get('HOME'))"
    env: dict[str, str | None] = {"FLOWKIT_TEST_MARK": "a", "HOME": None}
    with pool(count=2, ahead=1, cwd=job_folder, env=env) as kernels:
        kernel = kernels.take("python3", cwd=job_folder, env=env, deadline=time.monotonic() + 60)
        try:
            assert run_in(kernel, show).split() == [str(job_folder.resolve()), "a", "None"]
        finally:
            kernel.close()
        # a job asking for another folder or environment gets a kernel started for it
        kernel = kernels.take("python3", cwd=other, env={"FLOWKIT_TEST_MARK": "b"}, deadline=time.monotonic() + 60)
        try:
            assert run_in(kernel, show).split()[:2] == [str(other.resolve()), "b"]
        finally:
            kernel.close()
        assert kernels.started == 2  # the pool's own second kernel stays for a job of the pool's kind


def test_a_kernel_not_ready_by_the_jobs_deadline_fails_that_job_and_is_killed(tmp_path: Path) -> None:
    before = kernel_children()
    with pool(count=1, ahead=1, cwd=tmp_path, warmup=None) as kernels:
        with pytest.raises(JobError, match="did not start in time"):
            kernels.take("python3", cwd=tmp_path, env=None, deadline=time.monotonic() + 0.01)
    assert wait_gone(kernel_children() - before) == set()


def test_a_kernel_that_cannot_start_is_its_jobs_error(tmp_path: Path) -> None:
    with pool(count=1, ahead=1, kernel_name="no-such-kernel", cwd=tmp_path) as kernels:
        with pytest.raises(JobError, match="no-such-kernel"):
            kernels.take("no-such-kernel", cwd=tmp_path, env=None, deadline=time.monotonic() + 30)


def test_warm_kernels_must_be_a_whole_number(probe_ws: fk.Workspace, tmp_path: Path) -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ValidationError, match="warm_kernels"):
            jobs.run_batch(probe_ws, "probe", [{"n": 1}], warm_kernels=bad, output_dir=tmp_path, progress=False)
