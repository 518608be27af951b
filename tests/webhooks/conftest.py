import pytest
from fastapi import FastAPI


@pytest.fixture
def private_hosts_allowed(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Let subscriptions point at 127.0.0.1, as the test receivers do (production refuses it)."""
    monkeypatch.setattr(app.state.settings, "webhook_allow_private_hosts", True)
