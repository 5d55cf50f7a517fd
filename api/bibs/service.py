"""Bib numbers: start lists, bib search, bib passes, and an attendee's own bib.

Who may see a bib's photos (README, "Bib numbers"). Photos of a bib are photos of a
person, so by default (`bib_search: runner`) only the runner sees them: they ask on the
event's page, and a pass (a link valid BIB_PASS_DAYS, on any device) goes to the address
the start list gives for that bib. The same answer comes whether or not the bib is
listed, so the start list leaks nobody. An organiser may choose `open`: anyone with the
event's code sees any bib's photos, as many race photo sites do; the event's page says so.

What counts as a bib: a read at `settings.BIB_MIN_CONFIDENCE` or more, within the
event's range when it has one, and on its start list when it has one. None of this
uses a face: a runner who declines face matching finds their photos by bib alone.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import BinaryIO

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session

from api.auth.security import new_link_token, token_digest
from api.bibs import repository
from api.bibs.schemas import (
    BibPassRequest,
    BibPassSent,
    BibPhoto,
    BibPhotos,
    MyBib,
    MyBibUpdate,
    RunnerPublic,
    RunnersPublic,
    StartListImported,
    StartListRowError,
)
from api.branding import service as branding
from api.errors import BadRequest, InvalidFile, NotFound, NotPermitted
from api.events import service as events
from api.images import shown
from api.links import public_url
from api.mail.service import queue_mail
from api.photos import service as photos
from core.config import settings
from core.models import Attendee, BibPass, BibSearch, EmailKind, Event, Photo, utcnow
from core.storage import Storage
from core.text import BIB_MAX_DIGITS, bib_number

MAX_RUNNERS = 200_000
"""Lines a start list may have (the biggest marathons start ~55,000)."""
MAX_ROW_ERRORS = 100
"""Errors listed in a refused start list's answer; the count says how many there were."""
COLUMNS = {
    "bib": {"bib", "number", "bib number", "bib_number", "bibnumber", "dossard", "startnummer"},
    "name": {"name", "full name", "full_name", "runner", "nom"},
    "email": {"email", "e-mail", "mail", "email address"},
}
"""Header names each column is known by, compared case-insensitively."""


def parse_bib(text: str) -> str:
    bib = bib_number(text)
    if bib is None:
        raise BadRequest(f"a bib is 1 to {BIB_MAX_DIGITS} digits", code="bad_bib")
    return bib


def in_range(event: Event, bib: str) -> bool:
    number = int(bib)
    return (event.bib_min is None or number >= event.bib_min) and (
        event.bib_max is None or number <= event.bib_max
    )


def counts(session: Session, event: Event, bib: str) -> bool:
    """Whether `bib` is a real bib of the event: in its range, on its start list if any."""
    if not in_range(event, bib):
        return False
    return repository.get_runner(session, event.id, bib) is not None or not (
        repository.has_start_list(session, event.id)
    )


# Start lists ------------------------------------------------------------------------


def import_start_list(session: Session, event: Event, upload: BinaryIO) -> StartListImported:
    """Replace the event's start list with a CSV (bib, name, email; UTF-8, comma or
    semicolon), read a line at a time and written in batches as it is read. Any bad line
    refuses the whole file, listing each line's error, and nothing is kept (the request's
    transaction rolls back): the list before stays as it was."""
    errors: list[StartListRowError] = []
    tally = {"runners": 0, "with_email": 0}
    repository.replace_start_list(session, event.id, _runners(event, upload, errors, tally))
    if errors:
        raise InvalidFile(
            {
                "errors": [e.model_dump(exclude_none=True) for e in errors[:MAX_ROW_ERRORS]],
                "error_count": len(errors),
            },
            code="bad_start_list",
        )
    if tally["runners"] == 0:
        raise InvalidFile({"errors": [], "error_count": 0}, code="empty_start_list")
    return StartListImported(**tally)


def _runners(
    event: Event, upload: BinaryIO, errors: list[StartListRowError], tally: dict[str, int]
) -> Iterator[dict[str, str | None]]:
    """The file's good lines; each bad line's error goes to `errors` (after the first,
    lines are still checked, and no longer yielded)."""
    text = codecs.getreader("utf-8-sig")(upload, "strict")
    line = 1
    try:
        header = text.readline()
        delimiter = ";" if header.count(";") > header.count(",") else ","
        reader = csv.reader(itertools.chain([header], text), delimiter=delimiter)
        columns = _columns(next(reader, []), errors)
        if columns is None:
            return
        seen: set[str] = set()
        for line, fields in enumerate(reader, start=2):
            if not any(f.strip() for f in fields):
                continue  # a blank line
            if line - 1 > MAX_RUNNERS:
                errors.append(StartListRowError(row=line, error="too_many_rows"))
                return
            row = _row(event, fields, columns, line, seen, errors)
            if row is not None and not errors:
                tally["runners"] += 1
                tally["with_email"] += row["email"] is not None
                yield row
    except UnicodeDecodeError:
        errors.append(StartListRowError(row=line + 1, error="not_utf8"))
    except csv.Error:
        errors.append(StartListRowError(row=line + 1, error="bad_csv"))


def _columns(header: list[str], errors: list[StartListRowError]) -> dict[str, int] | None:
    names = [h.strip().lower() for h in header]
    columns = {
        column: names.index(found)
        for column, known in COLUMNS.items()
        for found in names
        if found in known
    }
    if "bib" not in columns:
        errors.append(StartListRowError(row=1, column="bib", error="missing_bib_column"))
        return None
    return columns


def _row(
    event: Event,
    fields: list[str],
    columns: dict[str, int],
    line: int,
    seen: set[str],
    errors: list[StartListRowError],
) -> dict[str, str | None] | None:
    def field(column: str) -> str:
        index = columns.get(column)
        return fields[index].strip() if index is not None and index < len(fields) else ""

    def refuse(column: str, error: str) -> dict[str, str | None] | None:
        errors.append(StartListRowError(row=line, column=column, error=error))
        return None

    raw_bib, name, email = field("bib"), field("name"), field("email")
    bib = bib_number(raw_bib)
    if not raw_bib:
        return refuse("bib", "missing_bib")
    if bib is None:
        return refuse("bib", "bad_bib")
    if not in_range(event, bib):
        return refuse("bib", "bib_out_of_range")
    if bib in seen:
        return refuse("bib", "duplicate_bib")
    seen.add(bib)
    if len(name) > 200 or any(c in name for c in "\r\n\t\x00"):
        return refuse("name", "bad_name")
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            return refuse("email", "bad_email")
    return {"bib": bib, "name": name or None, "email": email or None}


def read_start_list(
    session: Session, event: Event, *, cursor: str | None, limit: int
) -> RunnersPublic:
    runners, next_cursor, count = repository.page_runners(
        session, event.id, cursor=cursor, limit=limit
    )
    data = [
        RunnerPublic(bib=r.bib, name=r.name, email=r.email, created_at=r.created_at)
        for r in runners
    ]
    return RunnersPublic(data=data, count=count, next_cursor=next_cursor)


def delete_start_list(session: Session, event: Event) -> int:
    return repository.delete_start_list(session, event.id)


# Search -----------------------------------------------------------------------------


def _event(session: Session, code: str) -> Event:
    event = events.get_event_by_code(session, code)
    if event is None:
        raise NotFound("no event has this code", code="event_not_found")
    if not event.bibs_enabled:
        raise NotFound("this event's photos are not searched by bib", code="bibs_off")
    return event


def _open_event(session: Session, code: str) -> Event:
    event = _event(session, code)
    if event.bib_search != BibSearch.open:
        raise NotPermitted(
            "this event shows a bib's photos only to its runner, by a link mailed to the "
            "address on the start list",
            code="bib_search_by_link",
        )
    return event


def _photos(
    session: Session, event: Event, bib: str, base: str, *, cursor: str | None, limit: int
) -> BibPhotos:
    if not counts(session, event, bib):
        return BibPhotos(bib=bib, event_code=event.code, event_name=event.name,
                         brand=branding.brand(event), data=[], count=0)  # fmt: skip
    rows, next_cursor = repository.page_bib_photos(
        session, event.id, bib, settings.BIB_MIN_CONFIDENCE, cursor=cursor, limit=limit
    )
    count = repository.count_bib_photos(session, event.id, bib, settings.BIB_MIN_CONFIDENCE)
    data = []
    for photo, _ in rows:
        data.append(
            BibPhoto(
                **shown(
                    photo, f"{base}/photos/{photo.id}/image", original=event.originals_downloadable
                ),
                taken_at=photo.captured_at,
            )
        )
    return BibPhotos(bib=bib, event_code=event.code, event_name=event.name,
                     brand=branding.brand(event), data=data,
                     count=count, next_cursor=next_cursor)  # fmt: skip


def search(
    session: Session, code: str, bib_text: str, *, cursor: str | None, limit: int
) -> BibPhotos:
    """A bib's photos, for anyone with the code of an event whose bib search is open."""
    event = _open_event(session, code)
    bib = parse_bib(bib_text)
    return _photos(session, event, bib, f"/api/e/{event.code}/bibs/{bib}",
                   cursor=cursor, limit=limit)  # fmt: skip


def searched_image(
    session: Session, storage: Storage, code: str, bib_text: str, photo_id: uuid.UUID, size: str
) -> tuple[Photo, bytes, str]:
    event = _open_event(session, code)
    photo = _photo_of(session, event, parse_bib(bib_text), photo_id)
    photos.check_visitor_image(event, size)
    return photo, *photos.read_image(session, storage, event, photo, size)


def _photo_of(session: Session, event: Event, bib: str, photo_id: uuid.UUID) -> Photo:
    photo = (
        repository.bib_in_photo(session, photo_id, bib, settings.BIB_MIN_CONFIDENCE)
        if counts(session, event, bib)
        else None
    )
    if photo is None or photo.event_id != event.id:
        raise NotFound("no such photo of this bib", code="photo_not_found")
    return photo


# Passes -----------------------------------------------------------------------------


def request_pass(session: Session, code: str, body: BibPassRequest) -> BibPassSent:
    """Mail a pass to the address the start list gives for this bib, if any."""
    event = _event(session, code)
    bib = parse_bib(body.bib)
    sent = BibPassSent(expires_in_days=settings.BIB_PASS_DAYS)
    runner = repository.get_runner(session, event.id, bib)
    if runner is None or runner.email is None or not in_range(event, bib):
        return sent
    token, digest = new_link_token()
    expires = utcnow() + timedelta(days=settings.BIB_PASS_DAYS)
    repository.add_pass(
        session, BibPass(event_id=event.id, bib=bib, token_sha256=digest, expires_at=expires)
    )
    queue_mail(session, kind=EmailKind.sign_in, to=runner.email, template="bib_pass",
               event_id=event.id, expires_at=expires, name=runner.name, event_name=event.name,
               bib=bib, link=public_url(f"/bib#{token}"), days=settings.BIB_PASS_DAYS,
               brand=branding.mail_brand(event), locale=body.locale)  # fmt: skip
    return sent


def _pass(session: Session, token: str) -> tuple[BibPass, Event]:
    found = repository.get_pass(session, token_digest(token))
    event = events.get_event(session, found.event_id) if found is not None else None
    if found is None or event is None or not events.is_live(event):
        raise NotFound("this link has expired or is not ours", code="pass_not_found")
    return found, event


def pass_photos(session: Session, token: str, *, cursor: str | None, limit: int) -> BibPhotos:
    bib_pass, event = _pass(session, token)
    photos = _photos(session, event, bib_pass.bib, f"/api/bib-passes/{token}",
                     cursor=cursor, limit=limit)  # fmt: skip
    photos.claim_url = f"/api/bib-passes/{token}/claim"
    return photos


def pass_image(
    session: Session, storage: Storage, token: str, photo_id: uuid.UUID, size: str
) -> tuple[Photo, bytes, str]:
    bib_pass, event = _pass(session, token)
    photo = _photo_of(session, event, bib_pass.bib, photo_id)
    photos.check_visitor_image(event, size)
    return photo, *photos.read_image(session, storage, event, photo, size)


def claim_pass(session: Session, attendee: Attendee, token: str) -> MyBib:
    """The pass's bib becomes the attendee's: "my photos" then holds its photos too."""
    bib_pass, _ = _pass(session, token)
    if bib_pass.event_id != attendee.event_id:
        raise NotPermitted("this link is for another event", code="other_event")
    repository.set_attendee_bib(session, attendee, bib_pass.bib)
    return MyBib(bib=bib_pass.bib)


def purge_expired(session: Session) -> int:
    return repository.purge_expired_passes(session)


# An attendee's own bib --------------------------------------------------------------


def counted_bib(session: Session, attendee: Attendee) -> str | None:
    """The attendee's bib if it counts now: bib reading on, in range, on the start list."""
    if attendee.bib is None:
        return None
    event = events.get_event(session, attendee.event_id)
    if event is None or not event.bibs_enabled or not counts(session, event, attendee.bib):
        return None
    return attendee.bib


def my_bib(attendee: Attendee) -> MyBib:
    return MyBib(bib=attendee.bib)


def set_my_bib(session: Session, attendee: Attendee, body: MyBibUpdate) -> MyBib:
    """Where bib search is open, an attendee says their bib; otherwise a pass proves it."""
    event = events.get_event(session, attendee.event_id)
    if event is None or not event.bibs_enabled:
        raise NotFound("this event's photos are not searched by bib", code="bibs_off")
    if event.bib_search != BibSearch.open:
        raise NotPermitted(
            "ask for a link on the event's page: it goes to the address on the start list",
            code="bib_needs_link",
        )
    bib = parse_bib(body.bib)
    if not counts(session, event, bib):
        raise BadRequest("this bib is not one of the event's", code="unknown_bib")
    repository.set_attendee_bib(session, attendee, bib)
    return MyBib(bib=bib)


def drop_my_bib(session: Session, attendee: Attendee) -> MyBib:
    repository.set_attendee_bib(session, attendee, None)
    return MyBib(bib=None)
