"""Read the mails local mode's catcher kept (devtools/mailcatcher.py), newest first.

Only `/dev/mail` (local mode) and the tests read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from core.config import settings

_LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class CaughtMail:
    name: str
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    @property
    def links(self) -> list[str]:
        return _LINK.findall(self.text)


def mail_folder() -> Path:
    return settings.DATA_DIR / "mail"


def caught_mails(folder: Path | None = None, *, to: str | None = None) -> list[CaughtMail]:
    folder = folder or mail_folder()
    files = sorted(folder.glob("*.eml"), reverse=True) if folder.is_dir() else []
    mails = []
    for path in files:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        mail = CaughtMail(path.name, message)
        if to is None or mail.to.lower() == to.lower():
            mails.append(mail)
    return mails
