"""One interface for the attachments' files (put, get, delete a blob by key) and its local-disk implementation;
`open_store` picks the backend the settings name (shared/attachments/s3.py is the object store's)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from shared.errors import BlobMissing, InvalidInput, StorageUnavailable
from shared.settings import StorageSettings

_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


def check_key(key: str) -> str:
    """Keys are made by us (shared/attachments/keys), never by a client; one that is not ours is a bug."""
    if len(key) > 512 or not _KEY.match(key) or ".." in key:
        raise InvalidInput(f"not a storage key: {key!r}", field="key")
    return key


class BlobStore(Protocol):
    """Where the files are: bytes by key. Every method raises StorageUnavailable when the store does not answer."""

    backend: str

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes:
        """The bytes stored under the key; BlobMissing when there are none."""
        ...

    async def delete(self, key: str) -> None:
        """Gone, or was never there."""
        ...

    async def check(self) -> None:
        """Raise StorageUnavailable unless the store can be written to now (readiness)."""
        ...


class LocalStore:
    """Files under one directory, one file a key; a put is written aside and renamed, so a reader never sees half."""

    backend = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put, self.path_of(key), data)

    async def get(self, key: str) -> bytes:
        path = self.path_of(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise BlobMissing(f"no file stored under {key}") from exc
        except OSError as exc:
            raise StorageUnavailable(f"reading {path} failed: {exc}") from exc

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        try:
            await asyncio.to_thread(path.unlink, True)
        except OSError as exc:
            raise StorageUnavailable(f"deleting {path} failed: {exc}") from exc

    async def check(self) -> None:
        def writable() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise PermissionError(f"{self.root} is not writable")

        try:
            await asyncio.to_thread(writable)
        except OSError as exc:
            raise StorageUnavailable(f"the attachments' directory cannot be written: {exc}") from exc

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
                raise
        except OSError as exc:
            raise StorageUnavailable(f"writing {path} failed: {exc}") from exc


@contextlib.asynccontextmanager
async def open_store(settings: StorageSettings) -> AsyncIterator[BlobStore]:
    """The store the settings name, open for the duration of the block (the object store's client is closed)."""
    if settings.backend == "s3":
        from shared.attachments.s3 import S3Store

        async with S3Store.open(settings) as store:
            yield store
        return
    yield LocalStore(settings.dir)
