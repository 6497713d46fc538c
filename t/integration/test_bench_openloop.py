"""build/drover-openloop (bench/openloop.cc) --latencies, which bench/compare.py
--latency-interleave pools over interleaved slices (its pooling is tested in
test_bench_compare.py). A file that missed requests, or percentiles taken
differently from the tool's, would report a p99 that means nothing."""
import json
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
