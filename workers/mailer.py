"""Send one outbox mail by SMTP. No face engine here: a job is one SMTP exchange.

The row says what is owed: a mail sent already, or gone with its event or attendee, is
not sent (again). A digest is not sent once its attendee has opted out, and a sign-in
mail not once its link has expired. An SMTP failure raises, so RQ retries with backing
off (`api.queue.EMAIL_RETRY_INTERVALS`); the attempt and its error stay on the row.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from api.config import settings
from api.db import session_scope
from api.models import Attendee, Email, EmailKind, utcnow

log = logging.getLogger(__name__)


def build_message(email: Email) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.MAIL_FROM
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    # Stable per outbox row: a retry after a lost reply is the same message to filters.
    message["Message-ID"] = make_msgid(idstring=email.id.hex, domain="facematch")
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if email.kind == EmailKind.digest:
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text_body or "")
    if email.html_body:
        message.add_alternative(email.html_body, subtype="html")
    return message


def _owed(email: Email) -> str | None:
    """Why the mail is no longer to be sent, or None."""
    if email.sent_at is not None:
        return "sent already"
    if email.expires_at is not None and email.expires_at <= utcnow():
        return "its link has expired"
    return None


def deliver(message: EmailMessage) -> None:
    host, port = settings.smtp_address
    timeout = settings.SMTP_TIMEOUT_SECONDS
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.SMTP_SECURITY == "tls":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if settings.SMTP_SECURITY == "starttls" and settings.SMTP_HOST:
            smtp.starttls(context=context)
        if settings.SMTP_USERNAME:
            smtp.login(settings.SMTP_USERNAME, settings.SMTP_PASSWORD)
        smtp.send_message(message)


def send_email(email_id: uuid.UUID) -> str:
    """Send the outbox row `email_id` once; what happened, for the log."""
    with session_scope() as session:
        email = session.get(Email, email_id, with_for_update=True)
        if email is None:
            return "gone"
        why_not = _owed(email)
        if why_not is None and email.kind == EmailKind.digest:
            attendee = session.get(Attendee, email.attendee_id) if email.attendee_id else None
            if attendee is None or not attendee.notify:
                why_not = "the attendee opted out"
        if why_not is not None:
            if email.sent_at is None:  # never to be sent: it stops being owed
                session.delete(email)
            return why_not
        email.attempts += 1
        message = build_message(email)
    # The row lock is released while SMTP talks: a slow server holds no transaction open.
    try:
        deliver(message)
    except (OSError, smtplib.SMTPException) as error:
        with session_scope() as session:
            row = session.get(Email, email_id)
            if row is not None:
                row.attempts, row.last_error = email.attempts, str(error)[:500]
                session.add(row)
        raise
    with session_scope() as session:
        row = session.get(Email, email_id)
        if row is not None:
            # Sent: the bodies go (a sign-in link lives in the table only until now).
            row.sent_at, row.attempts = utcnow(), email.attempts
            row.text_body = row.html_body = None
            row.last_error = None
            session.add(row)
    return "sent"
