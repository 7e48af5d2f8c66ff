"""Where node calls run: a tiny `Executor` base and the two built-in backends.

The engine hands an executor one picklable top-level function per node
(`flowkit.executors.invoke.call_task`) with plain-data arguments, and reads the result
from the returned `concurrent.futures.Future`. Scheduling (dependency order,
retries, skipping) stays in the engine; an executor only decides *where* a
call runs. A backend implements `submit` and `shutdown` and sets `width`, the
number of calls it runs at once; the hooks are optional.

    ThreadExecutor   a thread pool, the default; sized for I/O-bound tasks
    InlineExecutor   one call at a time in the calling thread (debugging, benchmarks)
"""

from __future__ import annotations

import abc
import concurrent.futures
import importlib
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..model import Run


class Outcome:
    """A finished call as `Executor.dispatch` reports it: `result()` gives its value or raises its exception."""

    __slots__ = ("_value", "_error")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value, self._error = value, error

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


#: How a dispatched call reports its end: with its future, or an `Outcome` (both have ``result()``).
Report = Callable[[Any], None]

#: Tasks mostly wait on networks and disks, so the default pool is far wider
#: than the core count: a pool sized by cores runs a 10-wide layer of
#: sleeping tasks at a fraction of the possible speed.
DEFAULT_THREADS = 32


class Executor(abc.ABC):
    """Runs node calls somewhere and hands back futures.

    Subclasses implement `submit` and `shutdown` and set `width`. `run_started`
    and `run_finished` are optional hooks (no-ops here) called by the engine
    around each run, on the driver thread; `run_cancelled` stops a cancelled
    run's calls (here: its timed calls in this process) and `abandon` releases
    the workers of a run that will not wait for its calls.
    """

    #: How many calls run at the same time.
    width: int = 1
    #: Whether the engine may make a call on its own thread when it is the only
    #: one that can run (nothing else in flight or waiting): nothing could run
    #: beside it, so handing it to a worker would only add two thread switches.
    #: Off for backends whose point is *where* calls run (Dask, processes).
    lone_calls_inline: bool = False

    @abc.abstractmethod
    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Start ``fn(*args)`` and return a future of its result."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Release workers; calls already submitted finish first."""

    def dispatch(self, fn: Callable[..., Any], args: tuple[Any, ...], report: Report) -> None:
        """Start ``fn(*args)``; when it ends, ``report(outcome)`` with a done future-like `Outcome`.

        The engine's way in (`report` may run on any thread). By default a
        `submit` and a done-callback; a backend may skip the future (threads do).
        """
        self.submit(fn, *args).add_done_callback(report)

    def run_started(self, run: Run) -> None:  # noqa: B027 -- an optional hook, empty on purpose
        """Hook: a run is about to submit its first node."""

    def run_finished(self, run: Run) -> None:  # noqa: B027 -- an optional hook, empty on purpose
        """Hook: a run has ended (every submitted call has completed, unless it was cancelled)."""

    def run_cancelled(self, run: Run) -> None:
        """Hook: `run` is cancelled; stop its running calls where possible (timed calls run in processes).

        The default stops the timed calls of the run made in this process. A
        call without a timeout runs in a thread, which cannot be stopped: the
        engine records it cancelled and stops waiting for it.
        """
        from .timeouts import stop_scope

        stop_scope(run.id)

    def abandon(self) -> None:
        """Release the workers without waiting for calls still running (after a cancelled run)."""
        self.shutdown()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(width={self.width})"


class ThreadExecutor(Executor):
    """Runs calls on a pool of threads (the default executor).

    The threads are daemons: a call without a timeout cannot be stopped, and
    after a cancelled run one may still be running; it must not keep the
    interpreter from exiting (a ``concurrent.futures`` pool joins its threads
    at exit).

    Args:
        max_workers: how many calls run at once; default 32.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        width = DEFAULT_THREADS if max_workers is None else max_workers
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValidationError(f"max_workers must be a whole number ≥ 1, got {max_workers!r}.")
        self.width = width
        self.lone_calls_inline = True
        # (future, fn, args) from `submit`; (report, fn, args) from `dispatch`; None ends a thread.
        self._work: queue.SimpleQueue[tuple[Any, Callable[..., Any], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle: queue.SimpleQueue[None] = queue.SimpleQueue()  # a token per waiting thread (C-level, atomic)
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._put((future, fn, args))
        return future

    def dispatch(self, fn: Callable[..., Any], args: tuple[Any, ...], report: Report) -> None:
        """Like `submit`, without a future: the thread reports an `Outcome` (no condition, no callbacks list)."""
        self._put((report, fn, args))

    def _put(self, item: tuple[Any, Callable[..., Any], tuple[Any, ...]]) -> None:
        if self._closed:
            raise RuntimeError("This ThreadExecutor is shut down.")
        self._work.put(item)
        try:
            self._idle.get_nowait()  # a thread waits for it
        except queue.Empty:  # none: start one, up to the width
            with self._lock:
                if len(self._threads) < self.width:
                    thread = threading.Thread(
                        target=self._serve, name=f"flowkit-node_{len(self._threads)}", daemon=True
                    )
                    self._threads.append(thread)
                    thread.start()

    def _serve(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            taker, fn, args = item
            if not isinstance(taker, concurrent.futures.Future):  # dispatched: report straight back
                try:
                    outcome = Outcome(fn(*args))
                except BaseException as exc:  # carried to the engine, as a future would carry it
                    outcome = Outcome(error=exc)
                taker(outcome)
                del outcome
            elif taker.set_running_or_notify_cancel():
                try:
                    taker.set_result(fn(*args))
                except BaseException as exc:  # the future carries it, as a pool's would
                    taker.set_exception(exc)
            del item, taker
            self._idle.put(None)

    def shutdown(self) -> None:
        self._close(wait=True)

    def abandon(self) -> None:
        self._close(wait=False)

    def _close(self, *, wait: bool) -> None:
        with self._lock:
            self._closed, threads = True, list(self._threads)
        for _ in threads:
            self._work.put(None)
        if wait:
            for thread in threads:
                thread.join()


class InlineExecutor(Executor):
    """Runs each call at once in the calling thread; the future is done when `submit` returns.

    Args:
        max_workers: accepted for a uniform signature; must be 1 or None.
    """

    width = 1
    lone_calls_inline = True

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers not in (None, 1):
            raise ValidationError("The inline executor runs one call at a time; leave max_workers unset.")

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # the future carries it, as a pool's would
            future.set_exception(exc)
        return future

    def shutdown(self) -> None:
        pass


_FACTORIES: dict[str, Callable[..., Executor] | str] = {
    "threads": ThreadExecutor,
    "inline": InlineExecutor,
    "dask": "flowkit.executors.dask_executor:DaskExecutor",
}


def register_executor(name: str, factory: Callable[..., Executor] | str) -> None:
    """Make an executor available by name (``ws.run(..., executor=name)``, ``flowkit run --executor``).

    Args:
        name: the name users type.
        factory: a callable taking ``max_workers=`` and returning an `Executor`,
            or ``"package.module:Class"`` imported on first use.
    """
    _FACTORIES[name] = factory


def executor_names() -> list[str]:
    """The names `make_executor` accepts."""
    return sorted(_FACTORIES)


def make_executor(name: str, *, max_workers: int | None = None) -> Executor:
    """Build the executor registered under `name`."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ValidationError(f"Unknown executor {name!r}; choose one of {', '.join(executor_names())}.")
    if isinstance(factory, str):
        module_name, _, attribute = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise ValidationError(f"Executor {name!r} is not available: {type(exc).__name__}: {exc}") from exc
    executor = factory(max_workers=max_workers)
    if not isinstance(executor, Executor):
        raise ValidationError(f"Executor {name!r} did not build a flowkit Executor.")
    return executor


def choose_executor(executor: Executor | str | None, max_workers: int | None) -> tuple[Executor, bool]:
    """The executor a run uses, and whether the run owns it (and shuts it down after).

    Args:
        executor: an `Executor` (the caller's: not shut down), a registered name, or None for threads.
        max_workers: the width of an executor built here; refused with the caller's own.
    """
    if executor is None:
        return ThreadExecutor(max_workers=max_workers), True
    if isinstance(executor, str):
        return make_executor(executor, max_workers=max_workers), True
    if not isinstance(executor, Executor):
        raise ValidationError(f"executor must be a flowkit Executor or a name, got {type(executor).__name__}.")
    if max_workers is not None:
        raise ValidationError("max_workers sizes an executor flowkit builds; size your own executor instead.")
    return executor, False
