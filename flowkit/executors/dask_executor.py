"""Run workflow nodes on a Dask cluster: ``ws.run(wf, executor=DaskExecutor(client))``.

The engine stays on the driver: it schedules nodes in dependency order,
records the run and emits events exactly as with threads. Only the node
calls (`flowkit.executors.invoke.call_task`, plain data in, an outcome dict out) travel
to Dask workers, and only their outcomes travel back; a worker never opens the
workspace, its TinyDB files or the secret key.

What each call carries, and what it never shows:

* **the task key** is ``<module>.<task>-<run id>-<n>``: names and counters only,
  never a param or credential (Dask's own key would hash the arguments; the
  key is what the dashboard, the task stream and the logs show);
* **the arguments** ride inside a `NodeCall` whose ``repr`` masks them,
  because Dask puts ``repr(task)`` into its logs (a failed task's "Compute
  Failed" warning), and `run_on_worker` never lets an exception out to Dask
  for the same reason: what goes wrong is returned as data;
* **the credentials** are the decrypted values of the integrations the run
  uses, decrypted on the driver by the engine, for the nodes sent. Between
  machines they cross the network inside the pickled call: use TLS
  (``tls://`` addresses with `distributed.security.Security`).

Integration folders are shipped to the workers (`flowkit.executors.dask_shipping`);
entry-point integrations must be installed on the workers, and a worker that
cannot import one answers with an error naming the module and the worker.
flowkit and dask themselves must be installed, in the same versions, on the
scheduler and every worker.

Timeouts work as with threads: the engine runs a timed call in a child
process and kills it. Dask starts its worker processes as daemons, which
``multiprocessing`` forbids to have children, so `run_on_worker` lifts that
flag in the worker before a timed call (the child is always reaped by
`flowkit.executors.call` itself, so nothing is left behind).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import distributed

from ..errors import ExecutorError, FlowkitError
from . import invoke
from .base import Executor
from .call import find_task
from .dask_shipping import ModuleShipment, ModuleSource, pack_module, shipped_folder, signature
from .timeouts import stop_scope

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..model import Run

#: Seconds to wait for a scheduler (and, for a cluster flowkit starts, its workers).
CONNECT_TIMEOUT = 30.0


# -- on the worker ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeCall:
    """One call to run on a worker; its repr never shows the arguments (they hold credentials).

    Attributes:
        fn: the top-level function to call.
        args: its arguments.
        shipped: ``(module, digest)`` when ``args[1]`` (the module's folder) is
            to be replaced by the worker's unpacked copy of that version.
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...] = field(repr=False)
    shipped: tuple[str, str] | None = None

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        what = f"{self.args[0]}.{self.args[2]}" if self.fn is invoke.call_task else f"{len(self.args)} argument(s)"
        return f"NodeCall({name}: {what}, arguments hidden)"


def _failed_outcome(error: str) -> dict[str, Any]:
    """An outcome in `flowkit.executors.call`'s shape, for a call that could not start on the worker."""
    return {"ok": False, "result": None, "error": error, "log": "", "timed_out": False}


def _worker() -> Any:
    try:
        return distributed.get_worker()
    except ValueError:  # not inside a worker (a test calling us directly)
        return None


def _allow_children() -> None:
    """Let this (daemonic) Dask worker process start the child a timed call runs in.

    ``multiprocessing`` refuses children to daemonic processes because a daemon
    is killed without waiting for them. `flowkit.executors.call` always waits for or
    kills its child, so the refusal protects nothing here. Dask's own switch,
    ``distributed.worker.daemon: false``, would work too, but must be set where
    the cluster is started, which flowkit often does not control.
    """
    import multiprocessing

    process = multiprocessing.current_process()
    if process.daemon:
        process._config["daemon"] = False  # type: ignore[attr-defined]


def _prepare_call(call: NodeCall, worker: Any) -> tuple[tuple[Any, ...] | None, str | None]:
    """The call's arguments as this worker must run them, or why the module is out of reach here."""
    args = call.args
    if call.fn is not invoke.call_task:
        return args, None
    module, location, task = args[0], args[1], args[2]
    where = f"Dask worker {worker.address}" if worker is not None else f"process {os.getpid()}"
    if call.shipped is not None:
        folder = shipped_folder(*call.shipped, base=getattr(worker, "local_directory", None))
        if folder is None:
            return None, (
                f"Integration module {module!r} (version {call.shipped[1][:16]}) has not reached "
                f"{where}: its shipment plugin did not run there. Check the worker's log."
            )
        args = (module, str(folder), *args[2:])
    elif os.path.isabs(location):
        if not Path(location).is_dir():
            return None, (
                f"Integration module {module!r} is not on {where}: its folder {location} does not "
                "exist there. Let flowkit ship it (DaskExecutor(ship_modules=True)) or put it on a "
                "path every worker shares."
            )
    else:
        try:
            find_task(module, location, task)
        except ImportError as exc:
            return None, (
                f"Integration module {module!r} cannot be imported on {where}: "
                f"{type(exc).__name__}: {exc}. Install the package providing {location!r} on every "
                "worker (or give the integration a folder, which flowkit ships)."
            )
        except Exception:  # anything else is the module's own failure; the call reports it as with threads
            pass
    return args, None


def run_on_worker(call: NodeCall) -> tuple[bool, Any]:
    """Run a `NodeCall` on a Dask worker: ``(True, value)`` or ``(False, exception)``; never raises.

    Raising would make Dask log the task, arguments included; returning keeps
    every failure on the path back to the driver, where the engine redacts it.
    """
    try:
        worker = _worker()
        args, problem = _prepare_call(call, worker)
        if problem is not None or args is None:
            return True, _failed_outcome(problem or "The call could not be prepared.")
        if call.fn is invoke.call_task and len(args) > 5 and args[5] is not None:
            _allow_children()
        return True, call.fn(*args)
    except BaseException as exc:  # returned, not raised: see the docstring
        return False, _portable(exc)


def _portable(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling (and its class exists on the driver), else an `ExecutorError` with its text."""
    import pickle

    try:
        if type(exc).__module__.startswith("flowkit._plugins."):  # an integration's own class: not on the driver
            raise TypeError(type(exc).__module__)
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return ExecutorError(f"{type(exc).__name__}: {exc}")


async def _stop_on_worker(scope: str) -> None:
    """`stop_scope` on a worker (a coroutine: ``client.run(..., wait=False)`` takes only those)."""
    stop_scope(scope)


# -- on the driver --------------------------------------------------------------------------------
class DaskExecutor(Executor):
    """Runs node calls as tasks on a Dask cluster.

    Args:
        cluster: a `distributed.Client`, a scheduler address (``tcp://host:8786``,
            ``tls://...``), or a cluster object such as `distributed.LocalCluster`.
            None: the address in Dask's config (``DASK_SCHEDULER_ADDRESS``) if set,
            else a `LocalCluster` of worker processes, one thread each, started here.
        security: a `distributed.security.Security` for ``tls://`` addresses.
        max_workers: at most this many calls on the cluster at once (a further
            `submit` waits for a free slot); a `LocalCluster` started here gets
            this many worker processes (default: the CPU count).
        ship_modules: send integration folders to the workers (default). False:
            every worker must see the same folders at the same paths.
        connect_timeout: seconds to wait for the scheduler.

    An executor built from an address or a cluster owns its client and closes
    it on `shutdown` (and the cluster, if it started one); a client you pass stays open.

    Raises:
        ExecutorError: the scheduler cannot be reached.
    """

    def __init__(
        self,
        cluster: Any = None,
        *,
        security: Any = None,
        max_workers: int | None = None,
        ship_modules: bool = True,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.ship_modules = ship_modules
        self._max_workers = max_workers
        self._own_cluster: Any = None
        self._owns_client = not isinstance(cluster, distributed.Client)
        self.client = (
            cluster
            if isinstance(cluster, distributed.Client)
            else self._connect(cluster, security=security, max_workers=max_workers, timeout=connect_timeout)
        )
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pending: dict[str, concurrent.futures.Future[Any]] = {}  # by task key
        self._ready: list[distributed.Future] = []
        self._fetching = False
        self._sources: dict[tuple[str, str], tuple[tuple[Any, ...], ModuleSource]] = {}
        self._shipped: set[str] = set()
        self._closed = False
        self.address = str(self.client.scheduler.address)
        self.width = self._measure_width()
        self._slots = threading.BoundedSemaphore(max_workers) if max_workers else None

    # -- connecting -------------------------------------------------------------------------
    def _connect(self, cluster: Any, *, security: Any, max_workers: int | None, timeout: float) -> Any:
        import dask

        try:
            if cluster is None and not dask.config.get("scheduler-address", None):
                self._own_cluster = distributed.LocalCluster(
                    n_workers=max_workers or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    security=security,
                )
                cluster = self._own_cluster
            return distributed.Client(cluster, security=security, timeout=timeout, set_as_default=False)
        except FlowkitError:
            raise
        except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
            if self._own_cluster is not None:
                self._own_cluster.close()
            where = cluster if isinstance(cluster, str) else dask.config.get("scheduler-address", None) or cluster
            raise ExecutorError(
                f"Cannot reach the Dask scheduler at {where}: {type(exc).__name__}: {exc}. Check the address "
                "(tcp://host:8786, or tls://... with security=), that the scheduler is running, and the firewall."
            ) from exc

    def _measure_width(self) -> int:
        threads = sum(self.client.nthreads().values()) or 1
        return min(threads, self._max_workers) if self._max_workers else threads

    @property
    def dashboard_link(self) -> str:
        """The cluster's dashboard (task stream, progress), to open in a browser."""
        return str(self.client.dashboard_link)

    def __repr__(self) -> str:
        return f"DaskExecutor({self.address}, width={self.width})"

    # -- the engine's hooks ---------------------------------------------------------------
    def run_started(self, run: Run) -> None:
        # Runs may share this executor from several driver threads (a batch):
        # each thread names its own run's tasks.
        self._local.run_id = run.id
        self._local.counter = itertools.count(1)
        self._local.checked = {}

    def run_finished(self, run: Run) -> None:
        self._local.run_id = None
        self._local.checked = {}

    def run_cancelled(self, run: Run) -> None:
        """Kill the run's timed calls on every worker; drop the outcomes of its calls still out (threads)."""
        with contextlib.suppress(Exception):  # a worker that cannot be reached has nothing to stop either
            self.client.run(_stop_on_worker, run.id, wait=False)
        with self._lock:
            keys = [key for key in self._pending if f"-{run.id}-" in key]
        for key in keys:
            self._settle(key, False, ExecutorError(f"Dask task {key} was cancelled with its run."))

    # -- shipping -------------------------------------------------------------------------
    def _ship(self, module: str, location: str) -> tuple[str, str]:
        """Make sure the workers hold the current version of a folder module; its (name, digest).

        The folder is looked at once per run (per driver thread): a run's nodes
        all use the version its first call found, as a run on threads uses the
        version its registry loaded.
        """
        checked: dict[tuple[str, str], str] | None = getattr(self._local, "checked", None)
        if checked is not None and (module, location) in checked:
            return module, checked[(module, location)]
        folder = Path(location)
        stamp = signature(folder)
        with self._lock:
            known = self._sources.get((module, location))
            if known is None or known[0] != stamp:
                known = (stamp, pack_module(module, folder))
                self._sources[(module, location)] = known
            source = known[1]
            plugin = ModuleShipment(source)
            if plugin.name not in self._shipped:
                self.client.register_plugin(plugin)
                self._shipped.add(plugin.name)
        if checked is not None:
            checked[(module, location)] = source.digest
        return module, source.digest

    def _key(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
        run_id = getattr(self._local, "run_id", None)
        if run_id is None:
            self._local.run_id, self._local.counter = f"call-{uuid.uuid4().hex[:12]}", itertools.count(1)
            run_id = self._local.run_id
        label = f"{args[0]}.{args[2]}" if fn is invoke.call_task else getattr(fn, "__name__", "call")
        return f"{label}-{run_id}-{next(self._local.counter)}"

    # -- submitting -----------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Send ``fn(*args)`` to the cluster; the future resolves on the driver when it is back."""
        if self._closed:
            raise ExecutorError("This DaskExecutor is shut down; make a new one.")
        shipped = None
        if fn is invoke.call_task and self.ship_modules and os.path.isabs(args[1]):
            shipped = self._ship(args[0], args[1])
        key = self._key(fn, args)
        if self._slots is not None:
            self._slots.acquire()  # released when a call's outcome is back: never waits on this thread
        try:
            task = self.client.submit(run_on_worker, NodeCall(fn, tuple(args), shipped), key=key, pure=False)
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            self._pending[key] = future
        task.add_done_callback(self._finished)
        return future

    # -- bringing outcomes back -------------------------------------------------------------
    # Fetching each result on its own costs one scheduler round trip per call (measured:
    # 200 no-op calls fetched one by one take about twice as long as one gather of all
    # 200). So a finished task only joins a batch, and one fetch at a time runs on the
    # client's event loop, taking every task that finished while the previous fetch was out.

    def _finished(self, task: distributed.Future) -> None:
        """On Dask's callback thread: queue a finished task for fetching, or settle a failed one."""
        if task.status == "finished":
            with self._lock:
                self._ready.append(task)
                start, self._fetching = not self._fetching, True
            if start:
                loop = self.client.loop
                if loop is None:  # the client closed under us
                    self._settle_ready(ExecutorError("The Dask client of this executor was closed."))
                else:
                    loop.add_callback(self._fetch_ready)
            return
        try:  # erred or cancelled: the error is known here, nothing to fetch
            task.result()
            error: BaseException = ExecutorError(f"Dask task {task.key} ended as {task.status}.")
        except BaseException as exc:  # the worker died, the task was cancelled, the scheduler went away
            error = ExecutorError(f"Dask task {task.key} did not complete: {type(exc).__name__}: {exc}")
        self._settle(str(task.key), False, error)

    async def _fetch_ready(self) -> None:
        """On the client's event loop: fetch the queued tasks' outcomes, batch after batch."""
        while True:
            with self._lock:
                batch, self._ready = self._ready, []
                if not batch:
                    self._fetching = False
                    return
            try:
                values = await self.client.gather(batch, asynchronous=True)
                outcomes = [(str(task.key), *value) for task, value in zip(batch, values, strict=True)]
            except asyncio.CancelledError:
                for task in batch:
                    self._settle(str(task.key), False, ExecutorError("The Dask client closed before the result came."))
                raise
            except Exception:
                outcomes = [await self._fetch_one(task) for task in batch]  # each call gets its own answer
            for key, ok, value in outcomes:
                self._settle(key, ok, value)

    async def _fetch_one(self, task: distributed.Future) -> tuple[str, bool, Any]:
        try:
            ok, value = await self.client.gather(task, asynchronous=True)
            return str(task.key), ok, value
        except Exception as exc:
            return (
                str(task.key),
                False,
                ExecutorError(f"Dask task {task.key} did not complete: {type(exc).__name__}: {exc}"),
            )

    def _settle_ready(self, error: BaseException) -> None:
        with self._lock:
            batch, self._ready, self._fetching = self._ready, [], False
        for task in batch:
            self._settle(str(task.key), False, error)

    def _settle(self, key: str, ok: bool, value: Any) -> None:
        """Hand a call's outcome (or exception) to the engine's future."""
        with self._lock:
            future = self._pending.pop(key, None)
        if future is None:
            return
        if self._slots is not None:
            self._slots.release()
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def shutdown(self) -> None:
        """Let calls already submitted finish, then close the client (and cluster) this executor opened."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            waiting = list(self._pending.values())
        concurrent.futures.wait(waiting)
        if self._owns_client:
            self.client.close()
            if self._own_cluster is not None:
                self._own_cluster.close()
