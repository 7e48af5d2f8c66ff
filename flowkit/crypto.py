"""Secret keys and the encryption of credentials (masking lives in `flowkit.redaction`).

Keys come from ``FLOWKIT_SECRET_KEY`` (a comma-separated list of Fernet keys,
the first one encrypts) or from a key file in the user's config folder (one
key per line, first one encrypts), created with mode 0600 on first use. The
key never lives in a workspace, so a workspace folder can be shared. A key
file other users can read, or a key folder any user can write to (where the
key file could be swapped), is refused.

Each encrypted record carries the *fingerprint* of the key that encrypted it:
an HMAC of a fixed label under the key, which identifies the key without
revealing it. That is how a wrong key (no fingerprint matches) is told apart
from a damaged record (the fingerprint matches but decryption fails), before
anything is written.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import json
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .atomic import fsync_dir, temp_name
from .errors import DamagedRecordError, KeyFilePermissionError, MissingKeyError, WrongKeyError

ENV_KEY = "FLOWKIT_SECRET_KEY"
ENV_CONFIG_DIR = "FLOWKIT_CONFIG_DIR"
KEY_FILE_NAME = "secret.key"


def config_dir() -> Path:
    """The folder holding the key file: ``FLOWKIT_CONFIG_DIR`` or the user's config dir."""
    override = os.environ.get(ENV_CONFIG_DIR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("flowkit", appauthor=False))


def key_file_path() -> Path:
    return config_dir() / KEY_FILE_NAME


def fingerprint(key: bytes) -> str:
    """A short public id of `key` (an HMAC, so the key cannot be derived from it)."""
    return hmac.new(key, b"flowkit key fingerprint v1", hashlib.sha256).hexdigest()[:16]


def generate_key() -> bytes:
    return Fernet.generate_key()


def _parse_keys(text: str, source: str) -> list[bytes]:
    keys = [part.strip().encode() for part in text.replace(",", "\n").splitlines() if part.strip()]
    if not keys:
        raise MissingKeyError(f"{source} holds no key.")
    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, binascii.Error):
            raise WrongKeyError(
                f"Key #{index + 1} in {source} is not a valid Fernet key (32 url-safe base64 bytes). "
                'Generate one with `python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`.'
            ) from None
    return keys


class KeyRing:
    """The keys at hand; the first encrypts, all decrypt.

    Args:
        keys: Fernet keys, primary first.
        source: where they came from, for messages (never the key itself).
    """

    def __init__(self, keys: list[bytes], source: str) -> None:
        self.keys = list(keys)
        self.source = source
        self._fernets = {fingerprint(key): Fernet(key) for key in self.keys}
        self._multi = MultiFernet([Fernet(key) for key in self.keys])

    def __repr__(self) -> str:
        return f"KeyRing(fingerprints={self.fingerprints}, source={self.source!r})"

    @property
    def primary(self) -> str:
        """Fingerprint of the key that encrypts."""
        return fingerprint(self.keys[0])

    @property
    def fingerprints(self) -> list[str]:
        return [fingerprint(key) for key in self.keys]

    def encrypt(self, values: dict[str, Any]) -> tuple[str, str]:
        """Encrypt a credentials dict; returns ``(token, key fingerprint)``."""
        token = self._multi.encrypt(json.dumps(values).encode())
        return token.decode(), self.primary

    def decrypt(self, token: str, key_id: str, *, what: str) -> dict[str, Any]:
        """Decrypt a token encrypted under the key with fingerprint `key_id`."""
        fernet = self._fernets.get(key_id)
        if fernet is None:
            raise self.wrong_key_error(key_id, what=what)
        try:
            values: dict[str, Any] = json.loads(fernet.decrypt(token.encode()))
            return values
        except (InvalidToken, ValueError, UnicodeDecodeError):
            raise DamagedRecordError(
                f"The encrypted credentials of {what} are damaged: the key is right "
                f"(fingerprint {key_id}) but the record does not decrypt. Re-enter its "
                "credentials, or restore the workspace file from a backup."
            ) from None

    def rotate(self, token: str, key_id: str, *, what: str) -> tuple[str, str]:
        """Re-encrypt a token under the primary key."""
        if key_id not in self._fernets:
            raise self.wrong_key_error(key_id, what=what)
        try:
            return self._multi.rotate(token.encode()).decode(), self.primary
        except InvalidToken:
            raise DamagedRecordError(f"The encrypted credentials of {what} are damaged.") from None

    def wrong_key_error(self, key_id: str, *, what: str) -> WrongKeyError:
        return WrongKeyError(
            f"The credentials of {what} were encrypted with key {key_id}, which is not among "
            f"the keys from {self.source} (fingerprints {', '.join(self.fingerprints)}). "
            f"Set {ENV_KEY} to the key this workspace was created with (or add it after a "
            "comma), or restore that key file. Nothing was changed."
        )


def check_key_folder(folder: Path) -> None:
    """Refuse a key folder that other users could replace, or a key file in it.

    The folder itself must not be writable by every user (``o+w``, sticky or
    not): anyone who can write there can put their own key file in place (or
    create it first), and credentials would then be encrypted under a key they
    hold. The folders above it must not let every user rename what they hold
    (``o+w`` without the sticky bit that /tmp has): the whole key folder could
    be swapped. Both the path as given (a link on it could be swapped) and the
    real one count. A group-writable folder is left alone: that is the usual
    umask with per-user groups.
    """
    mode = _mode(folder)
    if mode is not None and mode & 0o002:
        raise KeyFilePermissionError(
            f"The key folder {folder} has mode {mode:04o}, so any user can write to it and could replace "
            f"the key file. Run `chmod 700 {folder}` and try again."
        )
    given = folder.absolute()
    for above in dict.fromkeys([*given.parents, *given.resolve().parents]):
        mode = _mode(above)
        if mode is not None and mode & 0o002 and not mode & stat.S_ISVTX:
            raise KeyFilePermissionError(
                f"The folder {above} above the key folder {folder} has mode {mode:04o}, so any user can rename "
                f"what it holds and put their own key folder in its place. Run `chmod o-w {above}` (or "
                f"`chmod +t {above}`), or keep the keys elsewhere (FLOWKIT_CONFIG_DIR), and try again."
            )


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


def read_key_file(path: Path) -> list[bytes]:
    """Read a key file, refusing one that other users can read or replace."""
    check_key_folder(path.parent)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFilePermissionError(
            f"The key file {path} has mode {mode:04o}, so other users can read it. "
            f"Run `chmod 600 {path}` and try again."
        )
    return _parse_keys(path.read_text(), f"the key file {path}")


def write_key_file(path: Path, keys: list[bytes], *, exclusive: bool = False) -> bool:
    """Write keys atomically with mode 0600 (temp file, fsync, rename).

    Args:
        exclusive: only create the file if it does not exist yet. Several
            processes may make their first integration at the same moment; the
            file is then put in place with ``link`` (which fails if the name
            exists) instead of ``replace``, so the first key wins and no
            process encrypts with a key that another one then overwrites.

    Returns:
        Whether this call put the file in place (False: `exclusive` and it existed).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    check_key_folder(path.parent)
    temp = temp_name(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, b"\n".join(keys) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(temp, 0o600)
        if exclusive:
            try:
                os.link(temp, path)
            except FileExistsError:
                return False
        else:
            os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    fsync_dir(path.parent)
    return True


class KeySource:
    """Where a workspace's keys come from: ``$FLOWKIT_SECRET_KEY``, else a key file.

    Injected into `flowkit.Workspace` (``keys=``) as TinyDB injects its storage.
    The default looks both up at each use, so a changed environment or a key
    file rotated by another process is noticed (see `stamp`).

    Args:
        folder: the key file's folder. None (the default): ``$FLOWKIT_CONFIG_DIR``
            or the user's config folder, and ``$FLOWKIT_SECRET_KEY`` first. A
            folder given here is the only source: the environment is not read,
            so a throw-away workspace never touches the user's key.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder).expanduser().resolve() if folder is not None else None

    def __repr__(self) -> str:
        return f"KeySource({str(self.folder)!r})" if self.folder else "KeySource()"

    def key_file(self) -> Path:
        return (self.folder or config_dir()) / KEY_FILE_NAME

    def env_value(self) -> str:
        """The keys from the environment, or "" (always "" for a source with its own folder)."""
        return "" if self.folder is not None else os.environ.get(ENV_KEY, "").strip()

    def environment(self) -> dict[str, str | None]:
        """What a child process (a job's kernel) needs in its environment to find the same keys."""
        if self.folder is None:
            return {}
        return {ENV_CONFIG_DIR: str(self.folder), ENV_KEY: None}

    def load(self, *, create: bool, encrypted_records: int = 0) -> KeyRing:
        """Find the keys: the environment first, then the key file.

        Args:
            create: make a key file if there is none (only ever when nothing is
                encrypted yet: a fresh key could not read existing records).
            encrypted_records: how many encrypted records the workspace holds,
                for the message when no key is found.
        """
        env_value = self.env_value()
        if env_value:
            return KeyRing(_parse_keys(env_value, f"${ENV_KEY}"), f"${ENV_KEY}")
        path = self.key_file()
        if path.exists():
            return KeyRing(read_key_file(path), f"the key file {path}")
        if encrypted_records:
            raise MissingKeyError(
                f"No secret key found: {ENV_KEY} is not set and {path} does not exist, "
                f"but this workspace holds {encrypted_records} encrypted integration(s). "
                f"Set {ENV_KEY} to the key they were created with, or restore the key file. "
                "flowkit will not create a new key, as it could not read them."
            )
        if not create:
            raise MissingKeyError(
                f"No secret key yet: {ENV_KEY} is not set and {path} does not exist. "
                "One is created when the first integration is created."
            )
        write_key_file(path, [generate_key()], exclusive=True)
        return KeyRing(read_key_file(path), f"the key file {path}")

    def stamp(self) -> tuple[Any, ...]:
        """What identifies the current keys' content, to notice it changed.

        The key file is only ever replaced whole, so its inode, size and mtime
        change with every write (another process rotating the key, for one).
        """
        env_value = self.env_value()
        if env_value:
            return ("env", hashlib.sha256(env_value.encode()).hexdigest())
        try:
            info = self.key_file().stat()
        except FileNotFoundError:
            return ("none",)
        return ("file", info.st_ino, info.st_size, info.st_mtime_ns)


def load_keyring(*, create: bool, encrypted_records: int = 0) -> KeyRing:
    """The default source's keys (see `KeySource.load`)."""
    return KeySource().load(create=create, encrypted_records=encrypted_records)
