"""Names and the small vocabularies every noun uses: statuses, param kinds, the mask, name checks."""

from __future__ import annotations

import keyword
import re

from ..errors import InvalidName

PARAM_KINDS = ("text", "password", "number", "integer", "boolean", "choice", "json")
#: The kinds whose values can be secret: a password always, a json value when marked ``secret=True``.
SECRET_KINDS = ("password", "json")


#: ``cancelled``: the node was running when its run was cancelled (stopped, or no longer waited for).
NODE_STATUSES = ("pending", "running", "success", "failed", "skipped", "cancelled")

#: ``cancelled``: the run was stopped early (its deadline, a cancel, Ctrl-C); see `Workspace.run`.
RUN_STATUSES = ("running", "success", "failed", "cancelled")


MASK = "***"


# \Z, not $: "$" also matches before a trailing newline, which let "name\n" through.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


MAX_NAME_LENGTH = 100


def check_identifier(name: object, what: str) -> str:
    """Return `name` if it is a Python identifier that is not a keyword or dunder."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise InvalidName(
            f"{what} {name!r} is not valid: use letters, digits and underscores, not starting with a digit."
        )
    if keyword.iskeyword(name) or (name.startswith("__") and name.endswith("__")):
        raise InvalidName(f"{what} {name!r} is reserved in Python; choose another name.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"{what} {name[:20]!r}… is longer than {MAX_NAME_LENGTH} characters.")
    return name


def check_label(name: object, what: str) -> str:
    """Return `name` if it is a usable display name (integrations, workflows)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidName(f"{what} must be a non-empty string, got {name!r}.")
    if _CONTROL.search(name):
        raise InvalidName(f"{what} {name!r} contains control characters.")
    if name != name.strip():
        raise InvalidName(f"{what} {name!r} has leading or trailing spaces.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"{what} {name[:20]!r}… is longer than {MAX_NAME_LENGTH} characters.")
    return name
