"""Database migrations: `facematch migrate` (the pre-install hook Job), the dev stack, tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def run_migrations(revision: str = "head") -> None:
    command.upgrade(alembic_config(), revision)
