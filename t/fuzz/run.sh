#!/bin/sh
# Runs one libFuzzer target of t/fuzz for a bounded time (called by `make fuzz`).
# Usage: t/fuzz/run.sh BUILDDIR TARGET SECONDS
# The seed corpus t/fuzz/corpus/TARGET is read, never written: new inputs go
# to BUILDDIR/fuzz/corpus/TARGET, crashes to BUILDDIR/fuzz/crash-TARGET-*, the
# whole output to BUILDDIR/fuzz/TARGET.log. Prints one summary line:
#   fuzz TARGET: ok|FAILED, N execs in S s, cov C, ft F, corpus K
# and exits non-zero on any crash, leak, timeout or property violation.
set -u
b=$1 t=$2 secs=$3
bin=$b/fuzz/fuzz_$t
work=$b/fuzz/corpus/$t
log=$b/fuzz/$t.log
mkdir -p "$work"
# -timeout: one input taking over 10 s is a hang; -rss_limit_mb bounds memory.
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$b/fuzz/crash-$t-" "$work" "t/fuzz/corpus/$t" >"$log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
if [ "$rc" = 0 ]; then
  echo "fuzz $t: ok, ${execs:-?} execs in ${secs} s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
else
  echo "fuzz $t: FAILED (exit $rc), ${execs:-?} execs; see $log and $b/fuzz/crash-$t-*"
  grep -E 'ERROR|property violated|SUMMARY|Test unit written' "$log" | head -20
  exit 1
fi
