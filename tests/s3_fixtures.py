"""The real S3-compatible server for the object-store tests: S3Proxy (griddispatch/infra/s3proxy.py), started
once per session by the tests that ask for `s3proxy`, stopped at the end if this session started it.

Registered in tests/conftest.py (pytest_plugins): ask for `s3proxy` or `s3_storage` by name.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from pydantic import SecretStr

from griddispatch.infra import s3proxy as local_s3proxy
from griddispatch.infra.processes import Processes
from shared.settings import LocalInfraSettings, StorageSettings


@pytest.fixture(scope="session")
async def s3proxy(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[local_s3proxy.S3Server]:
    local = LocalInfraSettings()
    home = tmp_path_factory.mktemp("s3proxy")
    processes = Processes(home)  # this session's own run directory: nothing another run started is touched
    _, server = local_s3proxy.start(local, processes, home, "griddispatch-tests", secrets.token_urlsafe(24))
    try:
        await local_s3proxy.wait_ready(local, processes, server)
        yield server
    finally:
        processes.stop(local_s3proxy.NAME)


def s3_settings(server: local_s3proxy.S3Server, bucket: str) -> StorageSettings:
    return StorageSettings(
        backend="s3",
        endpoint=server.endpoint,
        bucket=bucket,
        access_key=SecretStr(server.access_key),
        secret_key=SecretStr(server.secret_key),
        region=server.region,
    )


@pytest.fixture
async def s3_storage(s3proxy: local_s3proxy.S3Server) -> AsyncIterator[StorageSettings]:
    """Storage settings naming a new bucket of this test's own on S3Proxy (created here, as an operator would)."""
    settings = s3_settings(s3proxy, f"gd-test-{uuid.uuid4().hex[:12]}")
    async with s3_client(settings) as client:
        await client.create_bucket(Bucket=settings.bucket)
    yield settings


def s3_client(settings: StorageSettings):  # type: ignore[no-untyped-def]
    """A plain aiobotocore client on the same server, to look at the bucket from outside the code under test."""
    assert settings.access_key is not None and settings.secret_key is not None
    return get_session().create_client(
        "s3",
        endpoint_url=settings.endpoint,
        region_name=settings.region,
        aws_access_key_id=settings.access_key.get_secret_value(),
        aws_secret_access_key=settings.secret_key.get_secret_value(),
        # as shared/attachments/s3.py: S3Proxy answers botocore's default checksum mode 501 NotImplemented
        config=AioConfig(request_checksum_calculation="when_required", response_checksum_validation="when_required"),
    )


async def bucket_keys(settings: StorageSettings) -> set[str]:
    async with s3_client(settings) as client:
        listed = await client.list_objects_v2(Bucket=settings.bucket)
    return {item["Key"] for item in listed.get("Contents", [])}
