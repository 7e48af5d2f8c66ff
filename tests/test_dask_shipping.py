"""Packing integration folders for Dask workers and unpacking them there (no cluster needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import write_integration

from flowkit.errors import IntegrationLoadError
from flowkit.executors import dask_shipping, invoke
from flowkit.executors.dask_shipping import ModuleSource, pack_module, shipped_folder, signature, unpack

pytest.importorskip("distributed")

TASKS = """
    from .helper import greet

    def hello(credentials, params):
        return {"success": True, "message": greet(params["who"])}
"""


def make_module(root: Path, name: str = "shipme") -> Path:
    folder = write_integration(root, name, TASKS)
    (folder / "helper.py").write_text("def greet(who):\n    return 'hello ' + who\n")
    (folder / "data").mkdir()
    (folder / "data" / "template.txt").write_text("Dear {name}")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "tasks.cpython-311.pyc").write_bytes(b"\0bytecode")
    (folder / ".env").write_text("NOT_SHIPPED=1")
    (folder / "old.pyc").write_bytes(b"\0")
    return folder


def test_pack_takes_code_and_data_but_not_bytecode_or_hidden_files(tmp_path: Path) -> None:
    source = pack_module("shipme", make_module(tmp_path))
    assert [path for path, _ in source.files] == ["__init__.py", "data/template.txt", "helper.py", "tasks.py"]
    assert dict(source.files)["data/template.txt"] == b"Dear {name}"
    assert "4 file(s)" in repr(source) and "Dear" not in repr(source)


def test_the_digest_follows_the_content(tmp_path: Path) -> None:
    folder = make_module(tmp_path)
    first, stamp = pack_module("shipme", folder), signature(folder)
    assert pack_module("shipme", folder).digest == first.digest
    (folder / "helper.py").write_text("def greet(who):\n    return 'hi ' + who\n")
    assert pack_module("shipme", folder).digest != first.digest
    assert signature(folder) != stamp
    copy = make_module(tmp_path / "elsewhere")
    assert pack_module("shipme", copy).digest == first.digest  # the same code anywhere is the same version


def test_a_link_leading_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = make_module(tmp_path)
    secret = tmp_path / "outside.txt"
    secret.write_text("not part of the module")
    os.symlink(secret, folder / "link.txt")
    with pytest.raises(IntegrationLoadError, match="leads outside its folder"):
        pack_module("shipme", folder)


def test_a_folder_too_big_to_ship_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_module(tmp_path)
    monkeypatch.setattr(dask_shipping, "MAX_SHIP_BYTES", 100)
    (folder / "data" / "big.bin").write_bytes(b"x" * 200)
    with pytest.raises(IntegrationLoadError, match="install the integration as a package"):
        pack_module("shipme", folder)


def test_a_folder_without_init_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(IntegrationLoadError, match="has no __init__.py"):
        pack_module("empty", tmp_path / "empty")


def test_unpack_rebuilds_the_folder_once_and_the_task_runs_from_it(tmp_path: Path) -> None:
    source = pack_module("shipme", make_module(tmp_path / "driver"))
    worker_dir = tmp_path / "worker"
    folder = unpack(source, worker_dir)
    assert folder.is_relative_to(worker_dir) and folder.name == "shipme"
    assert (folder / "data" / "template.txt").read_text() == "Dear {name}"
    assert not (folder / ".env").exists()
    assert unpack(source, worker_dir) == folder  # a second shipment of the same version is a no-op
    assert shipped_folder("shipme", source.digest) == folder
    outcome = invoke.call_task("shipme", str(folder), "hello", {}, {"who": "worker"})
    assert outcome["ok"] and outcome["result"]["message"] == "hello worker"


def test_a_worker_finds_an_unpacked_version_by_its_folder(tmp_path: Path) -> None:
    source = pack_module("shipme", make_module(tmp_path / "driver"))
    folder = unpack(source, tmp_path / "worker")
    dask_shipping._unpacked.clear()  # as in a fresh worker process sharing the local directory
    assert shipped_folder("shipme", source.digest) is None
    assert shipped_folder("shipme", source.digest, base=tmp_path / "worker") == folder
    assert shipped_folder("shipme", "0" * 64, base=tmp_path / "worker") is None


@pytest.mark.parametrize("path", ["../evil.py", "/etc/evil.py", "a/../../evil.py", ""])
def test_unpack_refuses_paths_leaving_its_folder(tmp_path: Path, path: str) -> None:
    source = ModuleSource(name="bad", digest="f" * 64, files=(("__init__.py", b""), (path, b"x = 1")))
    with pytest.raises(IntegrationLoadError, match="not a plain relative path"):
        unpack(source, tmp_path / "worker")
    assert not (tmp_path / "evil.py").exists()
