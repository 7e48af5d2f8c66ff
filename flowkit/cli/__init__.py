"""The ``flowkit`` command: a thin shell over `Workspace`.

It parses arguments, calls the same functions a notebook calls, prints, and
maps flowkit errors to exit codes. Heavy modules load inside the commands, so
``flowkit --help`` starts fast.

Exit codes: 0 ok; 1 a run or job failed; 2 bad input or refused; 3 not found;
4 secret key problem; 5 workspace file damaged or locked; 6 a run cancelled
(``flowkit run --timeout`` passed, or Ctrl-C).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .base import EXIT_CANCELLED, EXIT_FAILED, EXIT_INVALID, EXIT_KEY, EXIT_NOT_FOUND, EXIT_STORE
from .commands import lab
from .parser import build_parser

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_KEY",
    "EXIT_NOT_FOUND",
    "EXIT_STORE",
    "build_parser",
    "exit_code",
    "main",
]


def exit_code(exc: BaseException) -> int:
    from .. import errors

    if isinstance(exc, errors.NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, errors.SecretKeyError):
        return EXIT_KEY
    if isinstance(exc, errors.StoreError):
        return EXIT_STORE
    return EXIT_INVALID


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "handler", None) is not lab:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra  # `flowkit lab` hands what it does not know to JupyterLab
    from ..errors import FlowkitError, NotFoundError
    from .where import find_workspace, not_found_message

    args.workspace_path = find_workspace(getattr(args, "workspace", None))
    try:
        return int(args.handler(args))
    except NotFoundError as exc:
        print(f"error: {not_found_message(exc, args, args.workspace_path)}", file=sys.stderr)
        return exit_code(exc)
    except FlowkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
