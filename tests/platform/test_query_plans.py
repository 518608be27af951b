import pytest
from sqlalchemy import text

from tests.conftest import _postgres_base_url


@pytest.mark.skipif(_postgres_base_url() is None, reason="plan caching is PostgreSQL's")
async def test_postgresql_plans_each_statement_for_its_values(session):
    # A cached generic plan ignores the search pattern and scans the customer table backwards by id.
    assert await session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
