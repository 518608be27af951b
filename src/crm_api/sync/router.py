from typing import Annotated

from fastapi import Query

from crm_api.core.auth import Authenticated
from crm_api.core.db import SessionDep, SnapshotRoute
from crm_api.core.http import Rendered
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.sync import service
from crm_api.sync.exceptions import TokenExpired
from crm_api.sync.policy import DEFAULT_LIMIT, MAX_LIMIT, MAX_TOKEN_LENGTH, SyncType
from crm_api.sync.schemas import SyncPage

# A page reads the log and then the records it names: one snapshot, so a record and its tombstone cannot disagree.
router = DomainRouter(prefix="/sync", tags=["sync"], route_class=SnapshotRoute)


@router.get(
    "",
    response_model=SyncPage,
    summary="Sync the records in your scope changed since a token",
    description="Without `since`: a full snapshot, page by page, then the changes made meanwhile. With `since`: the "
    "records changed after it, as they are now (`upserts`), and the ids of records deleted or gone out of your scope "
    "(`deleted`). Call again with the page's `token` while `more` is true; keep the last token for next time. "
    "Nothing changed: an empty page at once. A token older than `CRM_SYNC_LOG_RETENTION_DAYS`: 410, sync again "
    "from scratch.",
)
@raises(TokenExpired, "auth.missing_permission", "sync.invalid_token", "sync.types_changed", "sync.unknown_type")
async def sync_changes(
    principal: Authenticated,
    session: SessionDep,
    types: Annotated[
        str | None,
        Query(
            max_length=200,
            description=f"Comma-separated, of: {', '.join(SyncType)}; by default every one you may read",
            examples=["customers,contacts,interactions,tasks"],
        ),
    ] = None,
    since: Annotated[str | None, Query(max_length=MAX_TOKEN_LENGTH, description="`token` of your last page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Records (or changes) per page")] = DEFAULT_LIMIT,
) -> Rendered:
    return Rendered(await service.sync(session, principal, types=types, since=since, limit=limit))
