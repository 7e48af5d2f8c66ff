"""Fixtures shared by every test: an isolated key folder and environment, a workspace, a canary."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

import flowkit as fk

FLOWKIT_ENV = ("FLOWKIT_SECRET_KEY", "FLOWKIT_WORKSPACE", "FLOWKIT_INTEGRATIONS_PATH", "FLOWKIT_CONFIG_DIR")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own key folder and none of the user's flowkit settings."""
    for name in FLOWKIT_ENV:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path_factory.mktemp("flowkit-config")
    monkeypatch.setenv("FLOWKIT_CONFIG_DIR", str(config))
    return config


@pytest.fixture
def ws(tmp_path: Path) -> fk.Workspace:
    return fk.Workspace(tmp_path / "workspace")


@pytest.fixture
def canary() -> str:
    """A random secret value to hunt for where it must not be."""
    return f"FLOWKIT-CANARY-{secrets.token_hex(8)}"


@pytest.fixture(params=["files", "memory"])
def any_ws(request: pytest.FixtureRequest, tmp_path: Path) -> fk.Workspace:
    """A workspace on each store backend, as TinyDB's tests run each storage: the same test, both stores."""
    from flowkit.store import MemoryStore

    store = MemoryStore() if request.param == "memory" else None
    return fk.Workspace(tmp_path / "workspace", store=store)
