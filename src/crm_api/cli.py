"""The `crm` command: database, users, demo data, serving, the scheduler and the OpenAPI file."""

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings, get_settings
from crm_api.core.db import Database
from crm_api.core.observability import configure_logging


def _project_root() -> Path:
    """Where alembic.ini and migrations/ live: the working directory (an image) or the source checkout."""
    here = Path.cwd()
    return here if (here / "alembic.ini").is_file() else Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    root = _project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["database_url"] = database_url
    return config


async def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[None]]) -> None:
    database = Database.from_settings(settings)
    try:
        async with database.sessionmaker() as session, session.begin():
            await work(session)
    finally:
        await database.dispose()


def db_upgrade(settings: Settings) -> None:
    from crm_api.bootstrap import seed_reference_data

    command.upgrade(alembic_config(settings.database_url), "head")
    asyncio.run(_with_session(settings, seed_reference_data))
    print("database upgraded and reference data in place")


def users_create(settings: Settings, args: argparse.Namespace) -> None:
    from pydantic import ValidationError
    from sqlalchemy import select

    from crm_api.core.errors import DomainError
    from crm_api.models.identity import Team
    from crm_api.users.schemas import TeamCreate, UserCreate
    from crm_api.users.service import create_team, create_user

    async def work(session: AsyncSession) -> None:
        team_id = None
        if args.team:
            team = await session.scalar(select(Team).where(Team.name == args.team))
            team = team or await create_team(session, None, TeamCreate(name=args.team))
            team_id = team.id
        data = UserCreate(
            username=args.username,
            full_name=args.full_name or args.username,
            password=args.password,
            roles=[args.role],
            team_id=team_id,
            email=args.email,
        )
        user = await create_user(session, None, data)
        print(
            f"created user {user.username} (id {user.id}) with role {args.role}" + (f" in team {args.team}" if args.team else "")
        )

    try:
        asyncio.run(_with_session(settings, work))
    except (DomainError, ValidationError) as exc:
        sys.exit(f"error: {exc}")


def seed_demo(settings: Settings) -> None:
    from crm_api.demo import DEMO_API_KEY, demo_logins, seed_demo

    asyncio.run(_with_session(settings, seed_demo))
    print("demo data in place. Sign in at /docs (Authorize) with any of:")
    for username, password, role in demo_logins():
        print(f"  {username:<10} {password}   {role}")
    print(f"  integrator API key (X-API-Key): {DEMO_API_KEY}")


def _exit_cleanly_on(signum: signal.Signals) -> None:
    """After a graceful stop uvicorn raises the signal it caught again, to the handler it found: make that an exit 0."""

    def exit_cleanly(received: int, frame: object) -> None:
        sys.exit(0)

    signal.signal(signum, exit_cleanly)


def serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    # SIGTERM (docker stop, Kubernetes, systemd): stop accepting, finish the requests in flight within
    # CRM_SHUTDOWN_GRACE_SECONDS, run the lifespan's shutdown, exit 0.
    _exit_cleanly_on(signal.SIGTERM)
    uvicorn.run(
        "crm_api.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=args.reload,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        server_header=False,  # no "server: uvicorn" banner for a scanner to match
        access_log=False,  # the app's own access log (core.observability) is structured and sampled
        log_level=settings.log_level.lower(),
    )


def run_scheduler(settings: Settings) -> None:
    from crm_api.core.scheduler import build_scheduler
    from crm_api.imports.jobs import ImportRunner
    from crm_api.main import load_jobs

    load_jobs()
    configure_logging(settings.log_level)

    async def main() -> None:
        database = Database.from_settings(settings)
        scheduler = build_scheduler(database, settings)
        import_runner = ImportRunner(database, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        scheduler.start()
        import_runner.start()
        print(f"scheduler running {len(scheduler.get_jobs())} jobs; Ctrl+C to stop", flush=True)
        await stop.wait()
        # Fire nothing more and let the runs in progress finish (within CRM_SHUTDOWN_GRACE_SECONDS).
        await import_runner.stop(settings.shutdown_grace_seconds)
        await scheduler.stop(settings.shutdown_grace_seconds)
        await database.dispose()

    asyncio.run(main())


def backup(settings: Settings, args: argparse.Namespace) -> None:
    from crm_api.backup import BackupError
    from crm_api.backup import backup as make_backup

    try:
        make_backup(settings.database_url, Path(args.output))
    except BackupError as exc:
        sys.exit(f"error: {exc}")
    print(f"backed up to {args.output}")


def restore(settings: Settings, args: argparse.Namespace) -> None:
    from crm_api.backup import BackupError
    from crm_api.backup import restore as restore_backup

    try:
        restore_backup(settings.database_url, Path(args.input))
    except BackupError as exc:
        sys.exit(f"error: {exc}")
    print(f"restored {args.input}")


def openapi_export(args: argparse.Namespace) -> None:
    from crm_api.main import create_app

    schema = create_app(Settings()).openapi()
    text = json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    Path(args.output).write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="crm", description="CRM API command line")
    commands = root.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="migrate to the latest schema and put reference data in place")

    users = commands.add_parser("users", help="user accounts").add_subparsers(dest="action", required=True)
    create = users.add_parser("create", help="create a user (and the team, if new)")
    create.add_argument("--username", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--role", required=True)
    create.add_argument("--team")
    create.add_argument("--full-name")
    create.add_argument("--email")

    seed = commands.add_parser("seed", help="sample data").add_subparsers(dest="action", required=True)
    seed.add_parser("demo", help="demo users and records (idempotent)")

    serve_cmd = commands.add_parser("serve", help="run the API with uvicorn")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=1)
    serve_cmd.add_argument("--reload", action="store_true")
    serve_cmd.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies whose X-Forwarded-For/-Proto to trust (comma-separated, or *); default 127.0.0.1 or $FORWARDED_ALLOW_IPS",
    )

    commands.add_parser("scheduler", help="run the scheduled jobs in this process only")

    backup_cmd = commands.add_parser("backup", help="back up the database (pg_dump custom format, or SQLite's online backup)")
    backup_cmd.add_argument("--output", required=True)
    restore_cmd = commands.add_parser("restore", help="restore a backup into an empty database")
    restore_cmd.add_argument("--input", required=True)

    openapi = commands.add_parser("openapi", help="the OpenAPI contract").add_subparsers(dest="action", required=True)
    export = openapi.add_parser("export", help="write the contract to a file")
    export.add_argument("--output", default="openapi/openapi.json")
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    settings = get_settings()
    match args.command, getattr(args, "action", None):
        case "db", "upgrade":
            db_upgrade(settings)
        case "users", "create":
            users_create(settings, args)
        case "seed", "demo":
            seed_demo(settings)
        case "serve", _:
            serve(settings, args)
        case "scheduler", _:
            run_scheduler(settings)
        case "backup", _:
            backup(settings, args)
        case "restore", _:
            restore(settings, args)
        case "openapi", "export":
            openapi_export(args)


if __name__ == "__main__":
    main()
