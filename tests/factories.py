"""Plain-function factories: users of a role with ready auth headers, and statement counting."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_api.core.security import create_access_token, hash_password
from crm_api.models.identity import Role, Team, User

PASSWORD = "correct-horse-battery"
# Hashing with Argon2 is deliberately slow: hash once per test run.
_PASSWORD_HASH = hash_password(PASSWORD)


@dataclass
class Actor:
    id: int
    username: str
    team_id: int | None
    headers: dict[str, str]


class Actors:
    """Creates users straight in the database and signs tokens for them."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._count = 0

    async def team(self, name: str) -> int:
        async with self.app.state.db.sessionmaker() as session, session.begin():
            team = await session.scalar(select(Team).where(Team.name == name))
            if team is None:
                team = Team(name=name)
                session.add(team)
                await session.flush()
            return team.id

    async def make(self, *roles: str, team: str | None = None, username: str | None = None, active: bool = True) -> Actor:
        self._count += 1
        username = username or f"{roles[0]}_{self._count}"
        team_id = await self.team(team) if team else None
        async with self.app.state.db.sessionmaker() as session, session.begin():
            role_rows = list((await session.scalars(select(Role).where(Role.code.in_(roles)))).all())
            assert len(role_rows) == len(roles), f"unknown role in {roles}"
            user = User(
                username=username,
                full_name=username.title(),
                password_hash=_PASSWORD_HASH,
                team_id=team_id,
                active=active,
                roles=role_rows,
            )
            session.add(user)
            await session.flush()
            user_id = user.id
        return Actor(id=user_id, username=username, team_id=team_id, headers=self.headers_for(user_id))

    def headers_for(self, user_id: int) -> dict[str, str]:
        token, _ = create_access_token(self.app.state.settings, user_id=user_id)
        return {"Authorization": f"Bearer {token}"}


@contextmanager
def _on_each_statement(engine: AsyncEngine, record: Callable[[str, Any], None]) -> Iterator[None]:
    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        record(statement, parameters)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Collects every SQL statement the engine runs inside the block."""
    statements: list[str] = []
    with _on_each_statement(engine, lambda statement, _: statements.append(statement)):
        yield statements


@contextmanager
def captured_statements(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """Collects every SQL statement the engine runs inside the block with its parameters, as the driver gets them."""
    captured: list[tuple[str, Any]] = []
    with _on_each_statement(engine, lambda statement, parameters: captured.append((statement, parameters))):
        yield captured


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a problem+json of this status (and code), without internals."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status
    assert "Traceback" not in response.text
    if code is not None:
        assert body["code"] == code, body
    return body
