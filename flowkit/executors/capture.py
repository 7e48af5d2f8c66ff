"""Catch what a task prints and logs, per call, and redact it; redact whatever else gets out.

Tasks run on pool threads that share one ``sys.stdout``. While output
capture is on (`capturing`), ``sys.stdout`` and ``sys.stderr`` are proxies:
a write from a thread that is running a task (inside `task_output`) goes to
that call's buffer, which becomes the node's log; any other write goes to the
real stream with every active secret masked. Logging is handled the same
way: a record-factory hook masks secrets in every record as it is created
(before any handler sees it) and a root handler files records of task
threads into their call's log.

Python-level output only: a C extension or a subprocess writing straight to
file descriptor 1 bypasses ``sys.stdout``. Calls with a timeout run in a child
process whose descriptors 1 and 2 are redirected too (see `flowkit.executors.call`).

While capture is on, two things a task could do to the whole process are
turned into failures of its own call: ``sys.stdout.close()`` from a task
thread closes nothing (the run, and the command line printing after it, go
on writing), and ``os._exit()`` from a task thread raises `ProcessExit`
instead of ending the process that drives the run, with every other node in it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TextIO

from ..redaction import Redactor

#: A task printing without end must not exhaust memory: its log keeps the first part.
MAX_LOG_CHARS = 1_000_000
_PLUGIN_PREFIX = "flowkit._plugins."

_local = threading.local()
_lock = threading.Lock()
_users = 0
_active: list[Redactor] = []
_saved: dict[str, Any] = {}

#: The real ``os._exit``: flowkit's own code ends a process with this one.
real_exit = os._exit
#: Whether `os._exit` from a task thread is refused (off in a timed call's own child process).
guard_exit = True


class ProcessExit(BaseException):  # noqa: N818 -- it stands for the call, like SystemExit
    """Raised in a task thread that calls ``os._exit`` while a run is going: it fails that call only."""


def _guarded_exit(status: int) -> NoReturn:
    if guard_exit and getattr(_local, "log", None) is not None and os.getpid() == _saved.get("pid"):
        raise ProcessExit(
            f"os._exit({status}) was refused: it would end the whole process running the workflow. "
            "A task that must end its own process needs a timeout (it then runs in a child process)."
        )
    real_exit(status)


class CallLog:
    """The output of one task call, redacted as it is read; told to this thread's `streamed` listener."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.parts: list[str] = []
        self.size = 0
        self.listener: Callable[[CallLog], None] | None = getattr(_local, "listener", None)

    def write(self, text: str) -> None:
        if self.size >= MAX_LOG_CHARS:
            return
        self.parts.append(text[: MAX_LOG_CHARS - self.size])
        self.size += len(text)
        if self.size >= MAX_LOG_CHARS:
            self.parts.append(f"\n[log cut at {MAX_LOG_CHARS:,} characters]\n")
        if self.listener is not None:
            self.listener(self)

    def text(self) -> str:
        return self.redactor.text(printable("".join(self.parts))) if self.parts else ""


def printable(text: str) -> str:
    """`text` with lone surrogates (valid in a str, not in UTF-8 or a run record) replaced by ``?``."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def _mask_everywhere(text: str) -> str:
    for redactor in tuple(_active):
        text = redactor.text(text)
    return text


class _StreamProxy:
    """Stands in for sys.stdout / sys.stderr while capture is on."""

    def __init__(self, target: TextIO) -> None:
        self._target = target

    def write(self, text: str) -> int:
        log = getattr(_local, "log", None)
        if log is not None:
            log.write(text)
            return len(text)
        return self._target.write(_mask_everywhere(text) if _active else text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if getattr(_local, "log", None) is None:
            self._target.flush()

    def close(self) -> None:
        log = getattr(_local, "log", None)
        if log is not None:  # a task closing the run's stdout: nothing else could print after it
            log.write("[flowkit: the task closed sys.stdout/sys.stderr; ignored]\n")
            return
        self._target.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _TaskLogHandler(logging.Handler):
    """Files log records of task threads into their call's log."""

    def emit(self, record: logging.LogRecord) -> None:
        log = getattr(_local, "log", None)
        if log is not None:
            name = record.name[len(_PLUGIN_PREFIX) :] if record.name.startswith(_PLUGIN_PREFIX) else record.name
            line = f"{record.levelname} {name}: {record.getMessage()}\n"
            details = record.exc_text or ""
            if not details and record.exc_info:
                details = logging.Formatter().formatException(record.exc_info)
            log.write(line + (details + "\n" if details else ""))
        elif not _other_handlers(record) and record.levelno >= logging.lastResort.level:  # type: ignore[union-attr]
            # With no handler configured, Python prints warnings via `lastResort`;
            # our presence on the root logger must not silence that.
            logging.lastResort.handle(record)  # type: ignore[union-attr]


def _other_handlers(record: logging.LogRecord) -> bool:
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(not isinstance(handler, _TaskLogHandler) for handler in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record: logging.LogRecord = _saved["factory"](*args, **kwargs)
    log = getattr(_local, "log", None)
    if log is None and not _active:
        return record
    mask = log.redactor.text if log is not None else _mask_everywhere
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it later, as it would anyway
        return record
    record.msg, record.args = mask(message), None
    if record.exc_info:
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    return record


def _install() -> None:
    _saved.update(
        stdout=sys.stdout,
        stderr=sys.stderr,
        factory=logging.getLogRecordFactory(),
        handler=_TaskLogHandler(),
        pid=os.getpid(),
    )
    os._exit = _guarded_exit
    sys.stdout = _StreamProxy(sys.stdout)  # type: ignore[assignment]
    sys.stderr = _StreamProxy(sys.stderr)  # type: ignore[assignment]
    logging.setLogRecordFactory(_redacting_factory)
    logging.getLogger().addHandler(_saved["handler"])


def _uninstall() -> None:
    # Only undo what is still ours: someone may have replaced a stream meanwhile.
    if isinstance(sys.stdout, _StreamProxy):
        sys.stdout = _saved["stdout"]
    if isinstance(sys.stderr, _StreamProxy):
        sys.stderr = _saved["stderr"]
    if logging.getLogRecordFactory() is _redacting_factory:
        logging.setLogRecordFactory(_saved["factory"])
    logging.getLogger().removeHandler(_saved["handler"])
    if os._exit is _guarded_exit:
        os._exit = real_exit
    _saved.clear()


def _enter(redactors: tuple[Redactor, ...]) -> None:
    global _users
    with _lock:
        if _users == 0:
            _install()
        _users += 1
        _active.extend(redactor for redactor in redactors if redactor)


def _leave(redactors: tuple[Redactor, ...]) -> None:
    global _users
    with _lock:
        for redactor in redactors:
            if redactor:
                _active.remove(redactor)
        _users -= 1
        if _users == 0:
            _uninstall()


def current_redactor() -> Redactor | None:
    """The redactor of the task call running on this thread (None outside a call): what it must not write."""
    log = getattr(_local, "log", None)
    return log.redactor if log is not None else None


def streamed(listener: Callable[[CallLog], None], function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, the call logs it opens on this thread telling `listener` of each write.

    How a node's output is seen while it runs (`flowkit.run.output`); a
    top-level function so an executor can run it like the call it wraps.
    """
    previous = getattr(_local, "listener", None)
    _local.listener = listener
    try:
        return function(*args)
    finally:
        _local.listener = previous


@contextlib.contextmanager
def capturing(*redactors: Redactor) -> Iterator[None]:
    """Keep capture on for a block (re-entrant, thread-safe); mask these redactors' secrets in all output."""
    _enter(redactors)
    try:
        yield
    finally:
        _leave(redactors)


class task_output:  # noqa: N801 -- used as a context manager, like contextlib's
    """Send this thread's prints and log records to a `CallLog` for a ``with`` block.

    A class rather than a generator: it wraps every task call, so it is kept cheap.
    """

    __slots__ = ("log", "_previous", "_registered")

    def __init__(self, redactor: Redactor) -> None:
        self.log = CallLog(redactor)
        self._previous: CallLog | None = None
        self._registered: tuple[Redactor, ...] = ()

    def __enter__(self) -> CallLog:
        redactor = self.log.redactor
        # Inside a run, capture is on and this redactor is active already: no lock needed.
        if not (_users and (not redactor or redactor in _active)):  # Redactor compares by identity
            self._registered = (redactor,)
            _enter(self._registered)
        self._previous = getattr(_local, "log", None)
        _local.log = self.log
        return self.log

    def __exit__(self, *exc_info: object) -> None:
        _local.log = self._previous
        if self._registered:
            _leave(self._registered)
