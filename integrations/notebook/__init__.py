"""Notebooks as workflow steps: run a notebook with papermill; the values it records go downstream."""

from .tasks import CREDENTIALS as CREDENTIALS
from .tasks import run_notebook, test_connection

__all__ = ["run_notebook", "test_connection"]
