import logging

from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from crm_api.core.config import SettingsDep
from crm_api.core.db import DatabaseDep
from crm_api.core.errors import DATABASE_ERRORS, DATABASE_RETRY_AFTER_SECONDS, problem_response
from crm_api.core.routing import DomainRouter

router = DomainRouter(prefix="/health", tags=["health"])
log = logging.getLogger("crm_api.health")
# Any database error makes the instance unready, whether or not it is classified as unavailability.
_NOT_READY: tuple[type[Exception], ...] = (SQLAlchemyError, *DATABASE_ERRORS)


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="The database answers (503 otherwise)")
async def ready(database: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    try:
        await database.ping(settings.health_ready_timeout_seconds)
    except _NOT_READY as exc:
        log.warning("readiness check failed: %r", exc)
        return problem_response(
            503,
            "database.unavailable",
            detail="The database cannot be reached",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    return JSONResponse({"status": "ok", "database": database.dialect})
