#!/bin/sh
# mod.h's NFC normalization (build/test_nfc) against Unicode's conformance test
# (NormalizationTest.txt of Debian's unicode-data, the version mod.h's tables come from) and
# Node's String.prototype.normalize("NFC") on the oracle texts and random strings.
. "$(dirname "$0")/lib.sh"
UCD=${UCD_DIR:-/usr/share/unicode}
if [ -f "$UCD/NormalizationTest.txt" ]; then cp "$UCD/NormalizationTest.txt" "$T/nt.txt"
elif [ -f "$UCD/NormalizationTest.txt.bz2" ] && have bzcat "Unicode's normalization conformance test"; then bzcat "$UCD/NormalizationTest.txt.bz2" >"$T/nt.txt"
elif [ "${CI:-}" = true ]; then bad "$UCD/NormalizationTest.txt(.bz2) is missing (.ci/run installs unicode-data)"
else echo "skip: Unicode's normalization conformance test ($UCD/NormalizationTest.txt is missing)"; fi
pairs=
if have node "Node's NFC on the oracle texts"; then
    node "$(dirname "$0")/nfc_oracle.js" >"$T/pairs" && pairs=$T/pairs || bad "tests/nfc_oracle.js failed"
fi
if [ -f "$T/nt.txt" ]; then
    # shellcheck disable=SC2086
    "$B/test_nfc" "$T/nt.txt" $pairs >"$T/out" 2>&1
    rc=$?
    grep -v '^[0-9]* passed, [0-9]* failed$' "$T/out"
    p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$T/out" | tail -n 1)
    f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$T/out" | tail -n 1)
    if [ -z "$p" ] || { [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; }; then bad "test_nfc did not finish (exit status $rc)"
    else pass=$((pass + p)); fail=$((fail + f)); fi
fi
finish
