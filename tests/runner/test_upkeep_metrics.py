"""A supervisor's metrics, for real: the supervisor of a running session samples the
database size by itself, and the sampler it runs turns a real session's output into a
capture rate and an index lag."""

from __future__ import annotations

import sys

from runner import control
from runner.upkeep import MetricsSampler
from storage.engine import metrics
from tests.support.supervisors import eventually

WRITER = [
    sys.executable,
    "-u",
    "-c",
    "import time\nfor i in range(100000):\n print('line', i, 'x' * 100)\n time.sleep(0.002)",
]


async def test_a_running_supervisor_records_the_database_size(store, paths, tmp_path):
    s = await control.start_session(store, paths, argv=["sleep", "60"], cwd=tmp_path)

    async def sampled():  # type: ignore[no-untyped-def]
        return await metrics.series(store, "db_bytes")

    (sample,) = await eventually(sampled, timeout=60, what="a db_bytes sample")
    assert sample.value > 0 and sample.session_id is None
    await control.stop(store, paths, s.id, grace=1.0)


async def test_the_sampler_measures_a_real_sessions_capture(store, paths, tmp_path):
    s = await control.start_session(store, paths, argv=WRITER, cwd=tmp_path)
    sampler = MetricsSampler(store, s.id, paths.supervisor_log, every=0.2)

    async def rated():  # type: ignore[no-untyped-def]
        await sampler.tick()
        return [x for x in await metrics.series(store, "capture_rate") if x.session_id == s.id]

    rates = await eventually(rated, timeout=60, what="a capture_rate sample")
    assert all(r.value > 0 for r in rates)
    lags = [x for x in await metrics.series(store, "index_lag") if x.session_id == s.id]
    assert lags and all(x.value >= 0 for x in lags)
    await control.stop(store, paths, s.id, grace=1.0)
