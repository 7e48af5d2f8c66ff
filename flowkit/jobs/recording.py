"""`flowkit.record(key, value)`: values a notebook hands back to whoever ran it.

Inside a kernel, a recorded value is published as a display output of its own
MIME type (``application/vnd.flowkit.record+json``), so it travels inside the
output notebook itself, like scrapbook's ``glue``: no side file to lose or to
mix up between parallel runs. `records_of` reads them back from an executed
notebook (the last value of a key wins). A notebook node returns them to
downstream nodes; a job reads its run's id this way.

This module stays light (no papermill, no jupyter_client): it is imported by
every notebook that records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..jsonvalue import check_json
from ..model import check_identifier

RECORD_MIME = "application/vnd.flowkit.record+json"
_PREVIEW = 80
_recorded: dict[str, Any] = {}


def record(key: str, value: Any) -> None:
    """Record `value` under `key` for whoever runs this notebook.

    Args:
        key: an identifier, so downstream templates can write ``{{ node.values.key }}``.
        value: strict JSON (numbers, text, booleans, None, lists, objects).

    Example::

        total = sum(rows)
        fk.record("total", total)
    """
    check_identifier(key, "Recorded key")
    check_json(value, f"recorded {key!r}")
    _recorded[key] = value
    shell = _kernel_shell()
    if shell is not None:
        from IPython.display import publish_display_data

        preview = repr(value)
        if len(preview) > _PREVIEW:
            preview = preview[: _PREVIEW - 1] + "…"
        publish_display_data({RECORD_MIME: {"key": key, "value": value}, "text/plain": f"recorded {key} = {preview}"})


def recorded() -> dict[str, Any]:
    """What this process recorded so far (outside a kernel, the only trace of `record`)."""
    return dict(_recorded)


def records_of(notebook: Mapping[str, Any]) -> dict[str, Any]:
    """The values an executed notebook recorded, in cell order; the last value of a key wins."""
    found: dict[str, Any] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            item = (output.get("data") or {}).get(RECORD_MIME)
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                found[item["key"]] = item.get("value")
    return found


def _kernel_shell() -> Any:
    """The IPython shell when running inside a Jupyter kernel, else None (plain Python, a terminal IPython)."""
    import sys

    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None
