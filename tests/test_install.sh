#!/bin/sh
# make install as a user of the library meets it: the files and their modes, the pkg-config
# file and the CMake package (version from mod.h, version rules), a C and a C++ program built
# against the installed header with pkg-config and with CMake and run on the shipped model,
# the installed programs, a DESTDIR install moved elsewhere, and make uninstall.
# usage: tests/test_install.sh BUILD_DIR   (the programs already built there; run from the top)
. "$(dirname "$0")/lib.sh"
MODEL=models/kjv-mod.mod
P=$T/prefix
W="-Wall -Wextra -pedantic -Werror"
# The install must go where this test says and nowhere else: no directory variable from the
# environment, and no variable or flag of an enclosing make (make test) passed on in MAKEFLAGS.
unset MAKEFLAGS MFLAGS MAKELEVEL DESTDIR PREFIX BINDIR INCLUDEDIR LIBDIR PKGCONFIGDIR CMAKEDIR
mk() { make -s B="$B" "$@" >"$T/make.out" 2>&1; }
mode() { ls -ld "$1" | cut -c1-10; } # mode PATH: the permission string, e.g. -rw-r--r--
files() { (cd "$1" && find . ! -type d | sort); } # files DIR: everything but directories
# gen WHAT OUTFILE: the last ids: and text: lines of a consumer run in OUTFILE are sound
gen() {
    ids=$(sed -n 's/^ids: //p' "$2")
    text=$(sed -n 's/^text: //p' "$2")
    if [ "$(echo "$ids" | wc -w)" -eq 8 ] && echo "$ids" | grep -Eq '^[0-9]+( [0-9]+)*$' &&
        [ "${#text}" -gt 12 ] && case "$text" in "And God"*) true ;; *) false ;; esac &&
        grep -q "^mod.h $version (header $version)" "$2"; then
        ok "$1 runs on $MODEL: $text"
    else bad "$1 output: $(head -c 300 "$2")"; fi
}
# same WHAT A B: two consumer runs generated the same ids
same() {
    if [ -n "$(sed -n 's/^ids: //p' "$2")" ] && [ "$(sed -n 's/^ids: //p' "$2")" = "$(sed -n 's/^ids: //p' "$3")" ]; then
        ok "$1: the same greedy ids"
    else bad "$1: different ids: $(grep '^ids' "$2") / $(grep '^ids' "$3")"; fi
}

version=$(sed -n 's/^#define MOD_VERSION_STRING "\([^"]*\)".*/\1/p' mod.h)
maj=$(sed -n 's/^#define MOD_VERSION_MAJOR \([0-9]*\)$/\1/p' mod.h)
min=$(sed -n 's/^#define MOD_VERSION_MINOR \([0-9]*\)$/\1/p' mod.h)
pat=$(sed -n 's/^#define MOD_VERSION_PATCH \([0-9]*\)$/\1/p' mod.h)
[ -n "$version" ] && [ "$version" = "$maj.$min.$pat" ] && ok "mod.h: MOD_VERSION_STRING $version is MAJOR.MINOR.PATCH" ||
    bad "mod.h: MOD_VERSION_STRING \"$version\" but MAJOR.MINOR.PATCH $maj.$min.$pat"

# ---- install into a scratch prefix, from the programs already built in BUILD_DIR ----
if mk install PREFIX="$P"; then ok "make install PREFIX=<scratch>"; else bad "make install: $(head -c 600 "$T/make.out")"; fi
for f in bin/mod-generate bin/mod-eval bin/mod-convert bin/mod-bench bin/mod2c bin/mod-tokenize bin/mod-sweep; do
    [ "$(mode "$P/$f")" = "-rwxr-xr-x" ] && ok "$f installed, mode 0755" || bad "$f: $(mode "$P/$f" 2>&1)"
done
for f in include/mod.h lib/pkgconfig/modh.pc lib/cmake/modh/modhConfig.cmake lib/cmake/modh/modhConfigVersion.cmake; do
    [ "$(mode "$P/$f")" = "-rw-r--r--" ] && ok "$f installed, mode 0644" || bad "$f: $(mode "$P/$f" 2>&1)"
done
cmp -s mod.h "$P/include/mod.h" && ok "include/mod.h is mod.h" || bad "include/mod.h differs from mod.h"
n=$(files "$P" | wc -l)
[ "$n" -eq 11 ] && ok "nothing else installed (11 files)" || bad "$n files installed: $(files "$P" | tr '\n' ' ')"
pcv=$(sed -n 's/^Version: *//p' "$P/lib/pkgconfig/modh.pc")
[ "$pcv" = "$version" ] && ok "modh.pc: Version $pcv is MOD_VERSION_STRING" || bad "modh.pc: Version \"$pcv\", mod.h $version"
grep -q "^set(PACKAGE_VERSION \"$version\")" "$P/lib/cmake/modh/modhConfigVersion.cmake" &&
    ok "modhConfigVersion.cmake: PACKAGE_VERSION $version" || bad "modhConfigVersion.cmake: no PACKAGE_VERSION $version"
if grep -q "$T" "$P/lib/cmake/modh/modhConfig.cmake"; then bad "modhConfig.cmake names the install prefix (not relocatable)"
else ok "modhConfig.cmake names no absolute path"; fi

# ---- the installed programs ----
if "$P/bin/mod-generate" "$MODEL" -p "And God" -n 8 >"$T/gen.out" 2>"$T/gen.err" &&
    [ "$(wc -c <"$T/gen.out")" -gt 12 ] && grep -q '^And God' "$T/gen.out"; then
    ok "installed mod-generate: $(head -n 1 "$T/gen.out")"
else bad "installed mod-generate: $(head -c 300 "$T/gen.err")"; fi
for p in mod-eval mod-convert mod-bench mod2c mod-tokenize mod-sweep; do
    "$P/bin/$p" --help >/dev/null 2>&1 && ok "installed $p --help" || bad "installed $p --help failed"
done
ids=$("$P/bin/mod-tokenize" "$MODEL" -p "And God said" --bos 2>&1)
[ "$("$P/bin/mod-tokenize" "$MODEL" --decode "$ids" 2>&1)" = "And God said" ] && ok "installed mod-tokenize: $ids decodes back" ||
    bad "installed mod-tokenize: \"$ids\" does not decode back"

# ---- pkg-config: a C and a C++ consumer built with cc and c++, warnings as errors ----
if have pkg-config "pkg-config consumers"; then
    export PKG_CONFIG_PATH="$P/lib/pkgconfig"
    [ "$(pkg-config --modversion modh 2>&1)" = "$version" ] && ok "pkg-config --modversion modh: $version" ||
        bad "pkg-config --modversion modh: $(pkg-config --modversion modh 2>&1)"
    flags=$(pkg-config --cflags --libs modh 2>&1)
    if echo " $flags " | grep -q -- " -I$P/include " && echo " $flags " | grep -q -- " -lm "; then
        ok "pkg-config --cflags --libs modh: $flags"
    else bad "pkg-config --cflags --libs modh: $flags"; fi
    [ "$(pkg-config --variable=openmp_flags modh)" = "-fopenmp" ] && [ "$(pkg-config --variable=native_flags modh)" = "-march=native" ] &&
        ok "modh.pc: openmp_flags and native_flags variables" || bad "modh.pc: openmp_flags/native_flags variables"
    if have cc "pkg-config C consumer"; then
        # shellcheck disable=SC2086
        if cc -std=c99 $W -O2 -o "$T/pc_c" tests/consumer/consumer.c $flags 2>"$T/err"; then
            ok "C consumer builds with cc and pkg-config"
            "$T/pc_c" "$MODEL" >"$T/pc_c.out" 2>&1; gen "pkg-config C consumer" "$T/pc_c.out"
        else bad "C consumer with pkg-config: $(head -c 600 "$T/err")"; fi
    fi
    if have c++ "pkg-config C++ consumer"; then
        # shellcheck disable=SC2086
        if c++ -std=c++11 $W -O2 -o "$T/pc_cxx" tests/consumer/consumer.cpp $flags 2>"$T/err"; then
            ok "C++ consumer builds with c++ and pkg-config"
            "$T/pc_cxx" "$MODEL" >"$T/pc_cxx.out" 2>&1; gen "pkg-config C++ consumer" "$T/pc_cxx.out"
            [ -f "$T/pc_c.out" ] && same "pkg-config C and C++ consumers" "$T/pc_c.out" "$T/pc_cxx.out"
        else bad "C++ consumer with pkg-config: $(head -c 600 "$T/err")"; fi
    fi
    unset PKG_CONFIG_PATH
fi

# ---- CMake: find_package(modh 0.1 REQUIRED), modh::modh, both consumers ----
if have cmake "CMake consumers" && have c++ "CMake consumers (C++)"; then
    if cmake -S tests/consumer -B "$T/cmk" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_FLAGS="$W" -DCMAKE_CXX_FLAGS="$W" >"$T/cmk.log" 2>&1 &&
        cmake --build "$T/cmk" >>"$T/cmk.log" 2>&1; then
        ok "CMake: find_package(modh 0.1 REQUIRED) and modh::modh build a C and a C++ consumer"
        dir=$(sed -n 's/^modh_DIR:PATH=//p' "$T/cmk/CMakeCache.txt")
        [ "$dir" = "$P/lib/cmake/modh" ] && ok "CMake found the package in the scratch prefix" || bad "CMake found modh in \"$dir\""
        grep -Eq -- "(-I|-isystem )$P/include( |\$)" "$T/cmk/CMakeFiles/consumer_c.dir/flags.make" &&
            ok "modh::modh carries the installed include directory" || bad "modh::modh: no $P/include in $(grep INCLUDES "$T/cmk/CMakeFiles/consumer_c.dir/flags.make")"
        grep -Eq -- '(^| )-lm( |$)' "$T/cmk/CMakeFiles/consumer_c.dir/link.txt" && ok "modh::modh links libm" || bad "modh::modh: no -lm in $(cat "$T/cmk/CMakeFiles/consumer_c.dir/link.txt")"
        "$T/cmk/consumer_c" "$MODEL" >"$T/cm_c.out" 2>&1; gen "CMake C consumer" "$T/cm_c.out"
        "$T/cmk/consumer_cxx" "$MODEL" >"$T/cm_cxx.out" 2>&1; gen "CMake C++ consumer" "$T/cm_cxx.out"
        same "CMake C and C++ consumers" "$T/cm_c.out" "$T/cm_cxx.out"
    else bad "CMake consumers: $(grep -i -A3 'error' "$T/cmk.log" | head -c 800)"; fi

    # The version rules (modhConfigVersion.cmake): 0.x takes the same major and minor version,
    # not older than asked; 1.0 and later the same major; a range takes what is inside it.
    mkdir "$T/v"
    printf 'cmake_minimum_required(VERSION 3.19)\nproject(v LANGUAGES NONE)\nfind_package(modh ${REQ} ${HOW} QUIET)\nmessage(STATUS "found=${modh_FOUND}")\n' >"$T/v/CMakeLists.txt"
    check_version() { # check_version REQUEST HOW EXPECTED: modh_FOUND, 1 or 0
        rm -rf "$T/v/b"
        got=$(cmake -S "$T/v" -B "$T/v/b" -DCMAKE_PREFIX_PATH="$P" -DREQ="$1" -DHOW="$2" 2>&1 | sed -n 's/^-- found=//p')
        [ "$got" = "$3" ] && ok "find_package(modh $1${2:+ $2}) with $version: found=$3" ||
            bad "find_package(modh $1${2:+ $2}) with $version: found=\"$got\", expected $3"
    }
    check_version "$maj.$min" "" 1
    check_version "$maj.$min.$pat" EXACT 1
    check_version "$maj.$min" EXACT 1
    check_version "$maj.$min.$((pat + 1))" "" 0
    check_version "$maj.$((min + 1))" "" 0
    check_version "$((maj + 1)).0" "" 0
    if [ "$min" -gt 0 ]; then
        [ "$maj" -eq 0 ] && older=0 || older=1
        check_version "$maj.$((min - 1))" "" "$older"
    fi
    check_version "$maj.$min...<$maj.$((min + 2))" "" 1
    check_version "$maj.$((min + 1))...$maj.$((min + 3))" "" 0
fi

# ---- a staged install (DESTDIR) moved elsewhere: CMake and pkg-config still find the header ----
if mk install DESTDIR="$T/stage" PREFIX=/opt/modh; then ok "make install DESTDIR=<scratch> PREFIX=/opt/modh"
else bad "make install DESTDIR: $(head -c 600 "$T/make.out")"; fi
[ "$(cd "$T/stage" && find . -mindepth 1 -maxdepth 2 | sort | tr '\n' ' ')" = "./opt ./opt/modh " ] &&
    [ "$(files "$T/stage/opt/modh")" = "$(files "$P")" ] && ok "DESTDIR: the same 9 files, all under DESTDIR/opt/modh" ||
    bad "DESTDIR tree: $(cd "$T/stage" && find . | tr '\n' ' ')"
grep -q '^prefix=/opt/modh$' "$T/stage/opt/modh/lib/pkgconfig/modh.pc" && ok "DESTDIR: modh.pc names PREFIX, not DESTDIR" ||
    bad "DESTDIR: modh.pc has $(grep '^prefix' "$T/stage/opt/modh/lib/pkgconfig/modh.pc")"
mv "$T/stage/opt/modh" "$T/moved"
if have pkg-config "pkg-config on a moved tree"; then
    flags=$(PKG_CONFIG_PATH="$T/moved/lib/pkgconfig" pkg-config --define-prefix --cflags modh 2>&1)
    case " $flags " in *" -I$T/moved/include "*) ok "moved tree: pkg-config --define-prefix gives -I<moved>/include" ;;
        *) bad "moved tree: pkg-config --define-prefix --cflags: $flags" ;; esac
fi
if have cmake "CMake on a moved tree" && have c++ "CMake on a moved tree (C++)"; then
    # this time with OpenMP, as docs/INSTALL.md shows it
    if cmake -S tests/consumer -B "$T/cmk2" -DCMAKE_PREFIX_PATH="$T/moved" -DCONSUMER_OPENMP=ON >"$T/cmk2.log" 2>&1 &&
        cmake --build "$T/cmk2" --target consumer_c >>"$T/cmk2.log" 2>&1; then
        dir=$(sed -n 's/^modh_DIR:PATH=//p' "$T/cmk2/CMakeCache.txt")
        [ "$dir" = "$T/moved/lib/cmake/modh" ] && ok "moved tree: CMake finds the package there" || bad "moved tree: CMake found modh in \"$dir\""
        "$T/cmk2/consumer_c" "$MODEL" >"$T/mv.out" 2>&1; gen "moved tree: CMake C consumer with OpenMP::OpenMP_C" "$T/mv.out"
        grep -q "^mod.h .*, C, OpenMP$" "$T/mv.out" && ok "moved tree: the consumer was compiled with OpenMP" || bad "moved tree: no OpenMP: $(head -n 1 "$T/mv.out")"
    else bad "CMake on the moved tree: $(grep -i -A3 'error' "$T/cmk2.log" | head -c 800)"; fi
fi

# ---- uninstall: exactly the installed files go; other packages' files and the standard
# directories stay, lib/cmake/modh goes ----
mkdir -p "$P/lib/cmake/other"
: >"$P/bin/other-tool"; : >"$P/include/other.h"; : >"$P/lib/cmake/other/otherConfig.cmake"
if mk uninstall PREFIX="$P"; then ok "make uninstall PREFIX=<scratch>"; else bad "make uninstall: $(head -c 600 "$T/make.out")"; fi
left=$(files "$P" | tr '\n' ' ')
[ "$left" = "./bin/other-tool ./include/other.h ./lib/cmake/other/otherConfig.cmake " ] &&
    ok "uninstall removed the 9 files and nothing else" || bad "after uninstall: $left"
[ ! -e "$P/lib/cmake/modh" ] && ok "uninstall removed lib/cmake/modh" || bad "lib/cmake/modh is still there"
[ -d "$P/bin" ] && [ -d "$P/include" ] && [ -d "$P/lib/pkgconfig" ] && ok "the standard directories stay" ||
    bad "uninstall removed a standard directory"
mk uninstall PREFIX="$P" && ok "make uninstall again: nothing to do, no error" || bad "second make uninstall: $(head -c 300 "$T/make.out")"
finish
