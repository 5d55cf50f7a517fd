"""Bib numbers read from race photos (workers/bibs.py): runners built from real faces of
../shared with bibs drawn onto their shirts (loadtest/bib_data.py), and the hard cases
the reader must refuse rather than read wrong."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlmodel import Session, func, select

from api.reconciler.service import reconcile
from core import queue
from core.models import Attendee, Email, EmailKind, Event, Photo, PhotoBib
from core.queue import JobQueue
from core.text import bib_number
from loadtest import bib_data
from tests.helpers import create_event, create_user, run_jobs
from tests.workers.test_tasks import add_photo
from workers import bibs, faces, tasks

pytestmark = pytest.mark.faces
HEADS = [
    "ageitgey_face_recognition/examples/obama.jpg",
    "ageitgey_face_recognition/examples/biden.jpg",
    "ageitgey_face_recognition/examples/knn_examples/train/alex_lacamoire/img1.jpg",
]


@pytest.fixture(scope="module")
def heads(faces_dir: Path) -> list[tuple[str, str, Any, tuple]]:
    """(identity, path, image, face box) sources, as bib_data pastes them."""
    sources = []
    for path in HEADS:
        photo = faces.decode((faces_dir / path).read_bytes())
        (_, box), *_ = sorted(faces.detect_tiled(photo.rgb), key=lambda f: -f[0])
        from PIL import Image

        sources.append((path, path, Image.fromarray(photo.rgb), box))
    return sources


def _read(photo: bib_data.RacePhoto) -> tuple[list[bibs.BibRead], int]:
    """The reads of a photo as the indexing job makes them, and how many faces anchored them."""
    full, found = faces.index_photo(photo.data)
    return bibs.reader().read(full.rgb, [f.box for f in found]), len(found)


def test_bibs_under_real_faces_are_read_with_their_boxes(heads: list) -> None:
    runners = [
        bib_data.Runner("4711", 48, "clean"),
        bib_data.Runner("128", 34, "fold"),
        bib_data.Runner("20931", 60, "perspective"),
    ]
    photo = bib_data.race_photo(list(zip(heads, runners, strict=True)), seed=3)
    reads, anchors = _read(photo)
    assert anchors >= 3
    by_bib = {r.bib: r for r in reads}
    assert set(by_bib) == {"4711", "128", "20931"}
    for runner in runners:
        read = by_bib[runner.bib or ""]
        assert read.confidence >= 0.9
        top, right, bottom, left = runner.box
        rt, rr, rb, rl = read.box
        assert top <= (rt + rb) / 2 <= bottom and left <= (rl + rr) / 2 <= right


def test_a_number_cut_by_an_arm_is_not_read_short(heads: list) -> None:
    """ "471" of "4711" would be someone else's bib: the worst outcome of all."""
    cut = [bib_data.Runner("4711", 48, "occluded", hidden_digits=1) for _ in heads]
    for seed in range(4):  # the arm comes from the left or the right, in four skins
        reads, anchors = _read(bib_data.race_photo(list(zip(heads, cut, strict=True)), seed=seed))
        assert anchors >= 3
        assert [r.bib for r in reads if r.bib != "4711"] == []
        assert all(r.hidden_digits == 1 for r in cut)


def test_without_the_paper_check_an_arm_makes_a_wrong_bib(heads: list, monkeypatch) -> None:
    """The check above can fail: with paper no longer asked for beside a number, the same
    photos give numbers that nobody wears."""
    monkeypatch.setattr(bibs, "_paper_on_both_sides", lambda rgb, quad: True)
    cut = [bib_data.Runner("4711", 48, "occluded", hidden_digits=1) for _ in heads]
    wrong = [
        r.bib
        for seed in range(4)
        for r in _read(bib_data.race_photo(list(zip(heads, cut, strict=True)), seed=seed))[0]
        if r.bib != "4711"
    ]
    assert set(wrong) & {"471", "711"}


def test_the_years_on_bibs_and_boards_are_no_bibs(heads: list) -> None:
    """Every bib says "CITY RUN 2026" above its number; boards say "FINISH 2026", "KM 21"."""
    runners = [bib_data.Runner(str(n), 40, "clean") for n in (77, 5060, 931)]
    photo = bib_data.race_photo(list(zip(heads, runners, strict=True)), seed=5, boards=True)
    reads, _ = _read(photo)
    assert sorted(r.bib for r in reads) == ["5060", "77", "931"]


def test_a_photo_without_faces_reads_nothing_and_a_runner_without_a_bib_neither(
    heads: list,
) -> None:
    photo = bib_data.race_photo([(heads[0], bib_data.Runner(None, 40, "clean"))], seed=2)
    reads, anchors = _read(photo)
    assert anchors == 1 and reads == []
    full = faces.decode(photo.data)
    assert bibs.reader().read(full.rgb, []) == []


def test_leading_zeros_are_dropped_so_a_bib_is_one_number(heads: list) -> None:
    photo = bib_data.race_photo([(heads[1], bib_data.Runner("0042", 50, "clean"))], seed=4)
    reads, _ = _read(photo)
    assert [r.bib for r in reads] == ["42"]
    assert bib_number("0042") == bib_number("#42") == "42" and bib_number("42a") is None


def test_a_model_file_that_is_not_the_one_checked_is_refused(tmp_path: Path, monkeypatch) -> None:
    real = bibs.models_dir() / bibs.DETECTOR_FILE
    assert hashlib.sha256(real.read_bytes()).hexdigest() == bibs.DETECTOR_SHA256
    damaged = tmp_path / bibs.DETECTOR_FILE
    data = bytearray(real.read_bytes())
    data[len(data) // 2] ^= 1
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(bibs, "models_dir", lambda: tmp_path)
    with pytest.raises(bibs.ModelFileError, match="sha256"):
        bibs.model_path(bibs.DETECTOR_FILE, bibs.DETECTOR_SHA256)
    with pytest.raises(bibs.ModelFileError, match="missing"):
        bibs.model_path(bibs.RECOGNISER_FILE, bibs.RECOGNISER_SHA256)


# The jobs: reads stored once per photo, in the indexing job or later --------------------


def _race_event(session: Session, *, bibs_enabled: bool) -> Event:
    event = create_event(session, owner=create_user(session))
    event.bibs_enabled = bibs_enabled
    session.add(event)
    session.commit()
    return event


def _stored(session: Session, photo: Photo) -> dict[str, float]:
    session.expire_all()
    rows = session.exec(select(PhotoBib).where(PhotoBib.photo_id == photo.id)).all()
    return {r.bib: r.confidence for r in rows}


def test_indexing_a_photo_of_a_race_stores_its_bibs_once(session: Session, heads: list) -> None:
    runners = [bib_data.Runner("318", 45, "clean"), bib_data.Runner("90210", 40, "motion")]
    data = bib_data.race_photo(list(zip(heads, runners, strict=False)), seed=6).data
    race = _race_event(session, bibs_enabled=True)
    party = _race_event(session, bibs_enabled=False)
    raced, partied = add_photo(session, race, data), add_photo(session, party, data)

    assert tasks.index_photo(str(raced.id))["bibs"] == 2
    assert tasks.index_photo(str(partied.id))["bibs"] == 0
    assert set(_stored(session, raced)) == {"318", "90210"}
    assert _stored(session, partied) == {}
    session.refresh(raced)
    session.refresh(partied)
    assert raced.bibs_read_at is not None and partied.bibs_read_at is None


def test_turning_bibs_on_later_reads_the_indexed_photos_from_their_stored_faces(
    session: Session, redis: Redis, heads: list
) -> None:
    runners = [bib_data.Runner("73", 50, "clean"), bib_data.Runner("2468", 35, "fold")]
    data = bib_data.race_photo(list(zip(heads, runners, strict=False)), seed=8).data
    event = _race_event(session, bibs_enabled=False)
    photo = add_photo(session, event, data)
    tasks.index_photo(str(photo.id))
    assert tasks.read_bibs(str(photo.id)) == {"photo_id": str(photo.id), "skipped": True}

    event.bibs_enabled = True
    session.add(event)
    session.commit()
    report = reconcile(session, JobQueue(redis), stale_after=timedelta(0))
    session.commit()
    assert f"read-bibs-{photo.id}" in report.enqueued
    run_jobs(redis, queue.PHOTOS)
    assert set(_stored(session, photo)) == {"73", "2468"}
    # Once read, nothing is owed: no job again, and a job run again changes nothing.
    assert f"read-bibs-{photo.id}" not in reconcile(session, JobQueue(redis)).enqueued
    assert tasks.read_bibs(str(photo.id))["skipped"]


def test_a_deleted_photo_leaves_no_bib_behind(session: Session, heads: list) -> None:
    data = bib_data.race_photo([(heads[0], bib_data.Runner("55", 50, "clean"))], seed=9).data
    event = _race_event(session, bibs_enabled=True)
    photo = add_photo(session, event, data)
    tasks.index_photo(str(photo.id))
    assert _stored(session, photo) == {"55": pytest.approx(1, abs=0.1)}
    session.delete(session.get(Photo, photo.id))
    session.commit()
    assert session.exec(select(func.count()).select_from(PhotoBib)).one() == 0


def test_a_photo_of_my_bib_is_news_for_my_digest(
    session: Session, redis: Redis, heads: list
) -> None:
    """The bib's photos arrive by themselves, as face matches do: matching marks the
    attendees it matched, and reading a bib marks those who gave it."""
    from api.reconciler.service import reconcile
    from core.db import session_scope
    from tests.workers.test_tasks import add_attendee

    event = _race_event(session, bibs_enabled=True)
    runner, other = add_attendee(session, event), add_attendee(session, event)
    for attendee, bib in ((runner, "318"), (other, "4")):
        attendee.bib, attendee.notify = bib, True
        session.add(attendee)
    session.commit()
    runners = [bib_data.Runner("318", 45, "clean"), bib_data.Runner("90210", 40, "clean")]
    race = bib_data.race_photo(list(zip(heads, runners, strict=False)), seed=6)
    photo = add_photo(session, event, race.data)
    tasks.index_photo(str(photo.id))

    session.expire_all()
    marked = {a.id for a in session.exec(select(Attendee)).all() if a.news_since is not None}
    assert marked == {runner.id}
    with session_scope() as scoped:
        assert reconcile(scoped, JobQueue(redis)).digests == 1
    session.expire_all()
    digest = session.exec(select(Email).where(Email.kind == EmailKind.digest)).one()
    assert (digest.attendee_id, digest.subject[:18]) == (runner.id, "1 new photo of you")
