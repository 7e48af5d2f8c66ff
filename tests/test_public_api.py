"""The names a user types: `flowkit.__all__` is sorted, complete and light to import."""

from __future__ import annotations

import subprocess
import sys

import flowkit as fk


def test_every_exported_name_resolves() -> None:
    for name in fk.__all__:
        assert getattr(fk, name) is not None, name


def test_all_is_sorted_and_unique() -> None:
    assert fk.__all__ == sorted(set(fk.__all__))


def test_the_design_cards_public_api_is_exported() -> None:
    for name in ("Workspace", "Workflow", "Param", "Run", "task", "record", "ui", "jobs", "executors", "testing"):
        assert name in fk.__all__, name
    workspace_api = ("registry", "types", "integrations", "workflows", "runs", "validate", "run", "resume", "path")
    for attribute in workspace_api:
        assert hasattr(fk.Workspace, attribute) or attribute in fk.Workspace.__init__.__code__.co_names, attribute


def test_public_names_are_documented() -> None:
    for name in fk.__all__:
        value = getattr(fk, name)
        if callable(value) or isinstance(value, type):
            assert (value.__doc__ or "").strip(), f"flowkit.{name} has no docstring"


def test_importing_flowkit_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, flowkit\n"
        "heavy = {'ipywidgets', 'papermill', 'jinja2', 'networkx', 'tinydb', 'cryptography', 'distributed'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
