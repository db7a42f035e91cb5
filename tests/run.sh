#!/bin/sh
# Runs every test program and the end-to-end program tests; sums their counts. Their own
# output is indented, so the last line is the only summary line at the start of a line.
# usage: tests/run.sh BUILD_DIR
B=${1:-build}
total_pass=0
total_fail=0
status=0
for t in tests/test_build.sh "$B"/test_kernels "$B"/test_amx "$B"/test_amx_pairwise "$B"/test_amx_emu "$B"/test_model "$B"/test_load "$B"/test_tokenizer "$B"/test_tokenizer_queue "$B"/test_tokenizer_nomalloc tests/test_nfc.sh tests/test_split_oracle.sh "$B"/test_ref_selfcheck "$B"/test_format "$B"/test_chat "$B"/test_svg "$B"/test_no_unicode "$B"/test_ggml_dequant "$B"/test_convert_hf "$B"/test_convert_llama2c "$B"/test_convert_modfile "$B"/test_convert_errors "$B"/test_convert_families "$B"/test_convert_gguf tests/test_programs.sh tests/test_sweep.sh tests/test_routing_view.sh tests/test_files.sh tests/test_models.sh tests/test_fixtures.sh tests/test_simd.sh tests/test_hf_tokenizers.sh tests/test_chat_templates.sh tests/test_chat_programs.sh tests/test_install.sh tests/test_pictures.sh tests/test_train.sh tests/test_plot.sh; do
    name=$(basename "$t")
    if [ ! -e "$t" ]; then
        echo "== $name: missing"
        total_fail=$((total_fail + 1)); status=1
        continue
    fi
    echo "== $name"
    case "$t" in
        *.sh) out=$(sh "$t" "$B" 2>&1) ;;
        *) out=$("$t" 2>&1) ;;
    esac
    rc=$?
    # indented, so that the one unindented "N passed, N failed" line is this run's total
    echo "$out" | grep -v '^ok ' | tail -n 25 | sed 's/^/   /'
    last=$(echo "$out" | tail -n 1)
    p=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        echo "   ($name did not report its counts; exit status $rc)"
        p=0; f=1
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
done
[ "$total_fail" -eq 0 ] || status=1
echo "$total_pass passed, $total_fail failed"
exit $status
