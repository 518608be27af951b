from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def document_dir(app, tmp_path, monkeypatch) -> Path:
    """Each test stores its documents in a directory of its own."""
    root = tmp_path / "documents"
    monkeypatch.setattr(app.state.settings, "document_dir", root)
    return root
