#!/bin/sh
# Runs every fuzzer for SECONDS over a scratch copy of its seed corpus; fails on any finding.
# usage: tests/fuzz/run.sh BUILD_DIR SECONDS
B=${1:-build}
S=${2:-30}
status=0
pass=0
fail=0
for f in "$B"/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f" | sed 's/^fuzz_//')
    work=$(mktemp -d)
    [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
    echo "== $name: $S s"
    if "$f" "$work" -max_total_time="$S" -close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$B/fuzz/$name-" >"$B/fuzz/$name.log" 2>&1; then
        grep -E "stat::number_of_executed_units|cov:" "$B/fuzz/$name.log" | tail -n 2
        pass=$((pass + 1))
    else
        echo "FINDING in $name: see $B/fuzz/$name.log"; tail -n 30 "$B/fuzz/$name.log"; status=1
        fail=$((fail + 1))
    fi
    rm -rf "$work"
done
if [ $((pass + fail)) -eq 0 ]; then echo "no fuzzer found in $B/fuzz (build them first)"; fail=1; status=1; fi
echo "$pass passed, $fail failed"
exit $status
