"""The files integration against real files: reads, writes and listings that never leave the root."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
from pathlib import Path

import pytest
from fakes import builtin_task

from flowkit.errors import ParamsError
from flowkit.integrations.registry import Registry


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "a.txt").write_text("alpha\n")
    (folder / "docs" / "b.csv").write_text("x,y\n1,2\n")
    (folder / "top.txt").write_text("top\n")
    (folder / ".hidden").write_text("h")
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("outside secret\n")
    return folder


def run(task: str, root: Path, **params: object) -> dict:
    return builtin_task("files", task)({"root": str(root)}, params)


def test_module_declares_credentials_and_params() -> None:
    module = Registry(builtins=True, entry_points=False).module("files")
    assert [(p.name, p.kind, p.required) for p in module.credentials or []] == [("root", "text", True)]
    assert set(module.tasks) == {"read", "write", "list", "test_connection"}
    assert all(spec.declared and spec.summary for spec in module.tasks.values())


# -- read and write -----------------------------------------------------------------------------
def test_write_then_read(root: Path) -> None:
    written = run("write", root, path="out/new/report.txt", content="héllo\n")
    assert written == {
        "success": True,
        "message": "Wrote out/new/report.txt (7 bytes written).",
        "path": "out/new/report.txt",
        "bytes_written": 7,
        "size": 7,
    }
    assert (root / "out" / "new" / "report.txt").read_text() == "héllo\n"
    read = run("read", root, path="out/new/report.txt")
    assert read["success"] is True and read["content"] == "héllo\n" and read["size"] == 7
    assert run("read", root, path="./docs//a.txt")["content"] == "alpha\n"


def test_overwrite_is_atomic_and_keeps_the_mode(root: Path) -> None:
    target = root / "docs" / "a.txt"
    target.chmod(0o600)
    assert run("write", root, path="docs/a.txt", content="replaced")["success"] is True
    assert target.read_text() == "replaced" and (target.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt", "b.csv"]  # no temporary file left


def test_append_and_create_modes(root: Path) -> None:
    assert run("write", root, path="log.txt", content="one\n", mode="append")["success"] is True
    appended = run("write", root, path="log.txt", content="two\n", mode="append")
    assert appended["size"] == 8 and (root / "log.txt").read_text() == "one\ntwo\n"
    assert run("write", root, path="fresh.txt", content="x", mode="create")["success"] is True
    again = run("write", root, path="fresh.txt", content="y", mode="create")
    assert again["success"] is False and "already exists" in again["message"]
    assert (root / "fresh.txt").read_text() == "x"
    no_dirs = run("write", root, path="missing/x.txt", content="x", make_dirs=False)
    assert no_dirs["success"] is False and "does not exist" in no_dirs["message"]
    assert not (root / "missing").exists()


def test_binary_content_as_base64(root: Path) -> None:
    data = bytes(range(256))
    encoded = base64.b64encode(data).decode()
    assert run("write", root, path="blob.bin", content=encoded, encoding="base64")["bytes_written"] == 256
    assert (root / "blob.bin").read_bytes() == data
    assert run("read", root, path="blob.bin", encoding="base64")["content"] == encoded
    as_text = run("read", root, path="blob.bin")
    assert as_text["success"] is False and "read it with encoding base64" in as_text["message"]
    bad = run("write", root, path="x.bin", content="not base64!", encoding="base64")
    assert bad["success"] is False and "not valid base64" in bad["message"]
    unknown = run("read", root, path="top.txt", encoding="klingon")
    assert unknown["success"] is False and "Unknown encoding 'klingon'" in unknown["message"]


def test_read_refusals(root: Path) -> None:
    assert "No file 'nope.txt'" in run("read", root, path="nope.txt")["message"]
    assert "is a folder" in run("read", root, path="docs")["message"]
    big = run("read", root, path="docs/b.csv", max_bytes=4)
    assert big["success"] is False and "'docs/b.csv' is 8 bytes, over max_bytes (4)" in big["message"]
    assert "is a folder" in run("write", root, path="docs", content="x")["message"]
    assert "the root folder itself" in run("read", root, path=".")["message"]


# -- listing ---------------------------------------------------------------------------------------
def test_list(root: Path, outside: Path) -> None:
    (root / "link_out").symlink_to(outside)
    top = run("list", root)
    assert top["message"] == "3 item(s) in the root." and top["truncated"] is False
    assert [(e["path"], e["type"], e["size"]) for e in top["entries"]] == [
        ("docs", "folder", None),
        ("link_out", "symlink", None),
        ("top.txt", "file", 4),
    ]
    assert top["entries"][2]["modified"].endswith("+00:00")
    everything = run("list", root, recursive=True, include_hidden=True)
    paths = [e["path"] for e in everything["entries"]]
    assert paths == [".hidden", "docs", "docs/a.txt", "docs/b.csv", "link_out", "top.txt"]  # the link: not followed
    assert [e["path"] for e in run("list", root, path="docs", pattern="*.csv")["entries"]] == ["docs/b.csv"]
    capped = run("list", root, recursive=True, limit=2)
    assert capped["count"] == 2 and capped["truncated"] is True and "raise limit" in capped["message"]
    assert "not a folder" in run("list", root, path="top.txt")["message"]
    assert "outside the root" in run("list", root, path="link_out")["message"]


def test_links_that_stay_inside_work(root: Path) -> None:
    (root / "alias.txt").symlink_to(root / "docs" / "a.txt")
    (root / "docs_alias").symlink_to(root / "docs")
    assert run("read", root, path="alias.txt")["content"] == "alpha\n"
    assert run("read", root, path="docs_alias/b.csv")["content"] == "x,y\n1,2\n"
    assert run("write", root, path="docs_alias/c.txt", content="c")["success"] is True
    assert (root / "docs" / "c.txt").read_text() == "c"


# -- no way out -------------------------------------------------------------------------------------
ESCAPES = [
    "../outside/secret.txt",
    "docs/../../outside/secret.txt",
    "..\\outside\\secret.txt",
    "/etc/passwd",
    "{outside}/secret.txt",
    "~/secret.txt",
    "C:\\Windows\\win.ini",
    "link_out/secret.txt",
    "file_link",
    "x\x00y",
    "   ",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_no_path_leaves_the_root(root: Path, outside: Path, path: str) -> None:
    (root / "link_out").symlink_to(outside)
    (root / "file_link").symlink_to(outside / "secret.txt")
    path = path.format(outside=outside)
    before = sorted(p.name for p in outside.iterdir())
    read = run("read", root, path=path)
    write = run("write", root, path=path, content="overwritten")
    append = run("write", root, path=path, content="more", mode="append")
    listing = run("list", root, path=path or "link_out")
    for result in (read, write, append, listing):
        assert result["success"] is False
        assert any(word in result["message"] for word in ("absolute", "'..'", "outside the root", "NUL", "empty"))
    assert (outside / "secret.txt").read_text() == "outside secret\n"
    assert sorted(p.name for p in outside.iterdir()) == before
    assert "outside secret" not in json.dumps([read, write, append, listing])


# -- the root itself -------------------------------------------------------------------------------
def test_connection(root: Path, tmp_path: Path) -> None:
    good = run("test_connection", root)
    assert good["success"] is True and [s["name"] for s in good["steps"]] == ["config", "request"]
    assert good["message"] == "The root is a writable folder holding 3 item(s)."
    assert sorted(p.name for p in root.iterdir()) == [".hidden", "docs", "top.txt"]  # the probe file is gone
    missing = run("test_connection", tmp_path / "nope")
    assert missing["success"] is False and missing["steps"][-1]["name"] == "config"
    assert "does not exist" in missing["message"]
    a_file = run("test_connection", root / "top.txt")
    assert a_file["success"] is False and "is not a folder" in a_file["message"]
    unset = builtin_task("files", "test_connection")({}, {})
    assert unset["success"] is False and "Set root" in unset["message"]
    assert run("read", tmp_path / "nope", path="x")["message"].endswith("does not exist.")


def test_params_are_checked(root: Path) -> None:
    with pytest.raises(ParamsError, match="'path' is required"):
        run("read", root)
    with pytest.raises(ParamsError, match="'mode' must be one of"):
        run("write", root, path="x", content="x", mode="truncate")
    with pytest.raises(ParamsError, match="'limit' must be 0 or more"):
        run("list", root, limit=-1)


def test_in_a_workflow_run(ws, root: Path) -> None:
    """What a user gets: the type made from the module, an integration, two nodes wired by a template."""
    import flowkit as fk

    ws.types.create_from_module("files")
    ws.integrations.create("Scratch", type="files", credentials={"root": str(root)})
    assert ws.integrations.test("Scratch")["success"] is True
    flow = fk.Workflow("copy")
    flow.add_node(
        "save",
        integration="Scratch",
        task="write",
        params={"path": "out/{{ inputs.name }}.txt", "content": "hello {{ inputs.name }}"},
    )
    flow.add_node("load", integration="Scratch", task="read", params={"path": "{{ save.path }}"})
    flow.connect("save", "load")
    ws.workflows.save(flow)
    run = ws.run("copy", inputs={"name": "ann"})
    assert run.status == "success"
    assert run.nodes["load"].result["content"] == "hello ann"
    assert (root / "out" / "ann.txt").read_text() == "hello ann"


# -- races, special files, deep trees ----------------------------------------------------------------
def swap_forever(link: Path, inside: Path, outside: Path, stop: threading.Event) -> None:
    """Flip `link` between a real folder inside the root and a symbolic link out of it, over and over.

    Each state lasts about 0.2 ms: long enough that reads and writes get through (the test's
    self-check), short enough that many calls see the swap happen while they run.
    """
    parked = link.with_name(link.name + ".real")
    while not stop.is_set():
        with contextlib.suppress(OSError):
            os.rename(inside, link)  # a real folder...
        stop.wait(0.0002)
        with contextlib.suppress(OSError):
            os.rename(link, parked)
            os.symlink(outside, link)  # ...then a link out of the root
            stop.wait(0.0002)
            os.unlink(link)
            os.rename(parked, inside)


def test_a_folder_swapped_for_a_link_between_check_and_open_never_leads_out(root: Path, outside: Path) -> None:
    """The check resolves the path, then the open walks it again: a swap in between must not escape."""
    inside = root / "real"
    inside.mkdir()
    (inside / "secret.txt").write_text("inside\n")
    stop = threading.Event()
    swapper = threading.Thread(target=swap_forever, args=(root / "swap", inside, outside, stop), daemon=True)
    swapper.start()
    escapes, reads, writes = 0, 0, 0
    try:
        for attempt in range(3000):
            result = run("read", root, path="swap/secret.txt")
            reads += result["success"]
            escapes += "outside secret" in json.dumps(result)
            written = run("write", root, path=f"swap/new-{attempt}.txt", content="x", make_dirs=False)
            writes += written["success"]
    finally:
        stop.set()
        swapper.join()
    landed_outside = sorted(p.name for p in outside.iterdir() if p.name.startswith("new-"))
    assert reads > 0 and writes > 0, "the race never let a read or write through: the test proves nothing"
    assert escapes == 0 and landed_outside == []


def test_reading_a_fifo_does_not_block(root: Path) -> None:
    os.mkfifo(root / "pipe")
    results: list[dict] = []
    reader = threading.Thread(target=lambda: results.append(run("read", root, path="pipe")), daemon=True)
    reader.start()
    reader.join(3)
    if reader.is_alive():  # unblock it, so the test ends, then fail
        with open(root / "pipe", "wb"):
            pass
        reader.join(5)
        pytest.fail("reading a FIFO blocked")
    assert results[0]["success"] is False and "not a regular file" in results[0]["message"]


def make_deep(folder: Path, depth: int, *, siblings: bool = False) -> None:
    """`depth` nested folders "d"; with `siblings`, each level also holds "e/f" (listed after "d"'s subtree)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            if siblings:
                os.mkdir("e", dir_fd=fd)
                os.close(os.open("e/f", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def remove_deep(folder: Path, depth: int) -> None:
    """Remove what make_deep made, bottom up (shutil.rmtree recurses and would fail here too)."""
    for level in range(depth, 0, -1):
        fd = os.open(folder, os.O_RDONLY)
        try:
            for _ in range(level - 1):
                child = os.open("d", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = child
            os.rmdir("d", dir_fd=fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink("e/f", dir_fd=fd)
                os.rmdir("e", dir_fd=fd)
        finally:
            os.close(fd)


def test_listing_a_very_deep_tree_does_not_hit_the_recursion_limit(root: Path) -> None:
    make_deep(root / "docs", 1200)
    try:
        result = run("list", root, path="docs", recursive=True, limit=5000)
    finally:
        remove_deep(root / "docs", 1200)
    assert result["success"] is True and result["count"] == 1202  # a.txt, b.csv and 1,200 folders
    deepest = max(result["entries"], key=lambda entry: entry["path"].count("/"))
    assert deepest["path"] == "docs/" + "/".join(["d"] * 1200)


def test_a_deep_listing_comes_back_up_in_order(root: Path) -> None:
    """Past the folders it keeps open, the walk opens shallower ones again on the way back up."""
    depth = 300
    make_deep(root / "docs", depth, siblings=True)
    open_before = len(os.listdir("/proc/self/fd"))
    try:
        result = run("list", root, path="docs", recursive=True, limit=5000)
        assert len(os.listdir("/proc/self/fd")) == open_before  # no descriptor left open
    finally:
        remove_deep(root / "docs", depth)
    down = ["docs" + "/d" * level for level in range(1, depth + 1)]
    up = [
        path
        for level in range(depth - 1, -1, -1)
        for path in ("docs" + "/d" * level + "/e", "docs" + "/d" * level + "/e/f")
    ]
    assert [entry["path"] for entry in result["entries"]] == ["docs/a.txt", "docs/b.csv", *down, *up]
