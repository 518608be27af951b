import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from crm_api.core.db import DatabaseDep
from crm_api.core.errors import DATABASE_UNAVAILABLE, problem_response

router = APIRouter(prefix="/health", tags=["health"])
log = logging.getLogger("crm_api.health")
NOT_READY: tuple[type[Exception], ...] = (SQLAlchemyError, *DATABASE_UNAVAILABLE)


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="The database answers (503 otherwise)", responses={503: {"description": "Database unreachable"}})
async def ready(database: DatabaseDep) -> JSONResponse:
    try:
        await database.ping()
    except NOT_READY as exc:
        log.warning("readiness check failed: %s", exc)
        return problem_response(503, "database.unavailable", detail="The database cannot be reached")
    return JSONResponse({"status": "ok", "database": database.dialect})
