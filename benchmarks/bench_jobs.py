"""papermill jobs: what a job costs over a bare notebook run, and what a parallel batch gains.

Run: ``.venv/bin/python benchmarks/bench_jobs.py [--repeats N]``. Everything is
measured side by side in this one process, alternating, and compared by medians:

1. a job of a one-node workflow (``fk.jobs.run_job``: inputs checked, template
   run in-process on flowkit's kernel engine, run recorded, report drawn,
   output scrubbed) ÷ papermill's own in-process ``execute_notebook`` of a
   trivial 3-cell notebook (its default nbclient engine). Both start one
   kernel, which is most of the cost. Goal ≤ 1.1.
2. a batch of 8 such jobs: throughput with ``parallel=2`` ÷ with
   ``parallel=1`` (sequential), both with each job's kernel started when the
   job begins (``warm_kernels=0``): what running jobs side by side gains.
   Goal ≥ 1.8 on 2 cores. A job is CPU-bound (its kernel's start-up), so this
   can only reach what the machine has free: the same ratio for 8 plain
   CPU-bound Python processes (~0.5 s each) is measured alongside, as the
   ceiling at that moment. (With warm kernels, the default, a sequential
   batch already starts the next kernel on the other core, so parallel=2
   adds little; its time is printed too.)
3. warm kernels: the same batch of 8, sequential, with its kernels started
   ahead of the jobs (the default) ÷ the way before them, each job's kernel
   started when the job begins (``warm_kernels=0``, and ipykernel's own
   launcher, which imports the debugger). Goal ≤ 0.5.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill
from benchkit import bench_workspace

import flowkit as fk
from flowkit import jobs
from flowkit.jobs import kernel

TASKS = '''
def echo(credentials, params):
    """Hand back the value it was given."""
    return {"success": True, "message": "echoed", "value": params.get("value")}
'''


def setup(root: Path) -> fk.Workspace:
    ws = bench_workspace(root, TASKS)
    wf = fk.Workflow("one node")
    wf.add_node("echo", integration="Bench", task="echo", params={"value": "{{ inputs.n }}"})
    ws.workflows.save(wf)
    return ws


def trivial_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in ("x = 1", "y = x + 1", "y")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


BURN = "sum(i * i for i in range(8_000_000))"  # ~0.5 s of one core


def burn(count: int, parallel: int) -> None:
    """Run `count` CPU-bound Python processes, `parallel` at a time."""
    for start in range(0, count, parallel):
        procs = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(min(parallel, count - start))]
        for proc in procs:
            proc.wait()


class todays_kernels:  # noqa: N801 -- a context manager, like contextlib's
    """Within the block, kernels start as before warm kernels: ipykernel's own launcher (with the debugger)."""

    def __enter__(self) -> None:
        self.saved = kernel.JobKernelSpecs.get_kernel_spec
        kernel.JobKernelSpecs.get_kernel_spec = kernel.KernelSpecManager.get_kernel_spec  # type: ignore[method-assign]

    def __exit__(self, *exc_info: object) -> None:
        kernel.JobKernelSpecs.get_kernel_spec = self.saved  # type: ignore[method-assign]


def timed(fn: object, *args: object, **kwargs: object) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-repeats", type=int, default=2)
    options = parser.parse_args()
    started_load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ws = setup(root)
        notebook = trivial_notebook(root / "trivial.ipynb")

        def job() -> None:
            result = jobs.run_job(ws, "one node", inputs={"n": 1}, output=root / "job.ipynb", timeout=120)
            assert result.ok, result.error

        def bare() -> None:
            papermill.execute_notebook(
                str(notebook), str(root / "bare.ipynb"), kernel_name="python3", progress_bar=False, execution_timeout=60
            )

        job(), bare()  # warm both paths (imports, first kernel)
        job_times, bare_times = [], []
        for _ in range(options.repeats):
            job_times.append(timed(job))
            bare_times.append(timed(bare))
        job_median, bare_median = statistics.median(job_times), statistics.median(bare_times)

        lines = [{"n": index} for index in range(8)]

        def batch(parallel: int, *, warm_kernels: int | None = None) -> None:
            result = jobs.run_batch(
                ws, "one node", lines, parallel=parallel, timeout=120, progress=False, warm_kernels=warm_kernels
            )
            assert result.ok and len(result.jobs) == 8, result.summary()

        def todays_batch() -> None:
            with todays_kernels():
                batch(1, warm_kernels=0)

        times: dict[str, list[float]] = {name: [] for name in ("cold 1", "cold 2", "warm 1", "warm 2", "before")}
        burn_sequential, burn_parallel = [], []
        for _ in range(options.batch_repeats):
            times["cold 1"].append(timed(batch, 1, warm_kernels=0))
            times["cold 2"].append(timed(batch, 2, warm_kernels=0))
            times["warm 1"].append(timed(batch, 1))
            times["warm 2"].append(timed(batch, 2))
            times["before"].append(timed(todays_batch))
            burn_sequential.append(timed(burn, 8, 1))
            burn_parallel.append(timed(burn, 8, 2))
        median = {name: statistics.median(values) for name, values in times.items()}
        seq_median, par_median = median["cold 1"], median["cold 2"]
        ceiling = statistics.median(burn_sequential) / statistics.median(burn_parallel)

    print(f"load average {started_load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    print(f"{'measure':<52} {'median s':>9} {'ratio':>7} {'goal':>7}")
    print(f"{'job of a one-node workflow (fk.jobs.run_job)':<52} {job_median:>9.3f}")
    print(f"{'papermill.execute_notebook, trivial 3 cells':<52} {bare_median:>9.3f}")
    print(f"{'  job / bare notebook':<52} {'':>9} {job_median / bare_median:>7.2f} {'<= 1.1':>7}")
    print(f"{'batch of 8, parallel=1, kernel started per job':<52} {seq_median:>9.3f}")
    print(f"{'batch of 8, parallel=2, kernel started per job':<52} {par_median:>9.3f}")
    print(f"{'  throughput parallel=2 / sequential':<52} {'':>9} {seq_median / par_median:>7.2f} {'>= 1.8':>7}")
    print(f"{'  same for 8 CPU-bound processes (the ceiling now)':<52} {'':>9} {ceiling:>7.2f}")
    print(f"{'  jobs / ceiling':<52} {'':>9} {seq_median / par_median / ceiling:>7.2f}")
    print(f"{'batch of 8, parallel=1, warm kernels (the default)':<52} {median['warm 1']:>9.3f}")
    print(f"{'batch of 8, parallel=2, warm kernels (the default)':<52} {median['warm 2']:>9.3f}")
    print(f"{'batch of 8, sequential, as before warm kernels':<52} {median['before']:>9.3f}")
    warm_ratio = median["warm 1"] / median["before"]
    print(f"{'  warm kernels / before (sequential)':<52} {'':>9} {warm_ratio:>7.2f} {'<= 0.5':>7}")


if __name__ == "__main__":
    main()
