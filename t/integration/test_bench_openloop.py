"""build/drover-openloop (bench/openloop.cc) --latencies and bench/compare.py's pooling
of them (--latency-interleave). The p99 target is judged on percentiles of latencies
pooled over interleaved slices: a file that missed requests, or a pooling that took
the percentile differently from the tool, would report a p99 that means nothing."""
import json
import math
import subprocess
import sys
from pathlib import Path

import drover as dr

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import compare as C  # noqa: E402

OPENLOOP = dr.BUILD / "drover-openloop"


def test_latencies_file_holds_every_measured_latency_sorted(backend, workdir):
    assert OPENLOOP.exists(), "%s is missing: run `make`" % OPENLOOP
    b = backend("A")
    path = workdir / "latencies"
    out = subprocess.run([str(OPENLOOP), "--port", str(b.port), "--rate", "200",
                          "--duration", "1", "--warmup", "0.2", "--connections", "4",
                          "--latencies", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    lat = [int(x) for x in path.read_text().split()]
    # Only the measured window: 200 requests due in 1 s, none of the warm-up's 40.
    assert res["completed"] == res["scheduled"] == 200 == len(lat)
    assert lat == sorted(lat) and lat[0] > 0
    # The tool's own percentiles are the nearest ranks of the same values.
    for key, q in (("p50_ms", 0.5), ("p99_ms", 0.99), ("max_ms", 1.0)):
        assert abs(C.nearest_rank(lat, q) / 1e6 - res[key]) < 0.0005, key


def test_latencies_file_that_cannot_be_written_is_reported(backend, workdir):
    b = backend("A")
    out = subprocess.run([str(OPENLOOP), "--port", str(b.port), "--rate", "50",
                          "--duration", "0.2", "--warmup", "0",
                          "--latencies", str(workdir / "no-such-dir" / "x")],
                         capture_output=True, text=True, timeout=30)
    assert "cannot write" in out.stderr and "no-such-dir" in out.stderr


def window(completed, p99_ms, cpu_s, wall_s=2.0):
    return {"close": False, "p99_ms": p99_ms, "scheduled": completed, "sent": completed,
            "completed": completed, "errors": 0, "non2xx": 0, "timeouts": 0, "unsent": 0,
            "connects": 4, "cpu_s": cpu_s, "wall_s": wall_s, "sleeps": completed}


def test_pooled_row_takes_percentiles_over_all_slices_together():
    ctx = C.Ctx()

    class Args:
        connections, warmup, duration = 4, 1, 2
    ctx.args, ctx.proxy_cpus = Args, [0]
    # Slice 1: 100 requests at 1 ms; slice 2: 100 at 1..100 ms. Pooled, 101 are 1 ms
    # and the p99 is the 198th of 200, 98 ms: neither slice's p99 (1, 99) nor their mean.
    lat = [1_000_000] * 100 + [k * 1_000_000 for k in range(1, 101)]
    row = C.pooled_row("drover", "small-ka", 1, 100, [window(100, 1.0, 0.01),
                                                      window(100, 99.0, 0.03)], lat, ctx)
    assert row["completed"] == 200 and row["slices"] == 2
    assert row["p99_ms"] == 98.0 and row["p50_ms"] == 1.0 and row["max_ms"] == 100.0
    assert row["p99_runs"] == [1.0, 99.0]
    assert math.isclose(row["cpu_us_per_req"], 0.04 * 1e6 / 200)
    assert math.isclose(row["cpu_util"], 0.04 / 4.0)
    assert math.isclose(row["achieved_rps"], 200 / 4)
    assert row["proxy_cpus"] == "0"
