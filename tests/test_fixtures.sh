#!/bin/sh
# Every PyTorch fixture (tests/fixtures, written by tools/reference/make_fixtures.py) converted
# with mod-convert and evaluated with the library, against the reference logits:
#   f32 storage: max |diff| <= 1e-4 x max |logit| (top-k, causal, causal one token at a time);
#   f16 storage: 1e-2, bf16 storage: 5e-2 (the weights themselves are rounded); q8_0 storage:
#   1e-1, on the dense fixture and the simplest routed one only: int8 noise in the activations
#   can legitimately flip a top-k selection whose router margin is small (the fixtures keep
#   margins of only 1e-3), which changes the logits of a token completely.
. "$(dirname "$0")/lib.sh"
for dir in tests/fixtures/*/; do
    name=$(basename "$dir")
    [ -f "$dir/tokens.txt" ] || continue
    args=""; [ -f "$dir/convert_args.txt" ] && args=$(cat "$dir/convert_args.txt")
    toks=$(cat "$dir/tokens.txt")
    for dt in f32 f16 bf16 q8_0; do
        [ $dt = q8_0 ] && [ $name != tok_bpe_list ] && [ $name != basic ] && continue
        tol=1e-4; [ $dt = f16 ] && tol=1e-2; [ $dt = bf16 ] && tol=5e-2; [ $dt = q8_0 ] && tol=1e-1
        # shellcheck disable=SC2086
        if ! "$B/mod-convert" "$dir" -o "$T/$name.$dt.mod" --dtype $dt --quiet $args >"$T/out" 2>&1; then
            bad "$name: mod-convert --dtype $dt: $(head -c 300 "$T/out")"; continue
        fi
        for rule in topk causal incremental; do
            [ $dt != f32 ] && [ $rule = incremental ] && continue
            ref=$rule; [ $rule = incremental ] && ref=causal
            opt="--routing $rule"; [ $rule = incremental ] && opt="--incremental"
            # shellcheck disable=SC2086
            if "$B/mod-eval" "$T/$name.$dt.mod" --tokens "$toks" $opt --dump-logits "$T/l.bin" >/dev/null 2>"$T/err" &&
               "$B/compare_logits" "$T/l.bin" "$dir/logits_$ref.bin" $tol >"$T/out" 2>&1; then
                ok "$name $dt $rule: $(cat "$T/out")"
            else
                bad "$name $dt $rule: $(cat "$T/out" "$T/err" | head -c 300)"
            fi
        done
    done
    if [ -f "$dir/tokenize_cases.txt" ]; then
        if "$B/check_tokens" "$T/$name.f32.mod" "$dir/tokenize_cases.txt" >"$T/out" 2>&1; then ok "$name tokenizer: $(tail -n 1 "$T/out")"
        else bad "$name tokenizer: $(head -c 400 "$T/out")"; fi
    fi
done
finish
