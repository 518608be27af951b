"""The ticket rules live in the service: for every role and status it accepts exactly what allowed_actions offers."""

from crm_api.models.ticket import KbArticle, ServiceTicket
from crm_api.tickets import service
from crm_api.tickets.policy import RULES, TicketAction
from crm_api.tickets.schemas import AssignTicket, HandleTicket, TicketCreate, TicketFeedbackCreate
from tests.churn.factories import make_customer
from tests.policy_matrix import accepted_actions, principal_of

# SPEC §3.7: the supervisor assigns (and re-assigns), the assignee handles, creator or assignee give feedback;
# whoever handles tickets and reads the knowledge base links articles.
EXPECTED = {
    ("creator", "new"): {"link_article"},
    ("creator", "assigned"): {"link_article"},
    ("creator", "handled"): {"feedback", "link_article"},
    ("creator", "archived"): {"link_article"},
    ("assignee", "assigned"): {"handle", "link_article"},
    ("assignee", "handled"): {"feedback", "link_article"},
    ("assignee", "archived"): {"link_article"},
    ("supervisor", "new"): {"assign", "link_article"},
    ("supervisor", "assigned"): {"assign", "link_article"},
    ("supervisor", "handled"): {"link_article"},
    ("supervisor", "archived"): {"link_article"},
    ("assignee", "new"): None,  # not theirs yet: unseen
}


async def test_service_accepts_exactly_what_the_rules_allow(app, session, actors):
    people = {
        "creator": await actors.make("account_manager", team="East"),
        "assignee": await actors.make("account_manager", team="East"),
        "supervisor": await actors.make("sales_supervisor", team="East"),
    }
    principals = {name: await principal_of(session, actor) for name, actor in people.items()}
    customer_id = await make_customer(app, people["creator"].id)
    article = KbArticle(title="打印机无法开机", body="先复位电源")
    session.add(article)
    await session.flush()
    to_assignee = AssignTicket(assignee_id=people["assignee"].id)

    async def ticket_in(status: str) -> ServiceTicket:
        data = TicketCreate(service_type="complaint", summary="s", customer_id=customer_id, channel="phone", content="c")
        ticket_id = (await service.create_ticket(session, principals["creator"], data)).id
        if status in ("assigned", "handled", "archived"):
            await service.assign(session, principals["supervisor"], ticket_id, to_assignee)
        if status in ("handled", "archived"):
            await service.handle(session, principals["assignee"], ticket_id, HandleTicket(method="m"))
        if status == "archived":
            await service.give_feedback(
                session, principals["creator"], ticket_id, TicketFeedbackCreate(result="r", satisfaction=5)
            )
        ticket = await session.get(ServiceTicket, ticket_id)
        assert ticket is not None and ticket.status == status
        return ticket

    matrix = await accepted_actions(
        RULES,
        statuses=["new", "assigned", "handled", "archived"],
        principals=principals,
        record_in=ticket_in,
        attempts={
            TicketAction.ASSIGN: lambda p, t: service.assign(session, p, t.id, to_assignee),
            TicketAction.HANDLE: lambda p, t: service.handle(session, p, t.id, HandleTicket(method="m")),
            TicketAction.FEEDBACK: lambda p, t: service.give_feedback(
                session, p, t.id, TicketFeedbackCreate(result="r", satisfaction=4)
            ),
            TicketAction.LINK_ARTICLE: lambda p, t: service.link_article(session, p, t.id, article.id),
        },
    )

    assert matrix == {cell: EXPECTED.get(cell, set()) for cell in matrix}
