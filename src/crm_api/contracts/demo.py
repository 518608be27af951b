"""Demo quotes and contracts (issue #16): the approval flows, quotes in each step of their life, active contracts with
payment plans, receipts and invoices, and requests waiting for a supervisor. Idempotent: keyed by the quote's and
the contract's title."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.approvals import service as approvals
from crm_api.approvals.policy import ApprovalAction
from crm_api.approvals.schemas import FlowPut, FlowStepIn
from crm_api.churn.demo import demo_principal
from crm_api.contracts import service as contracts
from crm_api.contracts.schemas import ContractCreate, InstallmentCreate, InvoiceCreate, ReceiptCreate
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.models.approval import ApprovalFlow, ApprovalRequest
from crm_api.models.contract import Contract
from crm_api.models.customer import Customer
from crm_api.models.identity import User
from crm_api.models.quote import Quote
from crm_api.models.sales import Product
from crm_api.quotes import service as quotes
from crm_api.quotes.schemas import QuoteCreate, QuoteLineIn

# The supervisor of the requester's team decides quotes (above the discount threshold) and contracts.
SUPERVISOR_STEP = FlowStepIn(name="销售主管审批", approver_kind="team_role", approver_role="sales_supervisor")
FLOWS = {"quote": "报价折扣审批", "contract": "合同审批"}

# title, discount percent, how far it goes: draft, sent (approved at once, then sent), pending (above the threshold)
DEMO_QUOTES = [
    ("热轧螺纹钢季度报价", "0", "draft"),
    ("冷轧钢板年度报价", "0", "sent"),
    ("螺纹钢补货报价", "2", "sent"),
    ("大客户折扣报价", "15", "pending"),
]
# title, amount, installments, receipt on the first, invoice; none: submitted and waiting for approval
DEMO_CONTRACTS: list[tuple[str, str, list[str] | None]] = [
    ("2026年度钢材供货合同", "240000.00", ["80000.00", "80000.00", "60000.00"]),
    ("2026年下半年冷轧钢板合同", "120000.00", ["50000.00", "50000.00"]),
    ("2027年度框架合同", "300000.00", None),
]


async def seed_deals(session: AsyncSession, settings: Settings, users: dict[str, User]) -> None:
    admin = await demo_principal(session, users["admin"])
    for subject_type, name in FLOWS.items():
        if await session.scalar(select(ApprovalFlow.id).where(ApprovalFlow.subject_type == subject_type)) is None:
            await approvals.put_flow(session, admin, subject_type, FlowPut(name=name, steps=[SUPERVISOR_STEP]))
    owner, supervisor = users["li.na"], users["zhang.wei"]
    customer = await session.scalar(select(Customer).where(Customer.owner_id == owner.id).order_by(Customer.id).limit(1))
    product = await session.scalar(select(Product).where(Product.active.is_(True)).order_by(Product.id).limit(1))
    if customer is None or product is None:
        return
    actor, approver = await demo_principal(session, owner), await demo_principal(session, supervisor)
    titles = set(await session.scalars(select(Quote.title))) | set(await session.scalars(select(Contract.title)))
    for title, discount, stage in DEMO_QUOTES:
        if title in titles:
            continue
        line = QuoteLineIn(product_id=product.id, quantity=Decimal("20"), discount_percent=Decimal(discount))
        quote = await quotes.create(session, actor, settings, QuoteCreate(customer_id=customer.id, title=title, lines=[line]))
        await session.flush()
        if stage != "draft":
            await quotes.submit(session, actor, settings, quote.id)
        if stage == "sent":
            await quotes.send(session, actor, settings, quote.id)
    today = clock.now().date()
    for title, amount, plan in DEMO_CONTRACTS:
        if title in titles:
            continue
        data = ContractCreate(
            customer_id=customer.id,
            title=title,
            amount=Decimal(amount),
            sign_date=today - timedelta(days=40),
            start_date=today - timedelta(days=30),
            end_date=today + timedelta(days=335),
        )
        contract = await contracts.create(session, actor, data)
        await session.flush()
        await contracts.submit(session, actor, contract.id)
        if plan is None:
            continue
        request = await session.scalar(
            select(ApprovalRequest).where(ApprovalRequest.subject_type == "contract", ApprovalRequest.subject_id == contract.id)
        )
        assert request is not None  # every contract goes through its flow
        await approvals.decide(session, approver, request.id, ApprovalAction.APPROVE, "同意")
        installments = [
            await contracts.add_installment(
                session,
                actor,
                settings,
                contract.id,
                InstallmentCreate(due_date=today + timedelta(days=90 * n), amount=Decimal(part)),
            )
            for n, part in enumerate(plan)
        ]
        await session.flush()
        first = installments[0]
        receipt = ReceiptCreate(amount=first.amount / 2, received_on=today, method="bank_transfer")
        await contracts.record_receipt(session, actor, contract.id, first.id, receipt)
        invoice = InvoiceCreate(
            kind="vat_special", number=f"3100{contract.id:04d}-0001", amount=first.amount / 2, issued_on=today
        )
        await contracts.add_invoice(session, actor, contract.id, invoice)
