#!/bin/sh
# mod.h's Llama 3 and Qwen2 split patterns against Node's RegExp (tests/split_oracle.js) on a
# few hundred varied texts, and its Unicode class table against Node's on every code point.
# usage: tests/test_split_oracle.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
if [ ! -x "$B/split_pieces" ]; then
    bad "$B/split_pieces is not built (make $B/split_pieces)"
elif have node "the split patterns against Node's RegExp"; then
    out=$(node tests/split_oracle.js "$B/split_pieces" 2>&1)
    echo "$out" | grep -v '^[0-9]* passed, [0-9]* failed$'
    p=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -n "$p" ]; then pass=$((pass + p)); fail=$((fail + f)); else bad "split_oracle.js did not report its counts"; fi
fi
finish
