"""The rendering budget: a template may take so long and produce so much, and no more.

A template is user input running inside the process that drives the run, so
what it may cost is bounded three ways while one node's params render:

* **time** (default 1 s): a trace function on the rendering thread checks the
  clock at every line of the compiled template and at every function call it
  makes, and raises `RenderBudgetExceeded` past the limit. Tracing is set on
  that thread only, and only while it renders with Jinja (a plain
  ``{{ node.key }}`` never gets here);
* **size** (default 1,000,000 characters): the output is counted as Jinja
  produces it, and the result a single expression returns is measured;
* **work**: one operation can allocate far more than it outputs in a single
  step that no trace function interrupts (``9**(9**9)``, ``'x' * 10**9``,
  ``'%300000000s' % 'x'``, ``'x' | center(10**9)``), and a loop or a
  recursive macro can double a value at each step. The environment
  intercepts the arithmetic operators, ``~``, ``str.format`` and the filters
  that take a width or replace text, refuses any one result over the size
  limit before making it, and charges each result to the render, which may
  make at most `WORK_FACTOR` × the size limit in all.

The engine renders rich templates off its own thread as well, and gives up on
a render that overruns its time by `GRACE` seconds, so no template can stall
the nodes beside it (see `flowkit.run.engine`).
"""

from __future__ import annotations

import operator
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import TemplateError, ValidationError

#: Seconds a render may overrun its budget before the engine stops waiting for it.
GRACE = 0.5
#: All the intermediate values one render makes may add up to this many times `max_chars`.
WORK_FACTOR = 10
_TEMPLATE_FILE = "<template>"
_DIGITS = re.compile(r"\d+")
_local = threading.local()


class RenderBudgetExceeded(TemplateError):
    """Raised when a template runs past its rendering budget (time, output size or work)."""


class Spent(BaseException):  # noqa: N818 -- a signal inside a render, like GeneratorExit
    """Raised inside a render that passes its budget; the renderer turns it into its `error`.

    A BaseException so that no ``except Exception`` in a filter or in Jinja's
    runtime can swallow it: the trace function that raises it is switched off
    by Python for the rest of the render, so it must stop the render there.
    """

    def __init__(self, error: RenderBudgetExceeded) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class RenderBudget:
    """How long one node's params may take to render, and how much they may produce.

    Args:
        seconds: the time limit for all of a node's templates together.
        max_chars: the most characters (for a value that is not text, of its
            JSON) one render may produce; one operation may not make more either.
    """

    seconds: float = 1.0
    max_chars: int = 1_000_000

    def __post_init__(self) -> None:
        seconds, chars = self.seconds, self.max_chars
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 3600:
            raise ValidationError(f"RenderBudget seconds must be a number in (0, 3600], got {seconds!r}.")
        if isinstance(chars, bool) or not isinstance(chars, int) or chars < 1:
            raise ValidationError(f"RenderBudget max_chars must be a whole number ≥ 1, got {chars!r}.")

    def too_long(self) -> RenderBudgetExceeded:
        return RenderBudgetExceeded(
            f"took longer than its {self.seconds:g} s rendering budget and was stopped "
            "(simplify the template, or give the run a larger render_budget=)."
        )

    def too_big(self, size: int | None = None) -> RenderBudgetExceeded:
        made = f" ({size:,} or more)" if size is not None else ""
        return RenderBudgetExceeded(
            f"would produce more than the {self.max_chars:,} characters its rendering budget allows{made} "
            "(give the run a larger render_budget= if this is meant)."
        )


DEFAULT_BUDGET = RenderBudget()


class _Meter:
    """One render's clock and tally; lives in a thread-local while the render runs."""

    __slots__ = ("budget", "deadline", "made", "output", "previous")

    def __init__(self, budget: RenderBudget, previous: Callable[..., Any] | None) -> None:
        self.budget = budget
        self.previous = previous  # the thread's own trace function (coverage, a debugger), still called
        self.deadline = time.monotonic() + budget.seconds
        self.made = 0  # characters of every intercepted result
        self.output = 0  # characters output so far

    def charge(self, size: int) -> None:
        self.made += size
        if size > self.budget.max_chars or self.made > WORK_FACTOR * self.budget.max_chars:
            raise Spent(self.budget.too_big(size))


def _meter() -> _Meter | None:
    return getattr(_local, "meter", None)


def _trace(frame: Any, event: str, arg: Any) -> Callable[..., Any] | None:
    """The render thread's trace function: checks the clock at each call, and each line of a template."""
    meter = _meter()
    if meter is None:
        return None
    if time.monotonic() > meter.deadline:
        raise Spent(meter.budget.too_long())  # raised into the traced frame: the render stops there
    inner = None
    if meter.previous is not None:
        inner = meter.previous(frame, event, arg)
        if sys.gettrace() is not _trace:  # coverage's tracer, called so, installs itself in our place
            sys.settrace(_trace)
    return _watching(meter, inner) if frame.f_code.co_filename == _TEMPLATE_FILE else inner


def _watching(meter: _Meter, inner: Callable[..., Any] | None) -> Callable[..., Any]:
    """A template frame's local trace function: the clock at every line, then the thread's own tracer."""

    def local(frame: Any, event: str, arg: Any) -> Callable[..., Any]:
        nonlocal inner
        if time.monotonic() > meter.deadline:
            raise Spent(meter.budget.too_long())
        if inner is not None:
            inner = inner(frame, event, arg)
        return local

    return local


@contextmanager
def metered(budget: RenderBudget) -> Iterator[_Meter]:
    """Render under `budget` on this thread: time traced, work and output counted."""
    previous_meter, previous_trace = _meter(), sys.gettrace()
    meter = _local.meter = _Meter(budget, previous_trace)
    sys.settrace(_trace)
    try:
        yield meter
    finally:
        sys.settrace(previous_trace)
        _local.meter = previous_meter


def count_output(chunks: Iterator[str]) -> str:
    """Join a template's output chunks, stopping once they pass the size budget."""
    meter = _meter()
    if meter is None:
        return "".join(chunks)
    parts = []
    for chunk in chunks:
        meter.output += len(chunk)
        if meter.output > meter.budget.max_chars:
            raise Spent(meter.budget.too_big(meter.output))
        parts.append(chunk)
    return "".join(parts)


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict)) else None


def _limit() -> int:
    meter = _meter()
    return meter.budget.max_chars if meter is not None else DEFAULT_BUDGET.max_chars


def _refuse_over(size: int) -> None:
    meter = _meter()
    if meter is not None:
        meter.charge(size)
    elif size > DEFAULT_BUDGET.max_chars:
        raise Spent(DEFAULT_BUDGET.too_big(size))


def check_format(text: Any) -> None:
    """Refuse a format string asking for a width or precision over the size budget (``%300000000s``)."""
    if isinstance(text, str):
        limit = _limit()
        for digits in _DIGITS.findall(text):
            if len(digits) > 12 or int(digits) > limit:
                _refuse_over(limit + 1)


def _predicted(op: str, left: Any, right: Any) -> int | None:
    """The size of ``left op right`` where it can be far larger than either, without computing it."""
    if op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        return int(abs(left).bit_length() * right * 0.302) + 1  # decimal digits
    if op == "*":
        for sequence, times in ((left, right), (right, left)):
            if _size(sequence) is not None and isinstance(times, int) and not isinstance(times, bool):
                return _size(sequence) * max(times, 0)  # type: ignore[operator]
    if op == "+" and _size(left) is not None and _size(right) is not None:
        return _size(left) + _size(right)  # type: ignore[operator]
    if op == "*" and isinstance(left, int) and isinstance(right, int):  # squaring in a loop doubles each time
        return int((left.bit_length() + right.bit_length()) * 0.302) + 1
    return None


BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}


def binop(op: str, left: Any, right: Any) -> Any:
    """``left op right``, refused first when its result would pass the size budget."""
    size = _predicted(op, left, right)
    if size is not None:
        _refuse_over(size)
    if op == "%":
        check_format(left)
    result = BINOPS[op](left, right)
    if op == "%" and isinstance(result, str):
        _refuse_over(len(result))
    return result


def concat(parts: tuple[Any, ...]) -> str:
    """Jinja's ``a ~ b``, charged to the render like any other result (a macro doubling a string recurses)."""
    text = "".join(map(str, parts))
    _refuse_over(len(text))
    return text


def _guard_width(name: str, fn: Callable[..., Any], width_args: tuple[int, ...], keywords: tuple[str, ...]) -> Any:
    """A filter that refuses width arguments (and results) over the size budget."""

    def guarded(*args: Any, **kwargs: Any) -> Any:
        limit = _limit()
        widths = [args[i] for i in width_args if i < len(args)] + [kwargs[k] for k in keywords if k in kwargs]
        if any(isinstance(width, int) and width > limit for width in widths):
            _refuse_over(limit + 1)
        if name == "format" and args:
            check_format(args[0])
        result = fn(*args, **kwargs)
        if isinstance(result, str):
            _refuse_over(len(result))
        return result

    guarded.__name__ = getattr(fn, "__name__", name)
    return guarded


def _guard_replace(fn: Callable[..., Any]) -> Any:
    def replace(*args: Any, **kwargs: Any) -> Any:
        # do_replace(eval_ctx, s, old, new, count=None): `new` may multiply `s`
        value, old, new = (list(args[1:4]) + [None, None, None])[:3]
        if isinstance(value, str) and isinstance(old, str) and isinstance(new, str):
            hits = value.count(old) if old else len(value) + 1
            _refuse_over(len(value) + hits * max(len(new) - len(old), 0))
        return fn(*args, **kwargs)

    return replace


def guard_filters(filters: dict[str, Any]) -> None:
    """Wrap the built-in filters that can make a large string from a small one."""
    # Positions count the value itself as 0 (and an eval context before it where Jinja passes one).
    for name, widths, keywords in (
        ("center", (1,), ("width",)),
        ("indent", (1,), ("width",)),
        ("truncate", (2,), ("length",)),
        ("wordwrap", (2,), ("width",)),
        ("format", (), ()),
    ):
        if name in filters:
            original = filters[name]
            guarded = _guard_width(name, original, widths, keywords)
            for attribute in ("jinja_pass_arg",):
                if hasattr(original, attribute):
                    setattr(guarded, attribute, getattr(original, attribute))
            filters[name] = guarded
    if "replace" in filters:
        original = filters["replace"]
        guarded = _guard_replace(original)
        if hasattr(original, "jinja_pass_arg"):
            guarded.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
        filters["replace"] = guarded


def measure(value: Any) -> None:
    """Refuse a rendered value over the size budget (text by its length, anything else by its JSON)."""
    meter = _meter()
    if meter is None:
        return
    if isinstance(value, str):
        size = len(value)
    elif isinstance(value, int):
        size = int(value.bit_length() * 0.302) + 1  # its decimal digits, without printing it
    elif isinstance(value, (float, bool)) or value is None:
        return
    else:
        import json

        try:
            size = len(json.dumps(value, default=str))
        except (TypeError, ValueError, RecursionError):
            return  # not JSON: the caller reports that
    if size > meter.budget.max_chars:
        raise Spent(meter.budget.too_big(size))
