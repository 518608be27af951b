"""`GET /custom-fields/{entity}/schema`: a JSON Schema (draft 2020-12) an SPA renders the form from."""

from tests.custom_fields.factories import BASE, define_field
from tests.factories import assert_problem


async def test_the_schema_lists_active_fields_in_order_with_types_labels_and_choices(client, actors):
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    assert_problem(await client.get(f"{BASE}/customer/schema"), 401)
    await define_field(client, admin, "customer", "erp_no", label="ERP 编号", required=True, unique=True, sort_order=1)
    await define_field(client, admin, "customer", "employees", "number", label="员工数", sort_order=2)
    await define_field(client, admin, "customer", "capital", "decimal", label="注册资本", sort_order=3)
    await define_field(client, admin, "customer", "founded", "date", label="成立日期", sort_order=4)
    await define_field(client, admin, "customer", "listed", "boolean", label="上市", sort_order=5)
    await define_field(client, admin, "customer", "level2", "choice", label="等级", dictionary_category="customer_level")
    await define_field(client, admin, "customer", "markets", "multi_choice", label="市场", dictionary_category="service_type")
    await define_field(client, admin, "customer", "old", sort_order=9)
    await client.post(f"{BASE}/customer/old/deactivate", headers=admin.headers)

    response = await client.get(f"{BASE}/customer/schema", headers=manager.headers)
    assert response.status_code == 200
    schema = response.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "/api/v1/custom-fields/customer/schema"
    assert (schema["type"], schema["additionalProperties"], schema["required"]) == ("object", False, ["erp_no"])
    properties = schema["properties"]
    assert list(properties) == ["level2", "markets", "erp_no", "employees", "capital", "founded", "listed"]
    assert properties["erp_no"] == {
        "title": "ERP 编号",
        "type": "string",
        "maxLength": 1000,
        "description": "Unique: no two records share a value",
    }
    assert properties["employees"] == {"title": "员工数", "type": "number"}
    assert properties["capital"]["type"] == "string" and properties["capital"]["format"] == "decimal"
    assert properties["founded"] == {"title": "成立日期", "type": "string", "format": "date"}
    assert properties["listed"] == {"title": "上市", "type": "boolean"}
    assert properties["level2"]["oneOf"][:2] == [
        {"const": "regular", "title": "普通客户"},
        {"const": "key_prospect", "title": "重点开发客户"},
    ]
    assert properties["markets"]["type"] == "array" and properties["markets"]["uniqueItems"] is True
    assert [option["title"] for option in properties["markets"]["items"]["oneOf"]] == ["咨询", "建议", "投诉"]


async def test_an_entity_without_fields_has_an_empty_schema(client, actors):
    manager = await actors.make("account_manager")
    schema = (await client.get(f"{BASE}/ticket/schema", headers=manager.headers)).json()
    assert (schema["properties"], schema["required"]) == ({}, [])
    assert_problem(await client.get(f"{BASE}/planet/schema", headers=manager.headers), 422)
