"""Field visits (外勤拜访打卡): an interaction's check-in and its photos (SPEC §3.16)."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.customers.factories import BASE, make_customer, make_interaction
from tests.documents.factories import JPEG, PDF, PNG
from tests.factories import Actors, assert_problem
from tests.sync.factories import Device

CHECK_IN = {"latitude": 31.2304, "longitude": 121.4737, "accuracy_m": 15.0, "checked_in_at": "2026-06-01T02:30:00Z"}
VISIT = {"occurred_on": "2026-06-01", "location": "客户门店", "summary": "外勤拜访", "details": "现场查看陈列"}


@pytest.fixture(autouse=True)
def document_dir(app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "documents"
    monkeypatch.setattr(app.state.settings, "document_dir", root)
    return root


async def test_a_visit_keeps_its_check_in_and_a_phone_syncs_it(client: httpx.AsyncClient, actors: Actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    visit = await make_interaction(client, manager, customer["id"], check_in=CHECK_IN)
    plain = await make_interaction(client, manager, customer["id"])

    assert visit["check_in"] == CHECK_IN and plain["check_in"] is None
    url = f"{BASE}/{customer['id']}/interactions/{visit['id']}"
    assert (await client.get(url, headers=manager.headers)).json()["check_in"] == CHECK_IN
    device = Device(manager, types="interactions")
    await device.sync(client)
    assert device.records["interactions"][visit["id"]]["check_in"] == CHECK_IN
    # A check-in is evidence of where the visit was: it is not edited afterwards.
    moved = await client.patch(url, json={"check_in": CHECK_IN | {"latitude": 0}}, headers=manager.headers)
    assert_problem(moved, 422)


@pytest.mark.parametrize(
    "check_in",
    [
        CHECK_IN | {"latitude": 90.0001},
        CHECK_IN | {"latitude": -91},
        CHECK_IN | {"longitude": 180.5},
        CHECK_IN | {"longitude": -181},
        CHECK_IN | {"accuracy_m": -1},
        CHECK_IN | {"checked_in_at": "2026-06-01T10:30:00"},  # no time zone
        {key: value for key, value in CHECK_IN.items() if key != "checked_in_at"},
        CHECK_IN | {"altitude": 12},
    ],
)
async def test_a_check_in_out_of_bounds_is_422_and_records_nothing(client: httpx.AsyncClient, actors: Actors, check_in):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    url = f"{BASE}/{customer['id']}/interactions"
    assert_problem(await client.post(url, json=VISIT | {"check_in": check_in}, headers=manager.headers), 422)
    assert (await client.get(url, headers=manager.headers)).json()["items"] == []


async def test_the_edges_of_the_globe_are_valid_check_ins(client: httpx.AsyncClient, actors: Actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    for latitude, longitude in [(90, 180), (-90, -180)]:
        check_in = CHECK_IN | {"latitude": latitude, "longitude": longitude, "accuracy_m": 0}
        visit = await make_interaction(client, manager, customer["id"], check_in=check_in)
        assert (visit["check_in"]["latitude"], visit["check_in"]["longitude"]) == (latitude, longitude)


async def test_photos_of_a_visit_are_images_read_from_their_bytes(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, monkeypatch: pytest.MonkeyPatch
):
    manager, colleague = await actors.make("account_manager"), await actors.make("account_manager")
    customer = await make_customer(client, manager)
    visit = await make_interaction(client, manager, customer["id"], check_in=CHECK_IN)
    photos = f"{BASE}/{customer['id']}/interactions/{visit['id']}/photos"

    png = await client.post(photos, files={"file": ("门头.png", PNG, "image/png")}, headers=manager.headers)
    jpeg = await client.post(photos, files={"file": ("陈列.jpg", JPEG, "application/octet-stream")}, headers=manager.headers)
    assert (png.status_code, jpeg.status_code) == (201, 201), png.text
    assert png.json()["interaction_id"] == visit["id"] and png.json()["content_type"] == "image/png"
    assert jpeg.json()["content_type"] == "image/jpeg"
    listed = (await client.get(photos, headers=manager.headers)).json()["items"]
    assert [p["id"] for p in listed] == [jpeg.json()["id"], png.json()["id"]]
    content = await client.get(f"{BASE}/{customer['id']}/documents/{png.json()['id']}/content", headers=manager.headers)
    assert content.content == PNG

    # The type comes from the bytes: a PDF or text sent as image/jpeg is refused, and so is a photo too large.
    for name, data in [("合同.jpg", PDF), ("备注.jpg", b"not an image at all")]:
        refused = await client.post(photos, files={"file": (name, data, "image/jpeg")}, headers=manager.headers)
        assert_problem(refused, 415, "photo.not_an_image")
    monkeypatch.setattr(app.state.settings, "photo_max_bytes", len(PNG) - 1)
    assert_problem(await client.post(photos, files={"file": ("大图.png", PNG, "image/png")}, headers=manager.headers), 413)
    assert len((await client.get(photos, headers=manager.headers)).json()["items"]) == 2

    # Another account manager's visit does not exist for them.
    assert_problem(await client.get(photos, headers=colleague.headers), 404)
    upload = await client.post(photos, files={"file": ("x.png", PNG, "image/png")}, headers=colleague.headers)
    assert_problem(upload, 404)
    other = await make_customer(client, manager, name="另一家")
    assert_problem(await client.get(f"{BASE}/{other['id']}/interactions/{visit['id']}/photos", headers=manager.headers), 404)
