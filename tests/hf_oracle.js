// The oracle of tests/test_hf_tokenizers.sh: a JavaScript port of Hugging Face tokenizers
// (@lenml/tokenizers, offline) encodes and decodes a few hundred varied texts with a real
// tokenizer.json.
//   node hf_oracle.js NODE_MODULES PACKAGE DIR   writes DIR/info ("vocab_size bos_id eos_id"),
//        DIR/N.txt (the texts of tests/hf_texts.js),
//        DIR/cases.tsv (N, mode: -, bos (when the tokenizer adds one) or special, the ids) and DIR/decode.tsv (name, ids;
//        the decoded text in DIR/name.dec): the first texts one by one, then the ids of 25
//        texts at a time joined
// Without "special" the special tokens are matched nowhere in the text, as
// split_special_tokens=True has it (the port has no such switch: its splitter and its map of
// whole-piece matches are rebuilt from the other added tokens).
'use strict';
const fs = require('fs');
const path = require('path');
const [nm, pkg, dir] = process.argv.slice(2);
const { TokenizerLoader } = require(path.join(nm, '@lenml/tokenizers'));
const tokJSON = require(path.join(nm, pkg, 'models/tokenizer.json'));
const tokConfig = require(path.join(nm, pkg, 'models/tokenizer_config.json'));

// The port runs a Split pre-tokenizer's regex as a JavaScript RegExp (flags "gu"), which
// differs from Oniguruma, the engine Hugging Face tokenizers (Rust) uses by default:
// - JavaScript's \s is WhiteSpace and LineTerminator, which has U+FEFF and lacks U+0085;
//   Oniguruma's \s (Unicode) is the White_Space property, which has U+0085 and lacks U+FEFF.
//   \s and \S become \p{White_Space} and \P{White_Space} (also inside [...]).
// - JavaScript has no (?i:...) group; the port rewrites Llama 3's and Qwen2's
//   (?i:'s|'t|'re|'ve|'m|'ll|'d) into ASCII case pairs, but Oniguruma's case-insensitive
//   match follows Unicode case folding, where U+017F (long s) folds to s as well (and nothing
//   else folds to t, r, e, v, m, l or d; U+00DF and U+FB05/U+FB06 fold to two letters, which
//   a single letter of the pattern does not match). The group is rewritten here with U+017F.
// The tokenizer.json given to mod-convert is the package's file, unchanged.
// What stays JavaScript's: \p{L}, \p{N}, \p{White_Space} and normalize('NFC') follow the
// Unicode version of Node's ICU (process.versions.unicode; 17.0 in Debian's Node 20), Hugging
// Face's Oniguruma and normalization crate their own versions, and mod.h 15.0. On a code point
// assigned or changed between those versions no single oracle is right for all three; the
// fixed texts have none, and the random ones (a fixed seed) happen to draw none.
function onigToJs(re) {
    re = re.replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", "(?:'(?:[sS\u017F]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))");
    if (/\(\?i/.test(re)) throw new Error('oracle: a case-insensitive group it cannot translate: ' + re);
    return re.replace(/\\\\|\\s|\\S/g, (m) => (m === '\\s' ? '\\p{White_Space}' : m === '\\S' ? '\\P{White_Space}' : m));
}
(function fix(node) {
    if (Array.isArray(node)) node.forEach(fix);
    else if (node && typeof node === 'object') {
        if (node.type === 'Split' && node.pattern && typeof node.pattern.Regex === 'string') node.pattern.Regex = onigToJs(node.pattern.Regex);
        Object.values(node).forEach(fix);
    }
})(tokJSON.pre_tokenizer);
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tokJSON, tokenizerConfig: tokConfig });
const plain = Object.create(tok);
plain.added_tokens_splitter = new tok.added_tokens_splitter.constructor(
    tok.added_tokens.filter((t) => !t.special).map((t) => t.content));
plain.added_tokens_map = new Map(tok.added_tokens.filter((t) => !t.special).map((t) => [t.content, t]));

fs.mkdirSync(dir, { recursive: true });
let hasBos = false;
{
    let v = 0;
    for (const id of Object.values(tokJSON.model.vocab)) v = Math.max(v, id + 1);
    for (const t of tokJSON.added_tokens) v = Math.max(v, t.id + 1);
    const bos = tok.encode('', { add_special_tokens: true });
    hasBos = bos.length > 0;
    fs.writeFileSync(path.join(dir, 'info'), [v, bos.length ? bos[0] : -1, tok.eos_token_id ?? -1].join(' ') + '\n');
}

const texts = require('./hf_texts.js');

const lines = [], decodes = [];
function decode(name, ids) {
    const text = ids.length ? tok.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }) : '';
    fs.writeFileSync(path.join(dir, name + '.dec'), text);
    decodes.push(name + '\t' + ids.join(','));
}
let joined = [];
texts.forEach((text, n) => {
    fs.writeFileSync(path.join(dir, n + '.txt'), text);
    const ids = plain.encode(text, { add_special_tokens: false });
    lines.push(n + '\t-\t' + ids.join(','));
    // (a tokenizer that adds no BOS, as Llama 3's and Qwen 3's here, has no such cases)
    if (n % 3 === 0 && hasBos) lines.push(n + '\tbos\t' + plain.encode(text, { add_special_tokens: true }).join(','));
    if (/[<\[]/.test(text) || n % 5 === 0) lines.push(n + '\tspecial\t' + tok.encode(text, { add_special_tokens: false }).join(','));
    if (n < 60) decode('t' + n, ids);
    else {
        joined = joined.concat(ids);
        if (n % 25 === 0 || n === texts.length - 1) { decode('j' + n, joined); joined = []; }
    }
});
fs.writeFileSync(path.join(dir, 'cases.tsv'), lines.join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'decode.tsv'), decodes.join('\n') + '\n');
console.log(texts.length, 'texts,', lines.length, 'cases,', decodes.length, 'decodings');
