"""Names and the small vocabularies every noun uses: statuses, param kinds, the mask, name checks."""

from __future__ import annotations

import keyword
import re
import unicodedata

from ..errors import InvalidName, ValidationError

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


MAX_NAME_LENGTH = 100


# Characters a name may not hold: controls (C0, DEL, C1), format characters (bidi overrides and
# isolates, zero-width spaces and joiners, the BOM, soft hyphens), line and paragraph separators,
# surrogates and unassigned code points. They are invisible or reorder the text, so two names
# that differ only by them would look identical in every list.
_INVISIBLE = {"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"}


def check_identifier(name: object, what: str) -> str:
    """Return `name` if it is a Python identifier that is not a keyword or dunder."""
    if type(name) is str and name in _valid_identifiers:  # every run checks every node name: remembered once valid
        return name
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise InvalidName(
            f"{what} {name!r} is not valid: use letters, digits and underscores, not starting with a digit."
        )
    if keyword.iskeyword(name) or (name.startswith("__") and name.endswith("__")):
        raise InvalidName(f"{what} {name!r} is reserved in Python; choose another name.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"{what} {name[:20]!r}… is longer than {MAX_NAME_LENGTH} characters.")
    if len(_valid_identifiers) < _REMEMBERED:
        _valid_identifiers.add(name)
    return name


_REMEMBERED = 100_000  # valid names kept (≤ 100 characters each): a bound, not a cache policy
_valid_identifiers: set[str] = set()


def check_seconds(value: object, what: str, error: type[Exception] = ValidationError) -> None:
    """Refuse `value` unless it is a positive number of seconds (a bool, NaN or ≤ 0 is not): ``error`` names `what`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise error(f"{what} must be a positive number of seconds, got {value!r}.")


def normal_label(name: str) -> str:
    """`name` in Unicode NFC, the form names are stored and compared in ("é" is one code point, not "e" + "◌́")."""
    return name if name.isascii() else unicodedata.normalize("NFC", name)


def check_label(name: object, what: str) -> str:
    """Return `name`, normalised to NFC, if it is a usable display name (integrations, workflows).

    NFC makes the two spellings of "Café" (precomposed, or "e" + a combining
    accent) one name, so they cannot coexist; invisible and control
    characters are refused for the same reason (see `_INVISIBLE`).
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidName(f"{what} must be a non-empty string, got {name!r}.")
    hidden = next((char for char in name if unicodedata.category(char) in _INVISIBLE), None)
    if hidden is not None:
        label = unicodedata.name(hidden, "a control character")
        raise InvalidName(
            f"{what} {name!r} contains an invisible or control character (U+{ord(hidden):04X}, {label}); "
            "type the name again without it."
        )
    name = normal_label(name)
    if name != name.strip():
        raise InvalidName(f"{what} {name!r} has leading or trailing spaces.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"{what} {name[:20]!r}… is longer than {MAX_NAME_LENGTH} characters.")
    return name
