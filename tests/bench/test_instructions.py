"""The instruction counter's driver: a request straight into the ASGI app answers as it would over HTTP."""

from bench.instructions import asgi_request


async def test_a_request_without_http_gets_the_apps_answer(app, client):
    assert await asgi_request(app, "GET", "/health/live", None, None, {}) == 200
    assert await asgi_request(app, "GET", "/api/v1/customers", {"limit": 5}, None, {}) == 401
    bad_login = {"username": "nobody", "password": "wrong-password-123"}
    assert await asgi_request(app, "POST", "/api/v1/auth/login", None, bad_login, {}) == 401
