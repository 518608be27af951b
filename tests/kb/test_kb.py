from sqlalchemy import func, select

from crm_api.models.platform import AuditEvent
from crm_api.models.ticket import KbArticle
from tests.churn.factories import make_customer
from tests.factories import assert_problem
from tests.tickets.factories import URL as TICKETS
from tests.tickets.factories import open_ticket

ARTICLES = "/api/v1/kb/articles"


async def _write(client, actor, title: str, body: str) -> dict:
    response = await client.post(ARTICLES, json={"title": title, "body": body}, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _search(client, actor, q: str) -> list[str]:
    response = await client.get(ARTICLES, params={"q": q}, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [a["title"] for a in response.json()["items"]]


async def test_articles_crud_and_permissions(app, client, actors):
    writer = await actors.make("sales_supervisor")
    reader = await actors.make("account_manager")
    assert_problem(await client.post(ARTICLES, json={"title": "t", "body": "b"}, headers=reader.headers), 403)
    assert_problem(await client.get(ARTICLES), 401)
    assert_problem(await client.post(ARTICLES, json={"title": "", "body": "b"}, headers=writer.headers), 422)
    assert_problem(await client.post(ARTICLES, json={"title": "t", "body": "b", "created_by_id": 1}, headers=writer.headers), 422)
    article = await _write(client, writer, "退货流程", "七天无理由退货")
    assert article["created_by_id"] == writer.id

    url = f"{ARTICLES}/{article['id']}"
    got = await client.get(url, headers=reader.headers)
    assert got.status_code == 200 and got.json()["title"] == "退货流程"
    stale = await client.patch(url, json={"title": "x"}, headers={**writer.headers, "If-Match": '"old"'})
    assert_problem(stale, 412)
    changed = await client.patch(url, json={"title": "退换货流程"}, headers={**writer.headers, "If-Match": got.headers["etag"]})
    assert changed.status_code == 200 and changed.json()["title"] == "退换货流程"
    assert_problem(await client.patch(url, json={"body": None}, headers=writer.headers), 422)
    assert_problem(await client.patch(url, json={"title": "y"}, headers=reader.headers), 403)
    assert_problem(await client.delete(url, headers=reader.headers), 403)
    assert (await client.delete(url, headers=writer.headers)).status_code == 204
    assert_problem(await client.get(url, headers=reader.headers), 404, "article.not_found")
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(KbArticle)) == 0


async def test_search_ranks_title_hits_above_body_hits_and_works_for_chinese(client, actors):
    writer = await actors.make("admin")
    await _write(client, writer, "打印机常见问题", "若打印机无法开机，请检查电源线是否接好。")
    await _write(client, writer, "无法开机怎么办", "先长按电源键十秒。")
    await _write(client, writer, "发票开具说明", "增值税专用发票的开具流程。")
    await _write(client, writer, "Printer FAQ", "If the PRINTER does not power on, check the cable.")

    assert await _search(client, writer, "无法开机") == ["无法开机怎么办", "打印机常见问题"]
    assert await _search(client, writer, "打印机 无法开机") == ["打印机常见问题", "无法开机怎么办"]
    assert await _search(client, writer, "printer") == ["Printer FAQ"]
    assert await _search(client, writer, "退货") == []
    assert await _search(client, writer, "100%") == []  # wildcards are matched literally
    everything = await client.get(ARTICLES, params={"limit": 2}, headers=writer.headers)
    assert len(everything.json()["items"]) == 2 and everything.json()["next_cursor"]


async def test_search_pages_by_relevance(client, actors):
    writer = await actors.make("admin")
    for n in range(3):
        await _write(client, writer, f"开机指南 {n}", "正文")
        await _write(client, writer, f"其他 {n}", "关于开机的正文")
    first = await client.get(ARTICLES, params={"q": "开机", "limit": 4}, headers=writer.headers)
    second = await client.get(
        ARTICLES, params={"q": "开机", "limit": 4, "cursor": first.json()["next_cursor"]}, headers=writer.headers
    )
    titles = [a["title"] for a in first.json()["items"] + second.json()["items"]]
    assert titles == ["开机指南 2", "开机指南 1", "开机指南 0", "其他 2", "其他 1", "其他 0"]
    assert second.json()["next_cursor"] is None


async def test_link_an_article_to_a_ticket(app, client, actors):
    writer = await actors.make("admin")
    manager = await actors.make("account_manager")
    marketer = await actors.make("marketer")
    article = await _write(client, writer, "无法开机怎么办", "先长按电源键十秒。")
    ticket = await open_ticket(client, manager, await make_customer(app, manager.id))
    url = f"{TICKETS}/{ticket['id']}/articles"

    linked = await client.post(url, json={"article_id": article["id"]}, headers=manager.headers)
    assert linked.status_code == 200, linked.text
    assert linked.json()["articles"] == [{"id": article["id"], "title": "无法开机怎么办"}]
    async with app.state.db.sessionmaker() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "link_article"))
    assert event is not None
    assert (event.entity_type, event.entity_id, event.actor_id) == ("service_ticket", str(ticket["id"]), manager.id)
    assert event.changes == {"article_id": {"before": None, "after": article["id"]}}
    assert_problem(
        await client.post(url, json={"article_id": article["id"]}, headers=manager.headers),
        409,
        "service_ticket.article_already_linked",
    )
    assert_problem(await client.post(url, json={"article_id": 999999}, headers=manager.headers), 404, "article.not_found")
    assert_problem(await client.post(url, json={"article_id": article["id"]}, headers=marketer.headers), 403)
    other = await actors.make("account_manager")
    assert_problem(await client.post(url, json={"article_id": article["id"]}, headers=other.headers), 404)
