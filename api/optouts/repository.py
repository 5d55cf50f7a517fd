from __future__ import annotations

import uuid

from sqlmodel import Session

from core.models import FaceOptOut


def get_opt_out(session: Session, opt_out_id: uuid.UUID) -> FaceOptOut | None:
    return session.get(FaceOptOut, opt_out_id)
