// The oracle of tests/test_hf_tokenizers.sh: a JavaScript port of Hugging Face tokenizers
// (@lenml/tokenizers, offline) encodes and decodes a few hundred varied texts with a real
// tokenizer.json.
//   node hf_oracle.js NODE_MODULES PACKAGE DIR   writes DIR/info ("vocab_size bos_id eos_id"),
//        DIR/N.txt (the texts),
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

// texts: fixed ones that probe the rules, then random ones glued from varied pieces
const fixed = [
    '', ' ', '  ', '   ', 'a', 'Hello world', ' Hello', 'Hello  world', 'Hello world ', '  leading and trailing  ',
    '\tTabs\tand\nnewlines\n\n', 'a\r\nb\rc', '\n', '\n\n\n\n', '\t\t\t', '          x', 'x          ',
    "I'm sure they'll say we've done what you'd do, isn't it? DON'T", "rock 'n' roll, o'clock, 'quoted'",
    '1234567890', '3.14159 2,718 1,000,000 0x1F 1e-9', '2024-01-31T12:34:56Z', '١٢٣ ４５６ ⅷ',
    'def f(x):\n    return x**2 + 1\n', 'for (int i = 0; i < n; i++) { a[i] = b[i] * 2; }',
    '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); }', '<div class="a">x &amp; y</div>',
    'SELECT * FROM t WHERE id = 7;', '$ echo "hi" | wc -c && ls -la ~/.config', '{"key": [1, 2.5, null, true]}',
    '😀', '👍🏽 👨‍👩‍👧‍👦 🇫🇷', '日本語のテキストです。', '中文文本，标点符号！', '한국어 텍스트', 'Ελληνικά κείμενα',
    'Русский текст, ёжик.', 'العربية نص', 'हिन्दी पाठ', 'ภาษาไทย', 'עברית', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐛𝐨𝐥𝐝',
    'e\u0301 a\u0308 n\u0303 \u0041\u030A', 'Z\u0351\u0358a\u0362l\u0337g\u0328o', 'a\u00a0b\u2003c\u3000d\u2009e\u202ff',
    'zero\u200bwidth\u200d\u200cjoin', '\ufeffbom', 'soft\u00adhyphen', 'ctrl\u0001\u0007\u001b[0m', 'nul\u0000byte',
    '\u2581', '\u2581\u2581x', 'a\u2581b c', ' \u2581 ', '▁literal▁ ▁',
    '<s>', '</s>', '<unk>', '<s>Hello</s>', ' <s> ', '<s><s>', '<<s>>', '<s >', '<S>', '< s>', '</s>x</s>',
    '<bos>', '<eos>', '<pad>', '<mask>', '<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n',
    '<0x41>', '<0x0A>', '<0xZZ>', '<h1>Title</h1>', '<table><tr><td>1</td></tr></table>', '<b>bold</b> <i>it</i>',
    '[INST] hi [/INST]', '<<SYS>>\nbe brief\n<</SYS>>', '<|im_start|>user\nhi<|im_end|>', '<unused0><unused99>',
    '~!@#$%^&*()_+`-=[]\\{}|;\':",./<>?', '....', '!!!???', '—–-‐', '«quotes» „low” ‘single’ “double”',
    '€100 £50 ¥1000 ₹20 ₿', '½ ¾ ² ³ µ', 'ﬁ ﬂ ﬀ', 'ＡＢＣ ａｂｃ', 'ß ẞ İ ı', 'Ǆ ǅ ǆ',
    // where JavaScript's \s and Oniguruma's differ, and (?i:'s) with long s
    'a\ufeff b', ' \ufeff\ufeffx', 'x \u0085y', '\u0085\u0085 z\u0085', '\ufeff', '\u0085', "it'ſ IT'S it'Ll we'RE", "'ſ 'ß 'ﬆ",
    // normalization (NFC): decomposed, singletons, exclusions, ordering, Hangul, non-starters first
    'Cafe\u0301 cre\u0300me bru\u0302le\u0301e', 'A\u030a \u212b \u2126 \u212a', 'a\u0323\u0302 a\u0302\u0323 \u1ea1\u0302',
    '\u0958\u0959 \ufb1d \u2adc\u0338 \u0f73 \u0f75 \u0f81 \u0344 \u0340\u0341\u0343', '\u0301\u0301leading marks',
    '\u1100\u1161\u11a8 \u1100\u1161 \uac00\u11a8 \u1112\u1161\u11ab\u1100\u1173\u11af', 'q\u0307\u0323 \u1e0b\u0323 \u1e0d\u0307',
    'o\u031b\u0301 \u01a1\u0301 \u1edb', '\u0b47\u0b3e \u0b47\u0b57 \u0dd9\u0dcf\u0dca', '\u00c5\u0301 \u00e9\u0327 \u0386 \u1f71',
    'x\u0300\u0315\u0300\u05ae\u0301', '\u3099\u304b\u3099 \u30cf\u309a', '\ud834\udd5e \ud834\udd60', '\uf900 \uf9ff \ufa10 \ud87e\udc00',
    // Qwen's and Llama 3's added tokens, and look-alikes
    '<think>', '</think>', '<think>\nplan\n</think>\n\nanswer', '<think></think>', '<think >', '<Think>', '<think', 'think>', '<<think>>',
    'a<think>b', ' <think> ', '<tool_call>{"name": "f"}</tool_call>', '<tool_response>ok</tool_response>', '<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>',
    '<|im_start|>system\nx<|im_end|>\n', '<|endoftext|>', '<|begin_of_text|>Hi', '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
    '<|reserved_special_token_0|>', '<|im_start|', '|im_end|>', '<|file_sep|><|repo_name|>',
];
let seed = 12345;
function rnd(n) { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; }
const pieces = ['the', 'The', ' ', '  ', '\n', '\t', 'ing', 'tion', 'Hello', 'world', 'a', 'I', "'s", "'ll", "n't",
    '0', '12', '345', '.', ',', '!', '?', '-', '_', '(', ')', '"', '<', '>', '/', '<s>', '</s>', '<bos>', '<h1>',
    'é', 'ñ', 'ü', 'ø', '日本', '中', '한', 'Ж', 'λ', 'ب', '😀', '🙂', '\u0301', '\u00a0', '\u3000', '\u2581',
    'http://x.io/a?b=c', 'foo_bar', 'camelCase', 'x=1;', '\r\n', '    ', '\u200b', '\n\n',
    '<think>', '</think>', '<|im_end|>', '<|eot_id|>', 'e\u0301', '\u0323', '\u1100\u1161', '\u212b', '\ufeff', '\u0085'];
const texts = fixed.slice();
while (texts.length < fixed.length + 260) {
    let t = '';
    const n = 1 + rnd(12);
    for (let i = 0; i < n; i++) {
        if (rnd(8) === 0) t += String.fromCodePoint(0x20 + rnd(0x2fff)); // a random BMP character
        else t += pieces[rnd(pieces.length)];
    }
    texts.push(t.replace(/[\ud800-\udfff]/g, 'x'));
}

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
