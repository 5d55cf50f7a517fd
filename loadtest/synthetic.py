"""Synthetic events loaded straight into the schema: big events without indexing a photo.

Encodings imitate dlib's: 128 numbers per face, two photos of one person about 0.3-0.6
apart, two people about 0.9 apart (the default tolerance is 0.60). A crowd of people
is drawn; some of them register as attendees with a selfie (a noisy copy of their
face); each photo holds `faces_per_photo` faces, a share of them attendees', the rest
bystanders'. A tenth of the faces are weak (small or blurred: quality under 0.15).

Used by `make chaos` (a rematch big enough to be killed midway) and `make bench-scale`.
Rows go in with binary COPY, so a million faces load in minutes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from core.config import settings

DIMENSIONS = 128
PERSON_SPREAD = 0.056
"""Per-number spread of people: two random people are ~16 x 0.056 = 0.9 apart."""
FACE_NOISE = (0.012, 0.04)
"""Per-number noise of one photo of a person: 0.19 to 0.64 from their true face."""
SELFIE_NOISE = 0.015
WEAK_SHARE = 0.1


@dataclass
class SyntheticEvent:
    url: str
    event_id: uuid.UUID
    people: np.ndarray
    """Everyone who may appear: attendees are the first `len(attendee_ids)`."""
    attendee_ids: list[uuid.UUID]
    selfie_vectors: np.ndarray
    """One row per selfie; `selfie_owner[i]` is its attendee's index."""
    selfie_owner: np.ndarray
    rng: np.random.Generator
    late_attendees: list[int] = field(default_factory=list)
    """People who are in the photos but have not registered yet (`register` them)."""
    photo_ids: list[uuid.UUID] = field(default_factory=list)
    face_ids: list[uuid.UUID] = field(default_factory=list)
    face_vectors: list[np.ndarray] = field(default_factory=list)
    """Per chunk of photos added (np.concatenate them for the whole event)."""
    face_photo: list[np.ndarray] = field(default_factory=list)
    """Per chunk: the index in `photo_ids` of each face's photo."""
    face_quality: list[np.ndarray] = field(default_factory=list)

    @property
    def attendees(self) -> int:
        return len(self.attendee_ids)

    @property
    def in_photos(self) -> int:
        """How many people (from the first) are attendees, registered or not yet."""
        return len(self.attendee_ids) + len(self.late_attendees)


def generate_faces(
    rng: np.random.Generator, people: np.ndarray, attendees: int, count: int, attendee_share: float
) -> np.ndarray:
    """`count` faces of `people`; attendees (people[:attendees]) own `attendee_share` of them."""
    is_attendee = rng.random(count) < attendee_share
    owner = np.where(
        is_attendee,
        rng.integers(0, attendees, count),
        rng.integers(attendees, len(people), count),
    )
    noise = rng.uniform(*FACE_NOISE, size=(count, 1))
    return (people[owner] + rng.normal(0.0, 1.0, (count, DIMENSIONS)) * noise).astype(np.float32)


def load_event(
    url: str,
    event_id: uuid.UUID,
    *,
    photos: int,
    faces_per_photo: int,
    attendees: int,
    selfies_per_attendee: int = 1,
    attendee_share: float = 0.5,
    late_attendees: int = 0,
    seed: int = 1,
) -> SyntheticEvent:
    """Attendees with valid selfies, indexed photos and their faces, into an existing event.
    `late_attendees` more people are in the photos as attendees are, and register later."""
    rng = np.random.default_rng(seed)
    bystanders = max(attendees * 4, 1000)
    people = rng.normal(0.0, PERSON_SPREAD, (attendees + late_attendees + bystanders, DIMENSIONS))
    selfie_owner = np.repeat(np.arange(attendees), selfies_per_attendee)
    selfie_vectors = (
        people[selfie_owner] + rng.normal(0.0, SELFIE_NOISE, (len(selfie_owner), DIMENSIONS))
    ).astype(np.float32)
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    users = [uuid.uuid4() for _ in range(attendees)]
    attendee_ids = [uuid.uuid4() for _ in range(attendees)]
    late = list(range(attendees, attendees + late_attendees))
    event = SyntheticEvent(
        url, event_id, people, attendee_ids, selfie_vectors, selfie_owner, rng, late_attendees=late
    )
    with psycopg.connect(url) as connection:
        register_vector(connection)
        with connection.cursor() as cursor:
            _copy(cursor, "users", ["id", "email", "role", "hashed_password", "is_active",
                                    "created_at"], ["uuid", "text", "text", "text", "bool",
                                                    "timestamptz"],
                  ((u, f"synthetic-{tag}-{n}@example.com", "attendee", "!", True, now)
                   for n, u in enumerate(users)))  # fmt: skip
            _copy(cursor, "attendees", ["id", "user_id", "event_id", "consented_at",
                                        "consent_policy_version", "created_at"],
                  ["uuid", "uuid", "uuid", "timestamptz", "text", "timestamptz"],
                  ((a, u, event_id, now, settings.CONSENT_POLICY_VERSION, now)
                   for a, u in zip(attendee_ids, users, strict=True)))  # fmt: skip
            _copy(cursor, "selfies", ["id", "attendee_id", "event_id", "status", "encoding",
                                      "quality", "attempts", "created_at", "updated_at"],
                  ["uuid", "uuid", "uuid", "text", "vector", "float8", "int4", "timestamptz",
                   "timestamptz"],
                  ((uuid.uuid4(), attendee_ids[owner], event_id, "valid", vector, 0.9, 1, now,
                    now) for owner, vector in zip(selfie_owner, selfie_vectors,
                                                  strict=True)))  # fmt: skip
        connection.commit()
    add_photos(event, photos, faces_per_photo, attendee_share)
    return event


def add_photos(
    event: SyntheticEvent,
    photos: int,
    faces_per_photo: int,
    attendee_share: float = 0.5,
    chunk_photos: int = 5000,
    analyze: bool = True,
) -> list[uuid.UUID]:
    """`photos` more indexed photos with their faces, a chunk of photos per transaction;
    their ids."""
    added: list[uuid.UUID] = []
    with psycopg.connect(event.url) as connection:
        register_vector(connection)
        for start in range(0, photos, chunk_photos):
            now = datetime.now(UTC)
            first = len(event.photo_ids)
            chunk = [uuid.uuid4() for _ in range(min(chunk_photos, photos - start))]
            count = len(chunk) * faces_per_photo
            rng = event.rng
            found = generate_faces(rng, event.people, event.in_photos, count, attendee_share)
            photo_index = np.repeat(np.arange(first, first + len(chunk)), faces_per_photo)
            weak = rng.random(count) < WEAK_SHARE
            quality = np.where(weak, rng.uniform(0.02, 0.15, count), rng.uniform(0.15, 0.95, count))
            face_ids = [uuid.uuid4() for _ in range(count)]
            event.photo_ids += chunk
            added += chunk
            with connection.cursor() as cursor:
                _copy(cursor, "photos", ["id", "event_id", "storage_key", "filename",
                                         "content_type", "bytes", "width", "height", "status",
                                         "face_count", "attempts", "created_at", "updated_at",
                                         "indexed_at"],
                      ["uuid", "uuid", "text", "text", "text", "int4", "int4", "int4", "text",
                       "int4", "int4", "timestamptz", "timestamptz", "timestamptz"],
                      ((p, event.event_id, f"synthetic/{p}.jpg", f"{first + n:06d}.jpg",
                        "image/jpeg", 1, 6000, 4000, "indexed", faces_per_photo, 1, now, now, now)
                       for n, p in enumerate(chunk)))  # fmt: skip
                _copy(cursor, "faces", ["id", "photo_id", "event_id", "top", "right", "bottom",
                                        "left", "encoding", "detected_width", "detected_height",
                                        "size_px", "quality"],
                      ["uuid", "uuid", "uuid", "int4", "int4", "int4", "int4", "vector", "int4",
                       "int4", "int4", "float8"],
                      ((f, event.photo_ids[p], event.event_id, 100, 180, 180, 100, v, 6000, 4000,
                        80, float(q))
                       for f, p, v, q in zip(face_ids, photo_index, found, quality,
                                             strict=True)))  # fmt: skip
            connection.commit()
            event.face_ids += face_ids
            event.face_vectors.append(found)
            event.face_photo.append(photo_index)
            event.face_quality.append(quality)
        if analyze:
            # As autovacuum would after a load this size: without statistics the planner
            # joins a million faces in the wrong order (a 1 s rematch took minutes).
            connection.execute("ANALYZE users, attendees, selfies, photos, faces")
    return added


def register(event: SyntheticEvent, person: int) -> uuid.UUID:
    """`person` registers with a valid selfie (no matching); the new attendee's id."""
    now = datetime.now(UTC)
    user, attendee = uuid.uuid4(), uuid.uuid4()
    selfie = event.people[person] + event.rng.normal(0.0, SELFIE_NOISE, DIMENSIONS)
    with psycopg.connect(event.url) as connection:
        register_vector(connection)
        connection.execute(
            "INSERT INTO users (id, email, role, hashed_password, is_active, created_at)"
            " VALUES (%s, %s, 'attendee', '!', true, %s)",
            (user, f"late-{user.hex[:12]}@example.com", now),
        )
        connection.execute(
            "INSERT INTO attendees (id, user_id, event_id, consented_at,"
            " consent_policy_version, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (attendee, user, event.event_id, now, settings.CONSENT_POLICY_VERSION, now),
        )
        connection.execute(
            "INSERT INTO selfies (id, attendee_id, event_id, status, encoding, quality,"
            " attempts, created_at, updated_at) VALUES (%s, %s, %s, 'valid', %s, 0.9, 1, %s, %s)",
            (uuid.uuid4(), attendee, event.event_id, selfie.astype(np.float32), now, now),
        )
    return attendee


def _copy(cursor: Any, table: str, columns: list[str], types: list[str], rows: Any) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
