"""bench/compare.py's own arithmetic and parsers: the open-loop percentiles pooled over
interleaved slices (--latency-interleave), and the system-call counts of perf's
tracepoints and of strace (--syscalls). Figures from a parser that misread a line, or
a pool that averaged percentiles, would mean nothing."""
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import compare as C  # noqa: E402


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


PERF_STAT = """# started on Fri Nov 27 11:37:56 2026

0,,syscalls:sys_enter_read,1247490,100.00,,
21,,syscalls:sys_enter_mmap,1247490,100.00,,
<not counted>,,syscalls:sys_enter_write,0,100.00,,
400000,,syscalls:sys_enter_recvfrom,1247490,100.00,,
200000,,syscalls:sys_enter_sendto,1247490,100.00,,
"""

STRACE_C = """% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 61.20    1.000000           2    400000           recvfrom
 30.00    0.500000           2    200000           sendto
  8.80    0.100000           3     30000     12000 epoll_wait
------ ----------- ----------- --------- --------- ----------------
100.00    1.600000           2    630000     12000 total
"""


def test_perf_stat_lines_give_the_calls_counted_at_least_once():
    assert sorted(C.parse_perf_syscalls(PERF_STAT)) == [
        (21, "mmap"), (200000, "sendto"), (400000, "recvfrom")]


def test_strace_summary_gives_calls_not_errors_and_skips_the_total():
    assert sorted(C.parse_strace_summary(STRACE_C)) == [
        (30000, "epoll_wait"), (200000, "sendto"), (400000, "recvfrom")]


def test_floor_excess_is_cpu_above_the_relay_as_a_ratio_to_nginx_s():
    rows = [{"proxy": "drover", "cpu_us_per_req": 11.5},
            {"proxy": "nginx", "cpu_us_per_req": 13.0},
            {"proxy": C.FLOOR, "cpu_us_per_req": 10.0}]
    C.add_floor_excess(rows)
    assert math.isclose(rows[0]["above_floor"], 1.5)
    assert math.isclose(rows[0]["above_floor_vs_nginx"], 0.5)
    assert rows[1]["above_floor_vs_nginx"] == 1.0 and "above_floor" not in rows[2]
