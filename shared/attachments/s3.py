"""The attachments' files in any S3-compatible object store, through aiobotocore (botocore, asynchronously)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from shared.attachments.storage import check_key
from shared.errors import BlobMissing, StorageUnavailable
from shared.settings import StorageSettings

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Store:
    backend = "s3"

    def __init__(self, client: Any, bucket: str) -> None:  # aiobotocore's S3 client (its type is generated)
        self.client = client
        self.bucket = bucket

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: StorageSettings) -> AsyncIterator[S3Store]:
        config = AioConfig(
            s3={"addressing_style": "path" if settings.path_style else "auto"},
            connect_timeout=settings.timeout_s,
            read_timeout=settings.timeout_s,
            retries={"max_attempts": 3, "mode": "standard"},
            # Checksums only where S3 requires them: botocore's newer default (aws-chunked bodies with trailing
            # checksums) is not understood by many S3-compatible stores.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = get_session()
        async with session.create_client(
            "s3",
            endpoint_url=settings.endpoint,
            region_name=settings.region,
            aws_access_key_id=settings.access_key.get_secret_value() if settings.access_key else None,
            aws_secret_access_key=settings.secret_key.get_secret_value() if settings.secret_key else None,
            config=config,
        ) as client:
            yield cls(client, settings.bucket)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            await self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"storing {key} in bucket {self.bucket} failed: {exc}") from exc

    async def get(self, key: str) -> bytes:
        try:
            answer = await self.client.get_object(Bucket=self.bucket, Key=check_key(key))
            async with answer["Body"] as body:
                data: bytes = await body.read()
            return data
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise BlobMissing(f"no file stored under {key}") from exc
            raise StorageUnavailable(f"reading {key} from bucket {self.bucket} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"reading {key} from bucket {self.bucket} failed: {exc}") from exc

    async def delete(self, key: str) -> None:
        try:
            await self.client.delete_object(Bucket=self.bucket, Key=check_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"deleting {key} from bucket {self.bucket} failed: {exc}") from exc

    async def check(self) -> None:
        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"bucket {self.bucket} cannot be reached: {exc}") from exc
