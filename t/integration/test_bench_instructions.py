"""bench/instructions.py --code-lines reads callgrind's per-instruction output
(--dump-instr=yes): addresses absolute or relative to the previous line, the line
after each calls= holding the callee's inclusive cost (not the caller's own), and
the difference of two runs leaving start-up out. A parser that got any of these
wrong would report code footprints that mean nothing."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import instructions as I  # noqa: E402

HEADER = "version: 1\ncreator: callgrind-3.19.0\npositions: instr line\nevents: Ir\n\n"


def write(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(HEADER + body)
    return str(p)


def test_code_line_costs_follow_relative_addresses_and_skip_call_costs(tmp_path):
    body = ("ob=(1) /usr/lib/x.so\nfl=(1) x.c\nfn=(1) f\n"
            "0x1000 10 5\n"      # line 0x40
            "+4 * 3\n"           # 0x1004, same line 0x40
            "+60 11 2\n"         # 0x1040, line 0x41
            "cfn=(2) g\ncalls=7 0x2000 20\n"
            "* 11 900\n"         # the call at 0x1040: g's inclusive cost, not f's
            "-64 12 1\n"         # 0x1000 again
            "fn=(2)\n0x2000 20 7\n")
    costs = I.code_line_costs(write(tmp_path, "cg.1", body))
    assert costs == {0x40: 9, 0x41: 2, 0x80: 7}


def test_code_lines_count_what_grew_by_half_the_added_requests(tmp_path):
    short = write(tmp_path, "short", "fn=(1) f\n0x1000 1 1000\n0x1040 1 10\n0x1080 1 5\n")
    # 0x1000: start-up only (no growth); 0x1040: +100 for 100 requests;
    # 0x1080: +49, under half; 0x10c0: new, +50, exactly half.
    long = write(tmp_path, "long",
                 "fn=(1) f\n0x1000 1 1000\n0x1040 1 110\n0x1080 1 54\n0x10c0 1 50\n")
    assert I.code_lines(short, long, 100) == 2
    assert I.code_lines(short, long, 1000) == 0
