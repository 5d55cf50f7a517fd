"""attendee journey: sign-in links, revocable sessions, an email outbox, digest opt-in

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = (
    "selfie_image.stored",
    "selfie_image.deleted",
    "selfie_encoding.created",
    "selfie_encoding.deleted",
    "face_encodings.created",
    "face_encodings.deleted",
    "matches.deleted",
    "photos.deleted",
    "event.deletion_requested",
    "event.deleted",
    "account.deleted",
    "consent.given",
)


def _check(table: str, name: str, column: str, values: Sequence[str]) -> None:
    op.drop_constraint(name, table, type_="check")
    listed = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint(name, table, f"{column} IN ({listed})")


def _when(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _check("audit_log", "auditaction", "action", ACTIONS)
    op.alter_column("users", "hashed_password", existing_type=sa.String(), nullable=True)
    op.create_table(
        "sign_in_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "join",
                "sign_in",
                name="signinlinkpurpose",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("consent_policy_version", sa.String(length=32), nullable=True),
        sa.Column("notify", sa.Boolean(), nullable=True),
        _when("created_at", False),
        _when("expires_at", False),
        _when("used_at"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index("ix_sign_in_links_email", "sign_in_links", ["email"])
    op.create_index("ix_sign_in_links_event_id", "sign_in_links", ["event_id"])
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        _when("created_at", False),
        _when("expires_at", False),
        _when("revoked_at"),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_auth_sessions_user_id", "auth_sessions", ["user_id"])
    op.create_table(
        "emails",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "sign_in",
                "digest",
                name="emailkind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("attendee_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text_body", sa.String(), nullable=True),
        sa.Column("html_body", sa.String(), nullable=True),
        sa.Column("unsubscribe_url", sa.String(length=500), nullable=True),
        _when("created_at", False),
        _when("expires_at"),
        _when("sent_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("job_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["attendee_id"], ["attendees.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_emails_event_id", "emails", ["event_id"])
    op.create_index("ix_emails_attendee_id", "emails", ["attendee_id"])
    op.create_index(
        "ix_emails_unsent", "emails", ["created_at"], postgresql_where=sa.text("sent_at IS NULL")
    )
    op.add_column(
        "attendees",
        sa.Column("notify", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("attendees", _when("notify_changed_at"))
    op.add_column("attendees", _when("digest_sent_at"))
    op.add_column("attendees", _when("digest_through"))


def downgrade() -> None:
    for column in ("digest_through", "digest_sent_at", "notify_changed_at", "notify"):
        op.drop_column("attendees", column)
    op.drop_table("emails")
    op.drop_table("auth_sessions")
    op.drop_table("sign_in_links")
    op.execute("DELETE FROM users WHERE hashed_password IS NULL")
    op.alter_column("users", "hashed_password", existing_type=sa.String(), nullable=False)
    op.execute("DELETE FROM audit_log WHERE action = 'consent.given'")
    _check("audit_log", "auditaction", "action", ACTIONS[:11])
