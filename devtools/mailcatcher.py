"""Local mode's mail server: aiosmtpd accepts every mail and keeps it as a `.eml` file.

`facematch-dev up` and the test suite start it; `/dev/mail` (local mode only) lists what
it caught, so a new user can open their sign-in link without a mail account. Cluster
mode never runs it: mail goes to the SMTP server of FACEMATCH_SMTP_HOST.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from devtools.local import free_port


class _KeepAsFile:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.folder / f".{name}"
        partial.write_bytes(envelope.original_content or envelope.content)
        os.replace(partial, self.folder / name)  # readers never see half a mail
        return "250 Message accepted for delivery"


class MailCatcher:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        assert self.controller is not None
        return f"smtp://127.0.0.1:{self.controller.port}"

    def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.controller = Controller(_KeepAsFile(self.folder), hostname="127.0.0.1",
                                     port=free_port())  # fmt: skip
        self.controller.start()
        return self.url

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def start_mail_catcher(data_dir: Path) -> MailCatcher:
    """Catch mail into `data_dir/mail`, and tell the stack's processes where the server is."""
    catcher = MailCatcher(data_dir / "mail")
    (data_dir / "smtp.url").write_text(catcher.start())
    return catcher
