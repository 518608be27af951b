"""The application factory."""

import asyncio
import gc
import importlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline

from crm_api.api_keys.router import router as api_keys_router
from crm_api.approvals.router import router as approvals_router
from crm_api.audit.router import router as audit_router
from crm_api.auth.principal import Authenticator, principal_cache
from crm_api.auth.router import router as auth_router
from crm_api.churn.router import router as churn_router
from crm_api.contracts.router import router as contracts_router
from crm_api.contracts.router import single_statement_router as contract_reads_router
from crm_api.core.auth import security_contract
from crm_api.core.cache import reference_cache
from crm_api.core.config import Settings, get_settings
from crm_api.core.contract import header_contract
from crm_api.core.db import Database
from crm_api.core.edge import InputGuardMiddleware, SecurityHeadersMiddleware
from crm_api.core.errors import PROBLEMS_URL, install_error_handlers, problem_contract
from crm_api.core.http import LocationMiddleware
from crm_api.core.idempotency import IdempotencyMiddleware, unkept_writes
from crm_api.core.observability import AccessLog, RequestIdMiddleware, configure_logging
from crm_api.core.pubsub import PubSub, listen_dsn
from crm_api.core.responses import error_contract
from crm_api.core.routing import DomainRouter
from crm_api.core.scheduler import build_scheduler
from crm_api.core.security import PasswordChecks
from crm_api.custom_fields.router import router as custom_fields_router
from crm_api.custom_fields.service import index_fields
from crm_api.customers.imports import MAX_IMPORT_BYTES
from crm_api.customers.router import collection_router as customer_collection_router
from crm_api.customers.router import contacts_router as customer_contacts_router
from crm_api.customers.router import interactions_router as customer_interactions_router
from crm_api.customers.router import pool_router as customer_pool_router
from crm_api.customers.router import router as customers_router
from crm_api.dictionary.router import router as dictionary_router
from crm_api.documents.router import contract_router as contract_documents_router
from crm_api.documents.router import router as documents_router
from crm_api.health.router import router as health_router
from crm_api.imports.jobs import ImportRunner
from crm_api.imports.router import router as imports_router
from crm_api.jobs.router import router as jobs_router
from crm_api.kb.router import router as kb_router
from crm_api.leads.router import router as leads_router
from crm_api.marketing.router import campaigns_router, marketing_router, segments_router
from crm_api.notifications.admin_router import router as notification_channels_router
from crm_api.notifications.router import router as notifications_router
from crm_api.notifications.stream import StreamHub
from crm_api.opportunities.router import router as opportunities_router
from crm_api.privacy.router import router as privacy_router
from crm_api.problems import catalogue
from crm_api.problems.router import pages_router as problem_pages_router
from crm_api.problems.router import router as problems_router
from crm_api.quotes.router import router as quotes_router
from crm_api.read.customer_360.router import router as customer_360_router
from crm_api.read.reports.router import router as reports_router
from crm_api.roles.router import router as roles_router
from crm_api.sales.router import integration_router as sales_integration_router
from crm_api.sales.router import router as sales_router
from crm_api.sync.router import router as sync_router
from crm_api.targets.router import router as targets_router
from crm_api.tasks.router import router as tasks_router
from crm_api.tickets.router import policies_router, tickets_router
from crm_api.users.router import router as users_router
from crm_api.webhooks.router import router as webhooks_router

API_PREFIX = "/api/v1"

DESCRIPTION = """
CRM API: leads, opportunities and development plans, customers with contacts and interactions,
orders from the sales system, churn warnings, service tickets and reports.

Sign in with **Authorize** (username and password), or send an integrator key as `X-API-Key`.
Errors are `application/problem+json` with a stable `code`; their `type` is a page saying what the code
means, and `GET /api/v1/problems` lists every code; a query parameter an operation does not declare is a 422
naming it. Lists use keyset pagination: pass `next_cursor` back as `cursor`. Lists of records take `sort`
(`key` ascending, `-key` descending, from the list's enum) and `updated_since` (records changed at or after
that instant): an incremental sync passes the time its previous sync started. Writes accept an `Idempotency-Key` header (kept 24 hours):
a retry with the same key gets the first response (`Idempotent-Replayed: true`) and no second effect.
Single-record reads return an `ETag`; send it back as `If-Match` to refuse a lost update (412), or as
`If-None-Match` to get 304 while the record is unchanged. A 201 names the record created in `Location`.
"""


# Each domain's router is included straight into the app, never into another router: FastAPI matches included
# routers level by level on every request. Each is a DomainRouter, which refuses a path outside its segments at once,
# yet FastAPI's asking costs a request about 10,000 instructions a router before its own: the routers a CRM's users
# read most come first. Where two routers' paths overlap, the literal one comes first (the customers' collection,
# with /customers/export, before one customer's /customers/{customer_id}); `test_routing.py` checks that every
# operation is reached at its own path.
DOMAIN_ROUTERS: tuple[DomainRouter, ...] = (
    customer_collection_router,
    customers_router,
    customer_contacts_router,
    customer_interactions_router,
    customer_360_router,
    sales_router,
    tasks_router,
    opportunities_router,
    contract_reads_router,
    contracts_router,
    notifications_router,
    sync_router,
    leads_router,
    auth_router,
    dictionary_router,
    users_router,
    tickets_router,
    quotes_router,
    documents_router,
    contract_documents_router,
    churn_router,
    reports_router,
    targets_router,
    customer_pool_router,
    privacy_router,
    kb_router,
    approvals_router,
    segments_router,
    campaigns_router,
    marketing_router,
    imports_router,
    policies_router,
    custom_fields_router,
    roles_router,
    api_keys_router,
    audit_router,
    jobs_router,
    webhooks_router,
    notification_channels_router,
    problems_router,
    sales_integration_router,
)


# Domain modules that register scheduled jobs when imported.
JOB_MODULES: tuple[str, ...] = (
    "crm_api.core.idempotency",
    "crm_api.auth.jobs",
    "crm_api.churn.jobs",
    "crm_api.opportunities.jobs",
    "crm_api.tasks.jobs",
    "crm_api.sync.jobs",
    "crm_api.tickets.jobs",
    "crm_api.notifications.jobs",
    "crm_api.read.weekly_report.jobs",
    "crm_api.documents.jobs",
    "crm_api.webhooks.jobs",
    "crm_api.marketing.jobs",
    "crm_api.customers.jobs",
    "crm_api.quotes.jobs",
    "crm_api.contracts.jobs",
)


DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OPENAPI_URL = "/openapi.json"
DOCS_ASSETS_URL = "/docs/assets"
OPENTELEMETRY: TelemetryConfig = {"auto_configure": True}
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
# Room for the multipart boundaries, part headers and small form fields around an uploaded file.
MULTIPART_OVERHEAD = 64 * 1024


def upload_limits(settings: Settings) -> dict[re.Pattern[str], int]:
    """The upload routes, whose bodies may be larger than CRM_MAX_BODY_BYTES."""
    return {
        re.compile(rf"^{API_PREFIX}/(customers|contracts)/[^/]+/documents$"): settings.document_max_bytes + MULTIPART_OVERHEAD,
        re.compile(rf"^{API_PREFIX}/customers/[^/]+/interactions/[^/]+/photos$"): settings.photo_max_bytes + MULTIPART_OVERHEAD,
        re.compile(rf"^{API_PREFIX}/customers/import$"): MAX_IMPORT_BYTES + MULTIPART_OVERHEAD,
        re.compile(rf"^{API_PREFIX}/imports$"): settings.import_max_bytes + MULTIPART_OVERHEAD,
    }


def load_jobs() -> None:
    for module in JOB_MODULES:
        importlib.import_module(module)


def operation_id(route: APIRoute) -> str:
    """`verbNoun` from the endpoint's name (`win_opportunity` → `winOpportunity`): what a generated client calls."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _home(docs: bool) -> Callable[[], Awaitable[Response]]:
    """`/`: the docs, or where to go when they are closed."""

    async def home() -> Response:
        if docs:
            return RedirectResponse(DOCS_URL)
        return JSONResponse({"title": "CRM API", "api": API_PREFIX, "problems": PROBLEMS_URL, "health": "/health/live"})

    return home


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    load_jobs()
    configure_logging(settings.log_level)
    database = Database.from_settings(settings)
    pubsub = PubSub(listen_dsn(settings.database_url), connect_timeout=settings.database_connect_timeout_seconds)
    reference_data = reference_cache(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What start-up built (routes, schemas, mappers) lives as long as the process: out of the collector's sight,
        # a full collection no longer walks it, which made a page of a thousand records cost twice as much.
        gc.freeze()
        await reference_data.listen(pubsub)
        scheduler = build_scheduler(database, settings) if settings.scheduler_enabled else None
        # Imports queued by a worker that stopped before running them are picked up where the scheduler runs.
        import_runner = ImportRunner(database, settings) if settings.scheduler_enabled else None
        app.state.scheduler = scheduler
        indexing = None
        if scheduler is not None and import_runner is not None:
            scheduler.start()
            import_runner.start()
            # The custom fields' indexes a crash or a failed build left out: built beside the requests.
            indexing = asyncio.create_task(index_fields(database.engine))
        try:
            yield
        finally:
            if indexing is not None:
                indexing.cancel()  # a build cut short leaves an invalid index, which the next start builds again
                await asyncio.gather(indexing, return_exceptions=True)
            if scheduler is not None and import_runner is not None:
                await import_runner.stop(settings.shutdown_grace_seconds)
                await scheduler.stop(settings.shutdown_grace_seconds)
            await pubsub.stop()
            await database.dispose()

    docs = settings.docs_are_public
    options: dict[str, Any] = {
        "title": "CRM API",
        "version": "1.0.0",
        "description": DESCRIPTION,
        "lifespan": lifespan,
        # No validatorUrl: Swagger UI would send the contract to validator.swagger.io.
        "swagger_ui_parameters": {"persistAuthorization": True, "validatorUrl": None},
        "generate_unique_id_function": operation_id,
        "telemetry": OPENTELEMETRY if settings.opentelemetry else NO_TELEMETRY,
    }
    # Public docs bring their Swagger UI and ReDoc assets along, so they need no CDN; closed docs
    # serve none of them, nor the contract.
    app = (
        FastAPIOffline(DOCS_URL, REDOC_URL, openapi_url=OPENAPI_URL, static_url=DOCS_ASSETS_URL, **options)
        if docs
        else FastAPI(docs_url=None, redoc_url=None, openapi_url=None, **options)
    )
    app.add_api_route("/", _home(docs), include_in_schema=False)
    # The docs, their assets, the contract and `/`, which FastAPI and this factory add first.
    pages = list(app.router.routes)
    app.state.settings = settings
    app.state.db = database
    app.state.pubsub = pubsub
    app.state.notification_streams = StreamHub(pubsub)
    app.state.authenticate = Authenticator(principal_cache(settings), pubsub)
    app.state.password_checks = PasswordChecks(
        concurrency=settings.password_check_concurrency,
        queue=settings.password_check_queue,
        wait_seconds=settings.password_check_wait_seconds,
    )
    install_error_handlers(app)
    unkept = unkept_writes(DOMAIN_ROUTERS, API_PREFIX)
    security_contract(app)
    header_contract(app, unkept)
    error_contract(app, catalogue.statuses)
    problem_contract(app)
    # Added innermost first: security headers wrap everything, then CORS, request ids, the input guard, idempotency
    # (which keeps the Location the innermost one adds).
    app.add_middleware(LocationMiddleware)
    app.add_middleware(IdempotencyMiddleware, unkept=unkept)
    app.add_middleware(InputGuardMiddleware, max_body_bytes=settings.max_body_bytes, upload_limits=upload_limits(settings))
    app.add_middleware(RequestIdMiddleware, access=AccessLog(settings.access_log_share, settings.access_log_slow_ms))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "ETag", "Location", "Retry-After"],
        )
    app.add_middleware(
        SecurityHeadersMiddleware,
        docs_paths=frozenset({DOCS_URL, app.swagger_ui_oauth2_redirect_url or "", REDOC_URL}),
        hsts=settings.env == "prod",
    )
    for domain_router in DOMAIN_ROUTERS:
        app.include_router(domain_router, prefix=API_PREFIX)
    app.include_router(health_router)
    app.include_router(problem_pages_router)
    # Asked last: every API request would otherwise try each of them first, twice.
    app.router.routes[: len(pages)] = []
    app.router.routes.extend(pages)
    return app
