"""Backup and restore of the whole database: pg_dump's custom format, or SQLite's online backup."""

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The backup or restore could not be made; the message says why."""


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(database)


def _libpq_dsn(database_url: str) -> str:
    """The URL as pg_dump and pg_restore take it: no SQLAlchemy driver name."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(tool: str, *args: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (the PostgreSQL client tools are needed)")
    finished = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise BackupError(f"{tool} failed: {finished.stderr.strip()}")


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while the service writes."""
    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)


def backup(database_url: str, output: Path) -> None:
    if make_url(database_url).get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_path(database_url), output)
    else:
        _run("pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={output}", _libpq_dsn(database_url))


def restore(database_url: str, source: Path) -> None:
    """Into an empty database (a new one, or one being rebuilt): the backup brings its schema and rows."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    if make_url(database_url).get_backend_name() == "sqlite":
        target = _sqlite_path(database_url)
        if target.exists() and target.stat().st_size > 0:
            raise BackupError(f"{target} is not empty: restore into a new database file")
        _sqlite_copy(source, target)
    else:
        _run(
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={_libpq_dsn(database_url)}",
            str(source),
        )
