#!/bin/sh
# mod-tokenize against Hugging Face tokenizers: real tokenizer.json files (Llama 2-style and
# Gemma 3 SentencePiece-style BPE, Llama 3 and Qwen 3 byte-level BPE, the latter with the NFC
# normalizer and non-special added tokens; from the npm registry) converted with mod-convert into
# small checkpoints, and the ids and decoded text of a few hundred varied texts compared with a
# JavaScript port of Hugging Face tokenizers run offline in Node (tests/hf_oracle.js).
# The npm packages live outside the repository: $MODH_NPM, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/modh-npm (.ci/run installs them there).
. "$(dirname "$0")/lib.sh"
NM=${MODH_NPM:-${XDG_CACHE_HOME:-$HOME/.cache}/modh-npm}/node_modules
ORACLE=$(dirname "$0")/hf_oracle.js

if have node "Hugging Face tokenizer oracle"; then
    if [ ! -f "$NM/@lenml/tokenizers/package.json" ]; then
        if [ "${CI:-}" = true ]; then bad "the oracle's npm packages are not in $NM (.ci/run installs them)"
        else echo "skip: Hugging Face tokenizer oracle (npm packages not in $NM)"; fi
    else
        for pkg in tokenizer-llama2 tokenizer-gemma3 tokenizer-llama3 tokenizer-qwen3; do
            dir=$NM/@lenml/$pkg
            if [ ! -f "$dir/models/tokenizer.json" ]; then bad "$pkg: not installed in $NM"; continue; fi
            ck=$T/$pkg
            node "$ORACLE" "$NM" "@lenml/$pkg" "$ck/cases" >/dev/null || { bad "$pkg: the oracle failed"; continue; }
            # the checkpoint: the tokenizer's vocab size, its BOS and EOS, tiny random weights
            set -- $(cat "$ck/cases/info")
            "$B/hf_ckpt" "$ck" "$1" "$2" "$3" && cp "$dir/models/tokenizer.json" "$ck/" || { bad "$pkg: checkpoint"; continue; }
            if "$B/mod-convert" "$ck" -o "$ck/model.mod" >"$T/out" 2>"$T/err"; then ok "$pkg: mod-convert takes its tokenizer.json"
            else bad "$pkg: mod-convert: $(head -c 400 "$T/err")"; continue; fi
            # encoding: one run per mode over all its texts, a line of ids each
            n=0; enc_bad=0
            for mode in - bos special; do
                case $mode in bos) opt=--bos ;; special) opt=--special ;; *) opt= ;; esac
                awk -F '\t' -v m="$mode" '$2 == m { print $1 }' "$ck/cases/cases.tsv" >"$T/ids"
                awk -F '\t' -v m="$mode" '$2 == m { print $3 }' "$ck/cases/cases.tsv" >"$T/want"
                [ -s "$T/ids" ] || continue # no BOS cases for a tokenizer that adds none
                set --
                while read -r i; do set -- "$@" --text "$ck/cases/$i.txt"; done <"$T/ids"
                "$B/mod-tokenize" "$ck/model.mod" $opt "$@" >"$T/got" 2>"$T/err" || bad "$pkg ($mode): mod-tokenize: $(head -c 300 "$T/err")"
                n=$((n + $(wc -l <"$T/want")))
                paste "$T/ids" "$T/got" "$T/want" >"$T/cmp"
                while IFS="$(printf '\t')" read -r i got want; do
                    [ "$got" = "$want" ] && continue
                    enc_bad=$((enc_bad + 1))
                    [ $enc_bad -le 5 ] && bad "$pkg: text $i ($mode) \"$(head -c 80 "$ck/cases/$i.txt")\": ids $got, Hugging Face $want"
                done <"$T/cmp"
            done
            [ $enc_bad -eq 0 ] && ok "$pkg: the ids of all $n cases are Hugging Face's" || bad "$pkg: $enc_bad of $n cases encode differently"
            [ $n -ge 300 ] && ok "$pkg: $n cases compared" || bad "$pkg: only $n cases"
            # decoding: the first texts one by one, then many texts' ids joined
            d=0; dec_bad=0
            while IFS="$(printf '\t')" read -r name ids; do
                d=$((d + 1))
                "$B/mod-tokenize" "$ck/model.mod" --decode "$ids" >"$T/dec" 2>&1
                cmp -s "$T/dec" "$ck/cases/$name.dec" && continue
                dec_bad=$((dec_bad + 1))
                [ $dec_bad -le 5 ] && bad "$pkg: $name decoded \"$(head -c 80 "$T/dec")\", Hugging Face \"$(head -c 80 "$ck/cases/$name.dec")\""
            done <"$ck/cases/decode.tsv"
            [ $dec_bad -eq 0 ] && ok "$pkg: all $d decodings are Hugging Face's" || bad "$pkg: $dec_bad of $d decodings differ"
        done
    fi
fi
finish
