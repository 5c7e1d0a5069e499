"""Photos as real files through intake, on the real Kafka and PostgreSQL, stored on the local disk and (the same
flows again) in a bucket of a real S3-compatible server (S3Proxy)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from PIL import Image
from prometheus_client import REGISTRY

from griddispatch.infra.s3proxy import S3Server
from services.intake.main import create_app
from services.intake.upload_pruner import prune_unbound
from services.intake.uploads import Uploads
from shared.attachments.storage import BlobStore, open_store
from shared.errors import BlobMissing
from shared.kafka import ensure_topics
from shared.registry_store import import_directory
from shared.settings import (
    AttachmentSettings,
    DatabaseSettings,
    IntakeSettings,
    KafkaSettings,
    ServiceSettings,
    StorageSettings,
)
from shared.topics import Topics
from tests import photos
from tests.case_rows import insert_case
from tests.intake_fixtures import SAMPLE, Caller, events_for
from tests.people_rows import PASSWORD, insert_person
from tests.s3_fixtures import bucket_keys, s3_client, s3_settings

GPS_IFD = 0x8825
LEAD = "unit:610199004001"  # the grid insert_case leads with; its street 610199004, the district 610199
ELSEWHERE = "unit:610299"  # another district


@dataclass
class PhotoStack:
    http: httpx.AsyncClient
    pool: Any
    topics: Topics
    kafka: KafkaSettings
    storage: StorageSettings
    store: BlobStore
    uploads: Uploads

    async def caller(self, *scopes: str, units: tuple[str, ...] = ("*",), source: str | None = "grid_app") -> Caller:
        from shared.api_clients import create_client

        async with self.pool.acquire() as conn:
            client, key = await create_client(
                conn, name="photo test", scopes=scopes, units=units, source=source, rate_per_min=10_000
            )
        return Caller(client, key)

    async def upload(
        self, who: Caller | dict[str, str], data: bytes, name: str = "photo.jpg", **form: str
    ) -> httpx.Response:
        headers = who.headers if isinstance(who, Caller) else who
        key = {k: v for k, v in form.items() if k == "Idempotency-Key"}
        fields = {k: v for k, v in form.items() if k != "Idempotency-Key"}
        return await self.http.post(
            "/v1/attachments",
            files={"file": (name, data, "image/jpeg")},
            data=fields,
            headers={**headers, **key},
        )

    async def stored(self, key: str) -> bytes:
        """What the store itself holds under the key, read past the code under test."""
        if self.storage.backend == "s3":
            assert key in await bucket_keys(self.storage)  # really in S3Proxy's bucket
            async with s3_client(self.storage) as client:
                answer = await client.get_object(Bucket=self.storage.bucket, Key=key)
                async with answer["Body"] as body:
                    data: bytes = await body.read()
                return data
        return (self.storage.dir / key).read_bytes()


@pytest.fixture(scope="module", params=["local", "s3"])
def storage_backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> StorageSettings:
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3proxy")
        return s3_settings(server, f"gd-photos-{uuid.uuid4().hex[:10]}")
    return StorageSettings(backend="local", dir=tmp_path_factory.mktemp("attachments"))


@pytest.fixture(scope="module")
async def stack(
    storage_backend: StorageSettings, kafka_settings: KafkaSettings, database_settings: DatabaseSettings
) -> AsyncIterator[PhotoStack]:
    if storage_backend.backend == "s3":
        async with s3_client(storage_backend) as client:
            await client.create_bucket(Bucket=storage_backend.bucket)
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}-p{uuid.uuid4().hex[:6]}"})
    topics = Topics(kafka.topic_prefix)
    await ensure_topics(kafka, topics.core_specs())
    app = create_app(
        kafka,
        database_settings,
        ServiceSettings(),
        IntakeSettings(public_url="http://intake.test"),
        storage=storage_backend,
        photos=AttachmentSettings(),
    )
    async with app.router.lifespan_context(app), open_store(storage_backend) as store:
        pool = app.state.resources.pool
        async with pool.acquire() as conn:
            await import_directory(conn, SAMPLE, imported_by="tests")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.test", timeout=60) as http:
            yield PhotoStack(http, pool, topics, kafka, storage_backend, store, app.state.resources.uploads)


def image_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def bare_jpeg(data: bytes) -> None:
    """A JPEG with nothing but pixels: no EXIF (so no GPS), no comment, no profile."""
    image = image_of(data)
    assert image.format == "JPEG"
    assert dict(image.getexif()) == {} and image.getexif().get_ifd(GPS_IFD) == {}
    assert not {"exif", "comment", "icc_profile"} & set(image.info)


def report(**changes: Any) -> dict[str, Any]:
    return {"title": "井盖丢失", "location": {"lon": 108.9352, "lat": 34.2721}, "source": "grid_app", **changes}


async def test_a_png_named_jpg_is_taken_as_png_and_served_as_jpeg(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    response = await stack.upload(worker, photos.png(), name="fake.jpg")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == "image/jpeg" and body["role"] == "evidence"
    assert (body["width"], body["height"]) == (400, 300)
    assert body["url"] == f"/v1/attachments/{body['id']}" and body["thumbnail_url"] == body["url"] + "/thumbnail"
    original = await stack.pool.fetchval("SELECT original_type FROM attachments WHERE id = $1", uuid.UUID(body["id"]))
    assert original == "image/png"
    served = await stack.http.get(body["url"], headers=worker.headers)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert image_of(served.content).format == "JPEG" and len(served.content) == body["bytes"]
    thumbnail = await stack.http.get(body["thumbnail_url"], headers=worker.headers)
    assert image_of(thumbnail.content).size == (320, 240)


async def test_a_zip_named_jpg_is_refused_415(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    before = await stack.pool.fetchval("SELECT count(*) FROM attachments")
    response = await stack.upload(worker, photos.zip_file(), name="photo.jpg")
    assert response.status_code == 415, response.text
    assert response.json()["type"].endswith("/unsupported_media_type") and response.json()["field"] == "file"
    assert await stack.pool.fetchval("SELECT count(*) FROM attachments") == before


async def test_a_30_mb_image_is_refused_413(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    response = await stack.upload(worker, photos.noise_png(30), name="big.png")
    assert response.status_code == 413, response.text
    problem = response.json()
    assert problem["type"].endswith("/attachment_too_large") and problem["max_bytes"] > 20 * 1024 * 1024


async def test_a_decompression_bomb_is_refused(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    bomb = photos.bomb()
    assert len(bomb) < 100_000  # a few kilobytes that would decode to 144 million pixels
    response = await stack.upload(worker, bomb, name="bomb.png")
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/image_too_many_pixels")


async def test_a_polyglot_is_served_without_any_of_its_payload(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    data = photos.polyglot()
    response = await stack.upload(worker, data)
    assert response.status_code == 201, response.text
    body = response.json()
    row = await stack.pool.fetchrow("SELECT * FROM attachments WHERE id = $1", uuid.UUID(body["id"]))
    for url, key in ((body["url"], row["storage_key"]), (body["thumbnail_url"], row["thumbnail_key"])):
        served = (await stack.http.get(url, headers=worker.headers)).content
        for copy in (served, await stack.stored(key)):
            assert b"PK\x03\x04" not in copy and photos.HTML not in copy and b"<script" not in copy
            bare_jpeg(copy)


async def test_a_heic_photo_is_served_as_jpeg(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    response = await stack.upload(worker, photos.heic(gps=photos.XIANGMIYUAN), name="IMG_0001.HEIC")
    assert response.status_code == 201, response.text
    served = await stack.http.get(response.json()["url"], headers=worker.headers)
    bare_jpeg(served.content)
    assert image_of(served.content).size == (640, 480)


async def test_exif_gps_is_kept_for_the_case_and_gone_from_every_served_copy(stack: PhotoStack) -> None:
    worker = await stack.caller("submit", "read", units=(LEAD,))
    upload = photos.jpeg(gps=photos.XIANGMIYUAN)
    assert image_of(upload).getexif().get_ifd(GPS_IFD)  # the upload carries the phone's position
    photo = (await stack.upload(worker, upload, role="before")).json()
    submitted = await stack.http.post("/v1/reports", json=report(attachment_ids=[photo["id"]]), headers=worker.headers)
    assert submitted.status_code == 202, submitted.text
    case_id = submitted.json()["case_id"]

    listed = await stack.http.get(f"/v1/cases/{case_id}/attachments", headers=worker.headers)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["id"] == photo["id"] and item["role"] == "before" and item["uploaded_by"] == str(worker.client.id)
    assert item["exif_location"] == pytest.approx({"lat": 34.2721, "lon": 108.9352}, abs=1e-5)
    row = await stack.pool.fetchrow("SELECT * FROM attachments WHERE id = $1", uuid.UUID(photo["id"]))
    assert str(row["case_id"]) == case_id and row["exif_lat"] == pytest.approx(34.2721, abs=1e-5)
    for url, key in ((item["url"], row["storage_key"]), (item["thumbnail_url"], row["thumbnail_key"])):
        served = await stack.http.get(url, headers=worker.headers)
        assert served.status_code == 200
        bare_jpeg(served.content)
        bare_jpeg(await stack.stored(key))  # and what the store holds has none either

    [event] = await events_for(stack.kafka, stack.topics.reports, case_id)
    assert f"http://intake.test/v1/attachments/{photo['id']}" in event.data.attachments


async def test_another_districts_key_and_person_get_404(stack: PhotoStack) -> None:
    worker = await stack.caller("submit", "read", units=(LEAD,))
    photo = (await stack.upload(worker, photos.jpeg())).json()
    case_id = (
        await stack.http.post("/v1/reports", json=report(attachment_ids=[photo["id"]]), headers=worker.headers)
    ).json()["case_id"]
    async with stack.pool.acquire() as conn:
        await conn.execute(
            "UPDATE submissions SET scope_keys = $2 WHERE case_id = $1",
            uuid.UUID(case_id),
            [LEAD, "unit:610199004", "unit:610199", worker.client.own_key],
        )
        _, ours = await insert_person(conn, roles=[("grid_worker", "unit:610199004001001006"), ("duty_officer", LEAD)])
        _, theirs = await insert_person(conn, roles=[("duty_officer", ELSEWHERE)])
    district = await stack.caller("read", units=("unit:610199",))
    other_key = await stack.caller("read", "submit", units=(ELSEWHERE,))
    paths = (photo["url"], photo["thumbnail_url"], f"/v1/cases/{case_id}/attachments")
    for path in paths:
        assert (await stack.http.get(path, headers=district.headers)).status_code == 200
        hidden = await stack.http.get(path, headers=other_key.headers)
        assert hidden.status_code == 404 and hidden.json()["type"].endswith("/not_found")
    for login, expected in ((ours, 200), (theirs, 404)):
        signed = await stack.http.post("/v1/auth/sign-in", json={"login": login, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        bearer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        for path in paths:
            assert (await stack.http.get(path, headers=bearer)).status_code == expected, (login, path)


async def test_an_unbound_upload_is_its_uploaders_alone(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    everyone = await stack.caller("read", "submit")  # sees every case, but this upload is on none
    photo = (await stack.upload(worker, photos.jpeg())).json()
    assert (await stack.http.get(photo["url"], headers=worker.headers)).status_code == 200
    assert (await stack.http.get(photo["url"], headers=everyone.headers)).status_code == 404
    assert (await stack.http.get(f"/v1/attachments/{uuid.uuid4()}", headers=worker.headers)).status_code == 404


async def test_binding_refuses_unknown_foreign_and_taken_uploads(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    stranger = await stack.caller("submit")
    theirs = (await stack.upload(stranger, photos.jpeg())).json()["id"]
    for ids in ([str(uuid.uuid4())], [theirs]):
        refused = await stack.http.post("/v1/reports", json=report(attachment_ids=ids), headers=worker.headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"].endswith("/unknown_attachment") and refused.json()["field"] == "attachment_ids"
    kept = await stack.pool.fetchval("SELECT count(*) FROM submissions WHERE client_id = $1", worker.client.id)
    assert kept == 0  # nothing half-accepted

    mine = (await stack.upload(worker, photos.jpeg())).json()["id"]
    first = await stack.http.post("/v1/reports", json=report(attachment_ids=[mine]), headers=worker.headers)
    assert first.status_code == 202
    again = await stack.http.post(
        "/v1/reports", json=report(title="另一处", attachment_ids=[mine]), headers=worker.headers
    )
    assert again.status_code == 422 and again.json()["type"].endswith("/attachment_bound_elsewhere")


async def test_a_retried_report_binds_once_and_a_case_holds_at_most_ten(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    ids = [(await stack.upload(worker, photos.png(40, 30))).json()["id"] for _ in range(11)]
    too_many = await stack.http.post("/v1/reports", json=report(attachment_ids=ids), headers=worker.headers)
    assert too_many.status_code == 422  # 11 > the body's 10
    key = {"Idempotency-Key": f"rep-{uuid.uuid4()}"}
    body = report(attachment_ids=ids[:10])
    first = await stack.http.post("/v1/reports", json=body, headers={**worker.headers, **key})
    retry = await stack.http.post("/v1/reports", json=body, headers={**worker.headers, **key})
    assert first.status_code == retry.status_code == 202 and retry.json()["replayed"] is True
    case_id = uuid.UUID(first.json()["case_id"])
    assert await stack.pool.fetchval("SELECT count(*) FROM attachments WHERE case_id = $1", case_id) == 10


async def test_an_action_binds_its_after_photos(stack: PhotoStack) -> None:
    async with stack.pool.acquire() as conn:
        case_id = await insert_case(conn, state="accepted")
    assignee = await stack.caller("act", "read", units=(LEAD,), source=None)
    photo = (await stack.upload(assignee, photos.jpeg(), role="after")).json()
    action = {
        "action": "resolve",
        "actor": {"id": "worker-7", "unit": LEAD},
        "text": "已到现场，井盖已补装",
        "attachment_ids": [photo["id"]],
    }
    response = await stack.http.post(f"/v1/cases/{case_id}/actions", json=action, headers=assignee.headers)
    assert response.status_code == 202, response.text
    [item] = (await stack.http.get(f"/v1/cases/{case_id}/attachments", headers=assignee.headers)).json()["items"]
    assert item["id"] == photo["id"] and item["role"] == "after"
    [event] = [e for e in await events_for(stack.kafka, stack.topics.actions, str(case_id))]
    assert event.data.payload["attachment_ids"] == [photo["id"]]
    stranger = await stack.caller("act", units=(LEAD,), source=None)
    foreign = {**action, "attachment_ids": [photo["id"]]}
    refused = await stack.http.post(f"/v1/cases/{case_id}/actions", json=foreign, headers=stranger.headers)
    assert refused.status_code == 422 and refused.json()["type"].endswith("/unknown_attachment")


async def test_an_upload_retried_with_its_key_is_the_same_upload(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    key = f"photo-{uuid.uuid4()}"
    data = photos.jpeg()
    first = await stack.upload(worker, data, **{"Idempotency-Key": key})
    retry = await stack.upload(worker, data, **{"Idempotency-Key": key})
    assert first.status_code == retry.status_code == 201 and first.json() == retry.json()
    other = await stack.upload(worker, photos.png(), **{"Idempotency-Key": key})
    assert other.status_code == 409 and other.json()["type"].endswith("/idempotency_conflict")
    count = await stack.pool.fetchval("SELECT count(*) FROM attachments WHERE uploaded_by = $1", worker.client.id)
    assert count == 1


async def test_what_is_not_a_photo_upload_is_refused_clearly(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    reader = await stack.caller("read")
    as_json = await stack.http.post("/v1/attachments", json={"file": "x"}, headers=worker.headers)
    assert as_json.status_code == 415
    no_file = await stack.http.post("/v1/attachments", files={"other": ("a.jpg", b"x")}, headers=worker.headers)
    assert no_file.status_code == 422 and no_file.json()["field"] == "file"
    bad_role = await stack.upload(worker, photos.jpeg(), role="selfie")
    assert bad_role.status_code == 422 and bad_role.json()["field"] == "role"
    assert (await stack.upload(reader, photos.jpeg())).status_code == 403
    assert (await stack.upload({}, photos.jpeg())).status_code == 401
    truncated = await stack.upload(worker, photos.jpeg()[:300])
    assert truncated.status_code == 422 and truncated.json()["type"].endswith("/unreadable_image")


async def test_uploads_are_counted_by_outcome_and_bytes(stack: PhotoStack) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    worker = await stack.caller("submit")
    stored, refused = (
        sample("griddispatch_attachment_uploads_total", outcome="stored"),
        sample("griddispatch_attachment_uploads_total", outcome="unsupported_media_type"),
    )
    received = sample("griddispatch_attachment_bytes_total", kind="received")
    data = photos.jpeg()
    await stack.upload(worker, data)
    await stack.upload(worker, photos.zip_file())
    assert sample("griddispatch_attachment_uploads_total", outcome="stored") == stored + 1
    assert sample("griddispatch_attachment_uploads_total", outcome="unsupported_media_type") == refused + 1
    assert sample("griddispatch_attachment_bytes_total", kind="received") >= received + len(data)


async def test_open311_takes_a_multipart_media_photo(stack: PhotoStack) -> None:
    client = await stack.caller("submit", "read", source="open311")
    form = {
        "service_code": "sanitation",
        "lat": "34.2721",
        "long": "108.9352",
        "description": "小区门口的垃圾堆了三天没人清运",
        "api_key": client.key,
    }
    upload = photos.jpeg(gps=photos.XIANGMIYUAN)
    response = await stack.http.post(
        "/open311/v2/requests.json", data=form, files={"media": ("rubbish.jpg", upload, "image/jpeg")}
    )
    assert response.status_code == 201, response.text
    [posted] = response.json()
    media_url = posted["media_url"]
    assert media_url.startswith("http://intake.test/v1/attachments/")
    served = await stack.http.get(media_url.removeprefix("http://intake.test"), headers=client.headers)
    assert served.status_code == 200
    bare_jpeg(served.content)
    number = posted["service_request_id"]
    case_id = await stack.pool.fetchval("SELECT case_id FROM submissions WHERE case_number = $1", number)
    [item] = (await stack.http.get(f"/v1/cases/{case_id}/attachments", headers=client.headers)).json()["items"]
    assert media_url.endswith(item["id"]) and item["exif_location"] is not None

    not_a_photo = await stack.http.post(
        "/open311/v2/requests.json", data=form, files={"media": ("rubbish.jpg", photos.zip_file(), "image/jpeg")}
    )
    assert not_a_photo.status_code == 415 and not_a_photo.json()[0]["code"] == 415


async def test_an_upload_no_case_took_within_a_day_is_pruned_rows_and_files(stack: PhotoStack) -> None:
    worker = await stack.caller("submit")
    kept, dropped, fresh = [(await stack.upload(worker, photos.jpeg())).json()["id"] for _ in range(3)]
    await stack.http.post("/v1/reports", json=report(attachment_ids=[kept]), headers=worker.headers)
    await stack.pool.execute(
        "UPDATE attachments SET created_at = now() - interval '25 hours' WHERE id = ANY($1::uuid[])",
        [uuid.UUID(kept), uuid.UUID(dropped)],
    )
    keys = await stack.pool.fetchrow(
        "SELECT storage_key, thumbnail_key FROM attachments WHERE id = $1", uuid.UUID(dropped)
    )
    assert await stack.stored(keys["storage_key"])
    assert await prune_unbound(stack.pool, stack.uploads, datetime.now(UTC)) >= 1
    left = await stack.pool.fetch(
        "SELECT id FROM attachments WHERE id = ANY($1::uuid[])", [uuid.UUID(i) for i in (kept, dropped, fresh)]
    )
    assert {str(r["id"]) for r in left} == {kept, fresh}
    for key in keys.values():
        with pytest.raises(BlobMissing):
            await stack.store.get(key)
        if stack.storage.backend == "s3":
            assert key not in await bucket_keys(stack.storage)
    assert (await stack.http.get(f"/v1/attachments/{dropped}", headers=worker.headers)).status_code == 404


async def test_readiness_includes_the_store(stack: PhotoStack) -> None:
    ready = await stack.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["storage"]["ok"] is True
