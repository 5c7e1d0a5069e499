"""The one storage interface on both of its backends: the local disk and a real S3-compatible server (S3Proxy)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from griddispatch.infra.s3proxy import S3Server
from shared.attachments.storage import BlobStore, LocalStore, open_store
from shared.errors import BlobMissing, InvalidInput, StorageUnavailable
from shared.settings import StorageSettings
from tests.s3_fixtures import bucket_keys, s3_settings


@pytest.fixture(params=["local", "s3"])
def storage_settings(request: pytest.FixtureRequest, tmp_path: Path) -> StorageSettings:
    """The local disk, then a bucket of S3Proxy's."""
    if request.param == "s3":
        settings: StorageSettings = request.getfixturevalue("s3_storage")
        return settings
    return StorageSettings(backend="local", dir=tmp_path / "files")


@pytest.fixture
async def storage(storage_settings: StorageSettings) -> AsyncIterator[tuple[StorageSettings, BlobStore]]:
    settings = storage_settings
    async with open_store(settings) as store:
        yield settings, store


async def test_put_get_delete(storage: tuple[StorageSettings, BlobStore]) -> None:
    settings, store = storage
    key = f"attachments/{uuid.uuid4()}/served.jpg"
    await store.put(key, b"\xff\xd8\xffpixels", "image/jpeg")
    assert await store.get(key) == b"\xff\xd8\xffpixels"
    if settings.backend == "s3":  # it really is in the server's bucket, seen by a client of our own
        assert key in await bucket_keys(settings)
    else:
        assert (settings.dir / key).read_bytes() == b"\xff\xd8\xffpixels"
    await store.put(key, b"second", "image/jpeg")  # a put replaces
    assert await store.get(key) == b"second"
    await store.delete(key)
    with pytest.raises(BlobMissing):
        await store.get(key)
    await store.delete(key)  # deleting what is gone is no error
    if settings.backend == "s3":
        assert key not in await bucket_keys(settings)


async def test_a_key_that_is_not_ours_is_refused(storage: tuple[StorageSettings, BlobStore]) -> None:
    _, store = storage
    for bad in ("../etc/passwd", "/abs", "a//b", "A/B", ""):
        with pytest.raises(InvalidInput):
            await store.put(bad, b"x", "image/jpeg")


async def test_the_store_is_checked_for_readiness(storage: tuple[StorageSettings, BlobStore]) -> None:
    await storage[1].check()  # the directory, or the bucket, answers


async def test_a_missing_bucket_is_storage_unavailable(s3proxy: S3Server) -> None:
    async with open_store(s3_settings(s3proxy, f"gd-missing-{uuid.uuid4().hex[:8]}")) as store:
        with pytest.raises(StorageUnavailable):
            await store.check()
        with pytest.raises(StorageUnavailable):
            await store.put("attachments/x/served.jpg", b"x", "image/jpeg")


async def test_wrong_credentials_are_refused(s3_storage: StorageSettings) -> None:
    from pydantic import SecretStr

    wrong = s3_storage.model_copy(update={"secret_key": SecretStr("not-the-secret")})
    async with open_store(wrong) as store:
        with pytest.raises(StorageUnavailable):
            await store.put("attachments/x/served.jpg", b"x", "image/jpeg")


async def test_with_nothing_configured_the_files_are_on_the_local_disk(tmp_path: Path) -> None:
    async with open_store(StorageSettings(dir=tmp_path)) as store:
        assert isinstance(store, LocalStore)
        await store.put("attachments/a/served.jpg", b"jpeg", "image/jpeg")
    assert (tmp_path / "attachments/a/served.jpg").read_bytes() == b"jpeg"
    assert not list(tmp_path.rglob(".partial-*"))  # written aside, renamed into place
