from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import Depends, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.http import ETag, IfMatch, Rendered
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id, InputModel
from crm_api.sales import ingest, service
from crm_api.sales.schemas import (
    InventoryIn,
    InventoryRead,
    OrderDetail,
    OrderIn,
    OrderSummary,
    ProductCreate,
    ProductIn,
    ProductRead,
    ProductUpdate,
    SyncBatch,
    SyncResult,
)

router = DomainRouter()
# The sales system's upserts, on a router of their own after the reads (main.py): FastAPI tries a router's routes one
# by one, and a customer's order history would try these three first.
integration_router = DomainRouter()

SalesIntegration = Annotated[Principal, Depends(require("integrations:sales"))]
CustomersRead = Annotated[Principal, Depends(require("customers:read"))]
ProductsRead = Annotated[Principal, Depends(require("products:read"))]
ProductsWrite = Annotated[Principal, Depends(require("products:write"))]

SyncService = Callable[[AsyncSession, Principal, Sequence[Any]], Awaitable[SyncResult]]
SubstringFilter = Annotated[str | None, Query(max_length=100, description="Contains, case-insensitive")]

SYNC_DESCRIPTION = (
    "Bulk upsert by `external_id`, up to 1,000 records a call. Sending the same batch again changes nothing. "
    "All or nothing: if any record is invalid, nothing is written and the 422 lists each bad record's field "
    "as `items.<index>.<field>`."
)


def _sync_route(kind: str, item: type[InputModel], sync: SyncService, summary: str, description: str = SYNC_DESCRIPTION) -> None:
    """PUT /integrations/sales/<kind>: the three upserts differ only in their record type and service."""

    Batch = SyncBatch[item]  # type: ignore[valid-type]  # a model chosen at runtime; FastAPI reads the annotation

    async def upsert(body: Batch, principal: SalesIntegration, session: SessionDep) -> SyncResult:
        return await sync(session, principal, body.items)

    upsert.__name__ = f"sync_{kind}"
    integration_router.put(
        f"/integrations/sales/{kind}",
        response_model=SyncResult,
        tags=["sales integration"],
        summary=summary,
        description=description,
    )(upsert)


_sync_route("products", ProductIn, ingest.sync_products, "Upsert products from the sales system")
_sync_route("inventory", InventoryIn, ingest.sync_inventory, "Upsert inventory from the sales system")
_sync_route(
    "orders",
    OrderIn,
    ingest.sync_orders,
    "Upsert orders with their lines from the sales system",
    SYNC_DESCRIPTION + " An order's lines are replaced wholesale; its total is computed from the lines.",
)


OrderPage = Annotated[PageParams, listing("OrderSort", "order_date", "number", "total", "synced_at")]


@router.get(
    "/customers/{customer_id}/orders",
    response_model=Page[OrderSummary],
    tags=["orders"],
    summary="A customer's shipped and paid orders, newest first",
)
async def list_customer_orders(customer_id: Id, principal: CustomersRead, session: SessionDep, page: OrderPage) -> Rendered:
    return Rendered(await service.customer_orders(session, principal, customer_id, page))


@router.get(
    "/orders/{order_id}",
    response_model=OrderDetail,
    tags=["orders"],
    summary="An order with its lines and total",
)
async def get_order(order_id: Id, principal: CustomersRead, session: SessionDep, etag: ETag) -> OrderDetail:
    return etag(await service.get_order(session, principal, order_id))


ProductPage = Annotated[PageParams, listing("ProductSort", "name", "synced_at")]


@router.get(
    "/products",
    response_model=Page[ProductRead],
    tags=["products"],
    summary="Search the product catalogue by name, code, model and batch",
)
async def list_products(
    _: ProductsRead,
    session: SessionDep,
    page: ProductPage,
    name: SubstringFilter = None,
    model: SubstringFilter = None,
    batch: SubstringFilter = None,
    q: Annotated[str | None, Query(max_length=100, description="Name, code or model contains, case-insensitive")] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false) products")] = None,
) -> Page[ProductRead]:
    return await service.list_products(session, page, name=name, model=model, batch=batch, q=q, active=active)


@router.post(
    "/products",
    response_model=ProductRead,
    status_code=status.HTTP_201_CREATED,
    tags=["products"],
    summary="Add a product to the catalogue (admins)",
)
async def create_product(body: ProductCreate, principal: ProductsWrite, session: SessionDep) -> ProductRead:
    return ProductRead.model_validate(await service.create_product(session, principal, body))


@router.patch(
    "/products/{product_id}",
    response_model=ProductRead,
    tags=["products"],
    summary="Edit a product: code, list price, tax rate, active… (admins)",
)
async def update_product(
    product_id: Id, body: ProductUpdate, principal: ProductsWrite, session: SessionDep, if_match: IfMatch = None
) -> ProductRead:
    product = await service.update_product(session, principal, product_id, body, if_match=if_match)
    return ProductRead.model_validate(product)


@router.get(
    "/products/{product_id}",
    response_model=ProductRead,
    tags=["products"],
    summary="Get a product",
)
async def get_product(product_id: Id, _: ProductsRead, session: SessionDep, etag: ETag) -> ProductRead:
    return etag(ProductRead.model_validate(await service.get_product(session, product_id)))


InventoryPage = Annotated[PageParams, listing("InventorySort", "warehouse", "quantity", "synced_at")]


@router.get(
    "/inventory",
    response_model=Page[InventoryRead],
    tags=["products"],
    summary="Stock by product and warehouse",
)
async def list_inventory(
    _: ProductsRead,
    session: SessionDep,
    page: InventoryPage,
    product_id: Id | None = None,
    product_name: SubstringFilter = None,
    warehouse: Annotated[str | None, Query(max_length=100, description="Warehouse name, exactly")] = None,
) -> Page[InventoryRead]:
    return await service.list_inventory(session, page, product_id=product_id, product_name=product_name, warehouse=warehouse)
