"""Secrets at rest, key handling, wrong/missing keys, damaged records and rotation (RELIABILITY rows 1, 5–7)."""

from __future__ import annotations

import hashlib
import os
import random
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from forked import child_errors, fork, kill, wait
from helpers import scan_tree

import flowkit as fk
from flowkit import crypto, errors
from flowkit.crypto import KeyRing, fingerprint, load_keyring

TOKEN = fk.Param("token", kind="password", required=True)
SECRET_ERRORS = (errors.WrongKeyError, errors.MissingKeyError, errors.DamagedRecordError)


def make_workspace(root: Path, count: int, value: str = "secret-{i}") -> fk.Workspace:
    ws = fk.Workspace(root)
    ws.types.create("demo", params=[TOKEN, fk.Param("team")], check_module=False)
    for i in range(count):
        ws.integrations.create(f"Int {i}", type="demo", credentials={"token": value.format(i=i), "team": f"t{i}"})
    return ws


def file_digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def key_file_keys() -> list[bytes]:
    return [line.encode() for line in crypto.key_file_path().read_text().split()]


def readable(root: Path, keys: list[bytes]) -> int:
    """How many integrations decrypt with exactly these keys (given through the environment)."""
    os.environ[crypto.ENV_KEY] = ",".join(key.decode() for key in keys)
    try:
        ws = fk.Workspace(root)
        ring = KeyRing(keys, "test keys")
        count = 0
        for doc in ws.store.all("integrations"):
            try:
                ring.decrypt(doc["secret"], doc["key_id"], what=doc["name"])
            except errors.WrongKeyError:
                continue
            count += 1
        return count
    finally:
        del os.environ[crypto.ENV_KEY]


# -- encrypted at rest (row 1) -------------------------------------------------------------
def test_fifty_integrations_leave_no_trace_of_their_secrets_in_the_workspace(
    tmp_path: Path, canary: str, isolated_env: Path
) -> None:
    ws = make_workspace(tmp_path / "ws", 0)
    for i in range(50):
        ws.integrations.create(f"Int {i}", type="demo", credentials={"token": f"{canary}-{i}", "team": canary})
    ws.integrations.update("Int 7", credentials={"token": canary})
    ws.runs.save(fk.Run(workflow="wf", inputs={"note": "no secret here"}))
    # A write killed halfway leaves a temp file behind: it must hold ciphertext only, too.
    pid = fork(_create_forever, ws.path, canary, errors=tmp_path / "errors")
    time.sleep(0.3)
    kill(pid)
    files = [p for p in ws.path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"integrations.json", "types.json", ".lock", "index.jsonl"}
    assert scan_tree(canary, ws.path) == []
    # The values are there, encrypted: the API reads them back.
    assert fk.Workspace(ws.path).integrations.get("Int 7").credentials["token"] == canary
    # The scanner does find a plain copy (so a zero above means something).
    (ws.path / "leak.txt").write_text(f"oops {canary}")
    assert scan_tree(canary, ws.path) == [ws.path / "leak.txt"]
    # The key lives outside the workspace, readable by its owner only.
    key_file = crypto.key_file_path()
    assert key_file.parent == isolated_env
    assert not key_file.resolve().is_relative_to(ws.path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert list(ws.path.rglob("secret.key")) == []


def _create_forever(root: Path, canary: str) -> None:
    ws = fk.Workspace(root)
    for i in range(100_000):
        ws.integrations.create(f"Loop {i}", type="demo", credentials={"token": f"{canary}-loop-{i}"})


def test_a_key_file_inside_the_workspace_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = fk.Workspace(tmp_path / "ws")
    ws.types.create("demo", params=[TOKEN], check_module=False)
    monkeypatch.setenv("FLOWKIT_CONFIG_DIR", str(ws.path / "keys"))
    with pytest.raises(errors.SecretKeyError, match="inside the workspace"):
        ws.integrations.create("Mine", type="demo", credentials={"token": "t0k3n"})
    assert not (ws.path / "keys" / "secret.key").exists()
    assert ws.integrations.list() == []


# -- key handling (row 5) -------------------------------------------------------------------
def test_the_key_is_created_with_mode_0600_on_first_use_only(ws: fk.Workspace, isolated_env: Path) -> None:
    ws.types.create("demo", params=[TOKEN], check_module=False)
    key_file = isolated_env / "secret.key"
    assert not key_file.exists()  # opening a workspace and creating a type need no key
    ws.integrations.create("First", type="demo", credentials={"token": "abc"})
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    [key] = key_file_keys()
    Fernet(key)  # a real Fernet key
    before = key_file.read_bytes()
    ws.integrations.create("Second", type="demo", credentials={"token": "def"})
    assert key_file.read_bytes() == before
    assert {doc["key_id"] for doc in ws.store.all("integrations")} == {fingerprint(key)}


def test_a_key_file_readable_by_others_is_refused_with_the_chmod_to_run(tmp_path: Path, isolated_env: Path) -> None:
    ws = make_workspace(tmp_path / "ws", 2)
    key_file = isolated_env / "secret.key"
    key_file.chmod(0o644)
    before = file_digests(ws.path)
    reopened = fk.Workspace(ws.path)
    with pytest.raises(errors.KeyFilePermissionError) as caught:
        reopened.integrations.get("Int 0").credentials.reveal()
    assert f"chmod 600 {key_file}" in str(caught.value)
    assert "0644" in str(caught.value)
    with pytest.raises(errors.KeyFilePermissionError):
        reopened.integrations.create("Another", type="demo", credentials={"token": "x"})
    assert file_digests(ws.path) == before
    key_file.chmod(0o600)
    assert reopened.integrations.get("Int 0").credentials["token"] == "secret-0"


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o757], ids=["world-writable", "sticky", "o+w only"])
def test_a_world_writable_config_folder_is_refused_like_an_open_key_file(
    tmp_path: Path, isolated_env: Path, mode: int
) -> None:
    """Anyone could swap the key file in a folder anyone can write: flowkit refuses it before using a key."""
    ws = make_workspace(tmp_path / "ws", 1)
    isolated_env.chmod(mode)
    try:
        before = file_digests(ws.path)
        reopened = fk.Workspace(ws.path)
        with pytest.raises(errors.KeyFilePermissionError) as caught:
            reopened.integrations.get("Int 0").credentials.reveal()
        assert str(isolated_env) in str(caught.value) and f"chmod 700 {isolated_env}" in str(caught.value)
        with pytest.raises(errors.KeyFilePermissionError):
            reopened.integrations.create("Another", type="demo", credentials={"token": "x"})
        assert file_digests(ws.path) == before
    finally:
        isolated_env.chmod(0o700)
    assert fk.Workspace(ws.path).integrations.get("Int 0").credentials["token"] == "secret-0"


@pytest.mark.parametrize(("mode", "refused"), [(0o777, True), (0o757, True), (0o1777, False), (0o775, False)])
def test_a_key_folder_inside_a_folder_anyone_may_rename_it_from_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int, refused: bool
) -> None:
    """Where anyone may rename entries (o+w, not sticky like /tmp), they could swap the whole key folder."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    keys = shared / "config" / "flowkit"
    monkeypatch.setenv("FLOWKIT_CONFIG_DIR", str(keys))
    ws = make_workspace(tmp_path / "ws", 1)
    shared.chmod(mode)
    try:
        reopened = fk.Workspace(ws.path)
        if not refused:
            assert reopened.integrations.get("Int 0").credentials["token"] == "secret-0"
            return
        with pytest.raises(errors.KeyFilePermissionError) as caught:
            reopened.integrations.get("Int 0").credentials.reveal()
        message = str(caught.value)
        assert f"The folder {shared}" in message and f"{mode:04o}" in message and f"chmod o-w {shared}" in message
        with pytest.raises(errors.KeyFilePermissionError):
            reopened.integrations.create("Another", type="demo", credentials={"token": "x"})
    finally:
        shared.chmod(0o755)


def test_a_key_folder_reached_through_a_link_in_an_open_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link itself could be swapped: the folders above the path as given count, not only the real ones."""
    real = tmp_path / "private" / "keys"
    real.mkdir(parents=True, mode=0o700)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    (shared / "keys").symlink_to(real)
    monkeypatch.setenv("FLOWKIT_CONFIG_DIR", str(shared / "keys"))
    ws = make_workspace(tmp_path / "ws", 1)
    shared.chmod(0o777)
    try:
        with pytest.raises(errors.KeyFilePermissionError, match="shared"):
            fk.Workspace(ws.path).integrations.get("Int 0").credentials.reveal()
    finally:
        shared.chmod(0o755)


def test_a_world_writable_config_folder_is_refused_before_a_first_key_is_made(
    ws: fk.Workspace, isolated_env: Path
) -> None:
    ws.types.create("demo", params=[TOKEN], check_module=False)
    isolated_env.chmod(0o777)
    try:
        with pytest.raises(errors.KeyFilePermissionError):
            ws.integrations.create("First", type="demo", credentials={"token": "abc"})
    finally:
        isolated_env.chmod(0o700)
    assert list(isolated_env.iterdir()) == []


def test_a_key_from_the_environment_works_without_a_key_file_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    key = Fernet.generate_key()
    monkeypatch.setenv(crypto.ENV_KEY, key.decode())
    ws = make_workspace(tmp_path / "ws", 3)
    assert list(isolated_env.iterdir()) == []
    assert {doc["key_id"] for doc in ws.store.all("integrations")} == {fingerprint(key)}
    assert fk.Workspace(ws.path).integrations.get("Int 2").credentials["token"] == "secret-2"
    assert "keyring" not in sys.modules  # no OS keyring anywhere


def test_the_first_key_in_the_environment_encrypts_and_every_key_decrypts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    monkeypatch.setenv(crypto.ENV_KEY, f" {new.decode()} , {old.decode()} ")
    ring = load_keyring(create=False)
    assert ring.fingerprints == [fingerprint(new), fingerprint(old)]
    token, key_id = ring.encrypt({"a": 1})
    assert key_id == fingerprint(new)
    old_token, old_id = KeyRing([old], "old").encrypt({"b": 2})
    assert ring.decrypt(old_token, old_id, what="x") == {"b": 2}
    assert ring.decrypt(token, key_id, what="x") == {"a": 1}


@pytest.mark.parametrize("value", ["not-a-key", "Zm9v", "a" * 44])
def test_an_invalid_key_in_the_environment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(crypto.ENV_KEY, value)
    with pytest.raises(errors.SecretKeyError, match="not a valid Fernet key") as caught:
        load_keyring(create=True)
    assert value not in str(caught.value)  # a key is never echoed, even a broken one
    assert not crypto.key_file_path().exists()


def test_no_os_keyring_is_imported_by_a_whole_session() -> None:
    code = (
        "import sys, flowkit as fk\n"
        "ws = fk.Workspace(sys.argv[1])\n"
        "ws.types.create('demo', params=[fk.Param('token', kind='password')], check_module=False)\n"
        "ws.integrations.create('X', type='demo', credentials={'token': 'abc'})\n"
        "assert ws.integrations.get('X').credentials['token'] == 'abc'\n"
        "print(sorted(m for m in sys.modules if 'keyring' in m.lower() or 'secretstorage' in m.lower()))\n"
    )
    folder = Path(os.environ["FLOWKIT_CONFIG_DIR"]).parent
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder / "ws-keyring")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _first_key(barrier: Path, out: Path) -> None:
    while not barrier.exists():
        pass
    out.write_text(load_keyring(create=True).primary)


def test_processes_making_their_first_key_at_once_all_get_the_same_key(tmp_path: Path) -> None:
    for attempt in range(5):
        os.environ["FLOWKIT_CONFIG_DIR"] = str(tmp_path / f"config{attempt}")  # restored by the fixture
        barrier = tmp_path / f"go{attempt}"
        outs = [tmp_path / f"fp{attempt}-{i}" for i in range(4)]
        pids = [fork(_first_key, barrier, out, errors=tmp_path / "errors") for out in outs]
        barrier.touch()
        assert [wait(pid) for pid in pids] == [0, 0, 0, 0], child_errors(tmp_path / "errors")
        keys = key_file_keys()
        assert len(keys) == 1
        assert {out.read_text() for out in outs} == {fingerprint(keys[0])}
        assert [p.name for p in crypto.key_file_path().parent.iterdir()] == ["secret.key"]


# -- wrong key, no key, damaged record (row 7) ------------------------------------------------
def test_a_wrong_key_is_told_apart_before_anything_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    right = Fernet.generate_key()
    monkeypatch.setenv(crypto.ENV_KEY, right.decode())
    ws = make_workspace(tmp_path / "ws", 3)
    before = file_digests(ws.path)
    monkeypatch.setenv(crypto.ENV_KEY, Fernet.generate_key().decode())
    reopened = fk.Workspace(ws.path)
    assert [i.name for i in reopened.integrations.list()] == ["Int 0", "Int 1", "Int 2"]  # names need no key
    with pytest.raises(errors.WrongKeyError) as caught:
        reopened.integrations.get("Int 1").credentials.reveal()
    message = str(caught.value)
    assert fingerprint(right) in message and crypto.ENV_KEY in message and "Nothing was changed" in message
    with pytest.raises(errors.WrongKeyError):
        reopened.integrations.create("New", type="demo", credentials={"token": "x"})
    with pytest.raises(errors.WrongKeyError):
        reopened.integrations.update("Int 0", credentials={"token": "y"})
    with pytest.raises(errors.WrongKeyError):
        reopened.rotate_key()
    assert file_digests(ws.path) == before
    assert right.decode() not in message


def test_a_missing_key_is_not_silently_replaced(tmp_path: Path, isolated_env: Path) -> None:
    ws = make_workspace(tmp_path / "ws", 3)
    before = file_digests(ws.path)
    (isolated_env / "secret.key").unlink()
    reopened = fk.Workspace(ws.path)
    with pytest.raises(errors.MissingKeyError) as caught:
        reopened.integrations.get("Int 0").credentials.reveal()
    assert "3 encrypted integration(s)" in str(caught.value)
    assert crypto.ENV_KEY in str(caught.value) and "restore the key file" in str(caught.value)
    for attempt in (
        lambda: reopened.integrations.create("New", type="demo", credentials={"token": "x"}),
        lambda: reopened.rotate_key(),
        lambda: reopened.keyring(create=True),
    ):
        with pytest.raises(errors.MissingKeyError):
            attempt()
    assert list(isolated_env.iterdir()) == []  # no new key was made
    assert file_digests(ws.path) == before


def test_a_tampered_record_is_damaged_not_a_wrong_key(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", 3)
    doc = ws.store.get("integrations", "Int 1")
    assert doc is not None
    token = doc["secret"]
    # Rewritten through the store, so the file's checksum is valid: only the token is off.
    ws.store.upsert("integrations", {**doc, "secret": token[:60] + ("A" if token[60] != "A" else "B") + token[61:]})
    before = file_digests(ws.path)
    with pytest.raises(errors.DamagedRecordError) as caught:
        ws.integrations.get("Int 1").credentials.reveal()
    assert "'Int 1'" in str(caught.value) and "the key is right" in str(caught.value)
    assert ws.integrations.get("Int 0").credentials["token"] == "secret-0"  # the others still open
    assert file_digests(ws.path) == before
    with pytest.raises(errors.CredentialsError, match="damaged, so none can be kept"):
        ws.integrations.update("Int 1", credentials={"team": "only this"})
    ws.integrations.update("Int 1", credentials={"token": "re-entered"})  # the way out the message names
    assert ws.integrations.get("Int 1").credentials["token"] == "re-entered"


def test_wrong_missing_and_damaged_are_three_distinct_errors() -> None:
    for one in SECRET_ERRORS:
        for other in SECRET_ERRORS:
            assert one is other or not issubclass(one, other)
        assert issubclass(one, errors.SecretKeyError) and issubclass(one, fk.FlowkitError)


def test_a_truncated_token_is_damaged_with_a_clear_message() -> None:
    ring = KeyRing([Fernet.generate_key()], "test")
    token, key_id = ring.encrypt({"token": "abc"})
    for broken in (token[:-10], token[:5], "", "not base64 at all !!"):
        with pytest.raises(errors.DamagedRecordError, match="damaged"):
            ring.decrypt(broken, key_id, what="integration 'X'")


# -- rotation (row 6) -----------------------------------------------------------------------------
def test_rotation_with_the_key_file_reencrypts_all_hundred(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", 100)
    [key1] = key_file_keys()
    assert ws.rotate_key() == 100
    keys = key_file_keys()
    key2 = keys[0]
    assert keys == [key2, key1]  # the old key stays, decrypt-only, for other workspaces
    assert readable(ws.path, [key2]) == 100
    assert readable(ws.path, [key1]) == 0
    os.environ[crypto.ENV_KEY] = key1.decode()
    try:
        with pytest.raises(errors.WrongKeyError):
            fk.Workspace(ws.path).integrations.get("Int 5").credentials.reveal()
    finally:
        del os.environ[crypto.ENV_KEY]
    assert fk.Workspace(ws.path).integrations.get("Int 99").credentials["token"] == "secret-99"


def test_rotation_can_drop_the_old_key(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", 5)
    [key1] = key_file_keys()
    ws.rotate_key(drop_old_keys=True)
    [key2] = key_file_keys()
    assert key2 != key1
    assert stat.S_IMODE(crypto.key_file_path().stat().st_mode) == 0o600
    assert [i.credentials["token"] for i in fk.Workspace(ws.path).integrations.list()] == [
        f"secret-{i}" for i in range(5)
    ]


def test_rotating_one_workspace_keeps_another_on_the_same_key_file_readable(tmp_path: Path) -> None:
    first = make_workspace(tmp_path / "first", 3)
    second = make_workspace(tmp_path / "second", 3)
    first.rotate_key()
    assert fk.Workspace(second.path).integrations.get("Int 2").credentials["token"] == "secret-2"
    assert fk.Workspace(first.path).integrations.get("Int 2").credentials["token"] == "secret-2"


def test_a_workspace_open_during_another_process_rotation_never_writes_under_a_retired_key(
    tmp_path: Path,
) -> None:
    notebook = make_workspace(tmp_path / "ws", 3)  # holds its keys from before the rotation
    assert notebook.integrations.get("Int 0").credentials["token"] == "secret-0"
    fk.Workspace(notebook.path).rotate_key(drop_old_keys=True)  # "another process"
    notebook.integrations.create("After", type="demo", credentials={"token": "late"})
    keys = key_file_keys()
    assert readable(notebook.path, keys) == 4
    assert fk.Workspace(notebook.path).integrations.get("After").credentials["token"] == "late"


def test_rotation_with_environment_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key1, key2 = Fernet.generate_key(), Fernet.generate_key()
    monkeypatch.setenv(crypto.ENV_KEY, key1.decode())
    ws = make_workspace(tmp_path / "ws", 100)
    monkeypatch.setenv(crypto.ENV_KEY, f"{key2.decode()},{key1.decode()}")
    assert fk.Workspace(ws.path).rotate_key() == 100
    assert not crypto.key_file_path().exists()
    monkeypatch.delenv(crypto.ENV_KEY)
    assert readable(ws.path, [key2]) == 100
    assert readable(ws.path, [key1]) == 0
    monkeypatch.setenv(crypto.ENV_KEY, key2.decode())
    assert fk.Workspace(ws.path).integrations.get("Int 42").credentials["token"] == "secret-42"


def _rotate(root: Path) -> None:
    fk.Workspace(root).rotate_key(drop_old_keys=True)


def test_sigkill_during_rotation_always_leaves_every_record_readable(tmp_path: Path) -> None:
    template = make_workspace(tmp_path / "template", 100)
    [key1] = key_file_keys()
    key_file = crypto.key_file_path()
    # How long one whole rotation takes here, so the kills land inside it.
    scratch = tmp_path / "scratch"
    subprocess.run(["cp", "-a", str(template.path), str(scratch)], check=True)
    started = time.perf_counter()
    assert wait(fork(_rotate, scratch, errors=tmp_path / "errors")) == 0
    duration = time.perf_counter() - started
    rng = random.Random(99)
    outcomes = {"before": 0, "during": 0, "after": 0}
    for attempt in range(30):
        key_file.write_bytes(key1 + b"\n")
        root = tmp_path / f"ws{attempt}"
        subprocess.run(["cp", "-a", str(template.path), str(root)], check=True)
        pid = fork(_rotate, root, errors=tmp_path / "errors")
        time.sleep(rng.uniform(0, duration * 1.1))
        kill(pid)
        keys = key_file_keys()
        assert set(keys) <= {key1} | set(keys[:1]) and len(keys) <= 2
        key2 = keys[0]
        ids = {doc["key_id"] for doc in fk.Workspace(root).store.all("integrations")}  # opens: not damaged
        assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]  # a torn key write is swept
        assert readable(root, [key1, key2]) == 100
        assert readable(root, keys) == 100  # with just what the key file holds now
        outcomes[
            "before"
            if ids == {fingerprint(key1)} and keys == [key1]
            else "after"
            if ids == {fingerprint(key2)} and keys == [key2]
            else "during"
        ] += 1
    assert child_errors(tmp_path / "errors") == ""
    assert outcomes["during"] + outcomes["after"] > 0, outcomes


def test_a_keyring_repr_shows_fingerprints_never_keys() -> None:
    key = Fernet.generate_key()
    ring = KeyRing([key], "$FLOWKIT_SECRET_KEY")
    assert key.decode() not in repr(ring) and fingerprint(key) in repr(ring)
