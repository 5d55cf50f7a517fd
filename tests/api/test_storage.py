"""Both storage backends honour one contract; S3 runs over real HTTP against moto's server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.storage import LocalStorage, S3Storage, Storage


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _s3(endpoint: str) -> S3Storage:
    import boto3

    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    client.create_bucket(Bucket="photos")
    return S3Storage("photos", prefix="facematch", client=client)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path)
    return _s3(request.getfixturevalue("s3_endpoint"))


def test_put_get_exists_delete(storage: Storage) -> None:
    key = "events/e1/photos/p1.jpg"
    assert not storage.exists(key)
    storage.put(key, b"\xff\xd8photo\xff\xd9")
    assert storage.exists(key)
    assert storage.get(key) == b"\xff\xd8photo\xff\xd9"
    storage.put(key, b"replaced")
    assert storage.get(key) == b"replaced"
    storage.delete(key)
    assert not storage.exists(key)
    storage.delete(key)  # deleting twice is fine


def test_a_missing_object_is_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        storage.get("events/none/photos/missing.jpg")


def test_keys_cannot_escape_the_root(storage: Storage) -> None:
    with pytest.raises(ValueError):
        storage.put("../../etc/passwd", b"x")


def test_a_folder_is_listed_and_deleted_whole_and_only_it(storage: Storage) -> None:
    """An event's deletion ends by sweeping its folder: whatever a race left there goes."""
    kept = "events/e10/photos/p.jpg"  # a neighbour whose name starts the same
    storage.put(kept, b"kept")
    keys = [f"events/e1/photos/p{n}.jpg" for n in range(3)] + ["events/e1/previews/p0-small.jpg"]
    for key in keys:
        storage.put(key, b"x")
    assert storage.keys("events/e1/") == sorted(keys)
    assert storage.delete_prefix("events/e1/") == 4
    assert storage.keys("events/e1/") == []
    assert storage.delete_prefix("events/e1/") == 0, "again: nothing, and no error"
    assert storage.keys("events/") == [kept]
    with pytest.raises(ValueError):
        storage.delete_prefix("events/e1")  # not a folder: it would take e10 with it
