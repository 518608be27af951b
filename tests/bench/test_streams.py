"""A tiny run of the idle-stream memory bench, so it does not rot: PostgreSQL only, a few seconds."""

import asyncio

from bench.streams import measure, prepare_database
from tests.platform.test_deployment import _postgres_only, postgres_only  # noqa: F401  (the fixture postgres_only uses)


@postgres_only
async def test_the_stream_bench_holds_its_streams_and_reports_the_workers_memory(settings):
    await asyncio.to_thread(prepare_database, settings.database_url)
    result = await measure(settings.database_url, 20)
    assert result["streams"] == 20
    assert result["worker_rss_with_streams_mib"] >= result["worker_rss_before_mib"] > 0
    assert set(result) >= {"extra_mib", "extra_kib_per_stream", "extra_mib_per_1000_streams"}
