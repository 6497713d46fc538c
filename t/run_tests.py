#!/usr/bin/env python3
"""Runs every drover test: the GoogleTest unit binary, then the pytest
integration suite, and prints one closing line `N passed, N failed`.
Exit status is non-zero when anything failed or nothing ran."""
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("DROVER_BUILD", os.path.join(ROOT, "build"))


def run_unit(tmp):
    out = os.path.join(tmp, "unit.json")
    rc = subprocess.call([os.path.join(BUILD, "drover-unit"), "--gtest_output=json:" + out])
    if not os.path.exists(out):
        print("run_tests: unit binary produced no report (exit %d)" % rc)
        return 0, 1
    with open(out) as f:
        data = json.load(f)
    total = data.get("tests", 0)
    failed = data.get("failures", 0) + data.get("errors", 0)
    return total - failed - data.get("disabled", 0), failed + (1 if rc != 0 and failed == 0 else 0)


def run_integration(tmp):
    out = os.path.join(tmp, "integration.xml")
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "--junitxml=" + out, os.path.join(ROOT, "t", "integration")]
    args += sys.argv[1:]
    rc = subprocess.call(args, cwd=ROOT)
    if not os.path.exists(out):
        print("run_tests: pytest produced no report (exit %d)" % rc)
        return 0, 1, 0
    root = ET.parse(out).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    total = failed = skipped = 0
    for s in suites:
        total += int(s.get("tests", 0))
        failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    return total - failed - skipped, failed, skipped


def main():
    with tempfile.TemporaryDirectory() as tmp:
        up, uf = run_unit(tmp)
        ip, ifl, isk = run_integration(tmp)
    passed, failed = up + ip, uf + ifl
    print("unit: %d passed, %d failed; integration: %d passed, %d failed, %d skipped"
          % (up, uf, ip, ifl, isk))
    line = "%d passed, %d failed" % (passed, failed)
    if isk:
        line += ", %d skipped" % isk
    print(line)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
