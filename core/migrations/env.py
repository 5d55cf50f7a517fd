from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import core.models  # noqa: F401  (registers every table)
from core.config import settings
from core.db import sqlalchemy_url

target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=sqlalchemy_url(settings.database_url),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(
        sqlalchemy_url(settings.database_url),
        poolclass=pool.NullPool,
        connect_args={"application_name": "migrate"},
    )
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
