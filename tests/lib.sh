# Shared by the shell tests: the build directory, a scratch directory removed on exit, the
# pass/fail counters with the summary line tests/run.sh reads, and have() for optional tools.
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
. "$(dirname "$0")/have.sh"
