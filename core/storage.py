"""Where image bytes live: a directory (local mode, or a ReadWriteMany volume) or an
S3-compatible bucket. The interface is all callers see."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from core.config import settings


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def delete_many(self, keys: list[str]) -> None: ...
    def keys(self, prefix: str) -> list[str]:
        """Every key under `prefix` (a folder, ending in "/")."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under `prefix`; how many there were."""
        ...


PREVIEW_SIZES = ("thumb", "preview")
"""The derived JPEGs kept beside an original (their sides: api.images.PREVIEW_SIDES)."""


def event_folder(event_id: uuid.UUID) -> str:
    """Everything of an event's lies under this: photos, previews, selfies."""
    return f"events/{event_id}/"


def preview_key(event_id: uuid.UUID, photo_id: uuid.UUID, size: str, mark: int = 0) -> str:
    """Where a preview made under the event's mark (`Event.preview_mark`) is kept: a new
    watermark changes the key, so a preview made under the old one is never served."""
    version = f"-m{mark}" if mark else ""
    return f"{previews_folder(event_id)}{photo_id}-{size}{version}.jpg"


def previews_folder(event_id: uuid.UUID) -> str:
    return f"{event_folder(event_id)}previews/"


_PREVIEW_NAME = re.compile(r"-[a-z]+(?:-m(\d+))?\.jpg$")


def preview_mark_of(key: str) -> int | None:
    """The mark a preview's key names (0: none); None for a key that is not a preview's."""
    found = _PREVIEW_NAME.search(key)
    if found is None:
        return None
    return int(found.group(1) or 0)


def logo_key(event_id: uuid.UUID, version: int) -> str:
    """The event's logo (a PNG the API made of the upload), one file per version: a new
    logo never overwrites the one a transaction that may roll back replaces."""
    return f"{event_folder(event_id)}brand/logo-{version}.png"


def photo_keys(event_id: uuid.UUID, photo_id: uuid.UUID, original: str, mark: int = 0) -> list[str]:
    """A photo's original and every preview that may have been made of it, under the
    event's current mark and without one (previews under older marks are swept when the
    mark changes: `workers.jobs.events.sweep_previews`)."""
    marks = {0, mark}
    return [original, *(preview_key(event_id, photo_id, size, m)
                        for size in PREVIEW_SIZES for m in sorted(marks))]  # fmt: skip


def _folder(prefix: str) -> str:
    if not prefix.endswith("/") or prefix.startswith("/") or ".." in prefix.split("/"):
        raise ValueError(f"bad storage prefix: {prefix!r}")
    return prefix


class LocalStorage:
    """Files under a root directory. Writes are atomic: a reader never sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self.delete(key)

    def keys(self, prefix: str) -> list[str]:
        folder = self._path(_folder(prefix))
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in folder.rglob("*") if p.is_file())

    def delete_prefix(self, prefix: str) -> int:
        folder = self._path(_folder(prefix))
        found = self.keys(prefix)
        shutil.rmtree(folder, ignore_errors=True)  # an upload's temporary file too
        return len(found)


class S3Storage:
    """Objects in an S3-compatible bucket. A put is atomic on S3: readers see all or nothing."""

    def __init__(self, bucket: str, *, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or _s3_client()

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"bad storage key: {key!r}")
        return self.prefix + key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from None
            raise
        return bytes(response["Body"].read())

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return False
            raise
        return True

    def keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(_folder(prefix))
        )
        start = len(self.prefix)
        return sorted(o["Key"][start:] for page in pages for o in page.get("Contents", []))

    def delete_many(self, keys: list[str]) -> None:
        for at in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys at most
            batch = [{"Key": self._key(k)} for k in keys[at : at + 1000]]
            response = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
            if response.get("Errors"):
                raise OSError(f"S3 kept {len(response['Errors'])} objects: {response['Errors'][0]}")

    def delete_prefix(self, prefix: str) -> int:
        found = self.keys(prefix)
        self.delete_many(found)
        return len(found)


@cache
def _s3_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.S3_ENDPOINT_URL,
        region_name=settings.S3_REGION,
        aws_access_key_id=settings.S3_ACCESS_KEY_ID,
        aws_secret_access_key=settings.S3_SECRET_ACCESS_KEY,
        config=Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 3}),
    )


def get_storage() -> Storage:
    if settings.STORAGE_BACKEND == "s3":
        return S3Storage(settings.S3_BUCKET, prefix=settings.S3_PREFIX)
    return LocalStorage(settings.storage_root)
