#!/bin/sh
# The code people compile themselves, with every warning an error: the header alone as C99
# (gcc, clang; with MOD_NO_STDIO + MOD_NO_MALLOC; with MOD_NO_MMAP; with stdio but no POSIX
# files; with OpenMP; for AVX2, AVX-512 and this CPU; with the AMX tiles of MOD_AMX)
# and as C++; examples/minimal.c and examples/generate.c as C99 and as C++17; the README's API
# example and the header's QUICK START as C99 and C++17, the README's linked and run on the
# shipped model; the relative links of the Markdown documents. A compiler that is not installed is
# skipped with a note (a failure under CI=true).
. "$(dirname "$0")/lib.sh"
W="-Wall -Wextra -pedantic -Werror"
compile() { # compile WHAT COMPILER FLAGS...: compiles; WHAT names it in the result
    what=$1; shift
    have "$1" "$what" || return 1
    if "$@" 2>"$T/err"; then ok "$what"; return 0; fi
    bad "$what: $(head -c 600 "$T/err")"; return 1
}

printf '#define MOD_IMPLEMENTATION\n#include "mod.h"\nint main(void){return 0;}\n' >"$T/header_tu.c"
compile "header, C99, gcc" gcc -std=c99 $W -I. -c "$T/header_tu.c" -o "$T/o.o"
compile "header, C99, clang" clang -std=c99 $W -I. -c "$T/header_tu.c" -o "$T/o.o"
compile "header, MOD_NO_STDIO + MOD_NO_MALLOC" gcc -std=c99 $W -DMOD_NO_STDIO -DMOD_NO_MALLOC -I. -c "$T/header_tu.c" -o "$T/o.o"
compile "header, MOD_NO_MMAP, C99" gcc -std=c99 $W -DMOD_NO_MMAP -I. -c "$T/header_tu.c" -o "$T/o.o"
compile "header, MOD_NO_MMAP, C++11" g++ -x c++ -std=c++11 $W -DMOD_NO_MMAP -I. -c "$T/header_tu.c" -o "$T/o.o"
compile "header, stdio without POSIX (__unix__ undefined)" gcc -std=c99 $W -U__unix__ -I. -c "$T/header_tu.c" -o "$T/o.o"
compile "header, OpenMP" gcc -std=c99 $W -fopenmp -I. -c "$T/header_tu.c" -o "$T/o.o"
compile "header, C++11" g++ -x c++ -std=c++11 $W -I. -c "$T/header_tu.c" -o "$T/o.o"
for a in "-mavx2 -mfma -mf16c" "-mavx512f" "-march=native"; do
    # shellcheck disable=SC2086
    compile "header, C99 $a" gcc -std=c99 $W $a -I. -c "$T/header_tu.c" -o "$T/o.o"
    # shellcheck disable=SC2086
    compile "header, C++11 $a" g++ -x c++ -std=c++11 $W $a -I. -c "$T/header_tu.c" -o "$T/o.o"
done

# The AMX tiles (MOD_AMX): for AVX-512 alone, this CPU, and a CPU that has AMX
for a in "-mavx512f" "-march=native" "-march=sapphirerapids"; do
    # shellcheck disable=SC2086
    compile "header, MOD_AMX, C99 $a, gcc" gcc -std=c99 $W -fopenmp -DMOD_AMX $a -I. -c "$T/header_tu.c" -o "$T/o.o"
    # shellcheck disable=SC2086
    compile "header, MOD_AMX, C99 $a, clang" clang -std=c99 $W -DMOD_AMX $a -I. -c "$T/header_tu.c" -o "$T/o.o"
    # shellcheck disable=SC2086
    compile "header, MOD_AMX, C++11 $a" g++ -x c++ -std=c++11 $W -DMOD_AMX $a -I. -c "$T/header_tu.c" -o "$T/o.o"
done

for ex in examples/minimal.c examples/generate.c; do
    compile "$ex, C99, gcc" gcc -std=c99 $W -fopenmp -c "$ex" -o "$T/o.o"
    compile "$ex, C99, clang" clang -std=c99 $W -c "$ex" -o "$T/o.o"
    compile "$ex, C++17" g++ -x c++ -std=c++17 $W -fopenmp -c "$ex" -o "$T/o.o"
done

# The README's example: the first C block after "## The API in one example", as it stands.
awk '/^## The API in one example/ { s = 1 } s == 1 && /^```c$/ { s = 2; next } s == 2 && /^```$/ { exit } s == 2' README.md >"$T/readme.c"
if grep -q 'int main' "$T/readme.c"; then ok "README: the API example is a whole program ($(wc -l <"$T/readme.c") lines)"
else bad "README: no API example with a main() found"; fi
compile "README example, C99, gcc" gcc -std=c99 $W -I. -o "$T/readme_gcc" "$T/readme.c" -lm
compile "README example, C99, clang" clang -std=c99 $W -I. -o "$T/readme_clang" "$T/readme.c" -lm
compile "README example, C++17" g++ -x c++ -std=c++17 $W -I. -o "$T/readme_cxx" "$T/readme.c" -lm
ln -s "$(pwd)/models/kjv-mod.mod" "$T/model.mod"
for exe in readme_gcc readme_cxx; do
    [ -x "$T/$exe" ] || continue
    if (cd "$T" && "./$exe" >out.txt 2>&1) && [ "$(wc -c <"$T/out.txt")" -gt 20 ]; then
        ok "README example ($exe) runs on the shipped model: $(head -c 60 "$T/out.txt" | tr '\n' ' ')..."
    else bad "README example ($exe): $(head -c 300 "$T/out.txt")"; fi
done

# The header's QUICK START: its statements inside a main().
{
    printf '#define MOD_IMPLEMENTATION\n#include "mod.h"\n#include <stdio.h>\n#include <string.h>\nint main(void) {\n'
    awk '/^   QUICK START/ { s = 1 } s == 1 && /#include "mod.h"/ { s = 2; next } s == 2 && /^   [A-Z]/ { exit } s == 2' mod.h
    printf 'return 0;\n}\n'
} >"$T/quick.c"
if grep -q mod_session_free "$T/quick.c"; then
    compile "mod.h QUICK START, C99" gcc -std=c99 $W -I. -c "$T/quick.c" -o "$T/o.o"
    compile "mod.h QUICK START, C++17" g++ -x c++ -std=c++17 $W -I. -c "$T/quick.c" -o "$T/o.o"
else bad "mod.h: QUICK START not found"; fi

# The documents: every relative link in README.md, SECURITY.md, docs/*.md, tests/README.md,
# tests/fixtures/README.md and models/README.md names a file that exists (a link is resolved from
# the directory of the file it is in; a link to an anchor of the same page is not checked), and
# the README sends security reports to SECURITY.md.
for doc in README.md SECURITY.md docs/*.md tests/README.md tests/fixtures/README.md models/README.md; do
    [ -f "$doc" ] || { bad "$doc is missing"; continue; }
    dir=$(dirname "$doc")
    grep -o '](\([^)#:]*\)[#)]' "$doc" | sed 's/^](//; s/[#)]$//' | grep -v '^$' | sort -u >"$T/links"
    missing=""
    while read -r l; do [ -e "$dir/$l" ] || missing="$missing $l"; done <"$T/links"
    [ -z "$missing" ] && ok "$doc: its $(wc -l <"$T/links") relative links exist" || bad "$doc links to missing files:$missing"
done
awk '/^## Security/ { s = 1; next } /^## / { s = 0 } s' README.md | grep -q '(SECURITY.md)' &&
    ok "README: the security section points at SECURITY.md" || bad "README: the security section does not point at SECURITY.md"
finish
