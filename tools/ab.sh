#!/bin/sh
# Before/after on one machine: mod.h at git revision REV, or the mod.h file at path OLD (side
# A), against the working tree's mod.h (side B), both built with the Makefile's flags into one
# program (tools/ab.c), timed alternately on the same model.
#   usage: tools/ab.sh REV|OLD/mod.h MODEL.mod [--threads N] [--prompt N] [--decode N] [--repeat N]
set -eu
[ $# -ge 2 ] || { echo "usage: tools/ab.sh REV|OLD/mod.h MODEL.mod [mod-ab options]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
rev=$1
shift
dir=$root/build/ab
mkdir -p "$dir/a" "$dir/b"
if [ -f "$rev" ]; then cp "$rev" "$dir/a/mod.h.tmp"; else git -C "$root" show "$rev:mod.h" >"$dir/a/mod.h.tmp"; fi
mv "$dir/a/mod.h.tmp" "$dir/a/mod.h"
cp "$root/mod.h" "$dir/b/mod.h"
CC=${CC:-cc}
FLAGS="-std=c99 -O2 ${ARCH--march=native} ${OPENMP--fopenmp}"
# shellcheck disable=SC2086
$CC $FLAGS -DAB_SIDE=ab_a_ -I"$dir/a" -c "$root/tools/ab_side.c" -o "$dir/a.o"
# shellcheck disable=SC2086
$CC $FLAGS -DAB_SIDE=ab_b_ -I"$dir/b" -c "$root/tools/ab_side.c" -o "$dir/b.o"
# shellcheck disable=SC2086
$CC $FLAGS -Wall -Wextra -pedantic -o "$dir/mod-ab" "$root/tools/ab.c" "$dir/a.o" "$dir/b.o" -lm
exec "$dir/mod-ab" "$@"
