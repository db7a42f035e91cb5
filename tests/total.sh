#!/bin/sh
# Sums every summary line ("N passed, M failed" at the start of a line) of the logs given, as
# .ci/run does for each make target: a target may run several suites (make test-sanitize runs
# the whole suite, then valgrind). Nested results are indented by their runner, so each check
# is counted once. Prints "N passed, M failed"; no summary line at all counts as one failure.
# usage: tests/total.sh LOG...
cat "$@" | awk '
    /^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3; n++ }
    END { if (n == 0) f = 1; printf "%d passed, %d failed\n", p, f }'
