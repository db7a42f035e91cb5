// The oracle of tests/test_hf_tokenizers.sh: a JavaScript port of Hugging Face tokenizers
// (@lenml/tokenizers, offline) encodes and decodes a few hundred varied texts with a real
// tokenizer.json.
//   node hf_oracle.js NODE_MODULES PACKAGE DIR   writes DIR/info ("vocab_size bos_id eos_id"),
//        DIR/N.txt (the texts),
//        DIR/cases.tsv (N, mode: -, bos or special, the ids) and DIR/decode.tsv (name, ids;
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
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tokJSON, tokenizerConfig: tokConfig });
const plain = Object.create(tok);
plain.added_tokens_splitter = new tok.added_tokens_splitter.constructor(
    tok.added_tokens.filter((t) => !t.special).map((t) => t.content));
plain.added_tokens_map = new Map(tok.added_tokens.filter((t) => !t.special).map((t) => [t.content, t]));

fs.mkdirSync(dir, { recursive: true });
{
    let v = 0;
    for (const id of Object.values(tokJSON.model.vocab)) v = Math.max(v, id + 1);
    for (const t of tokJSON.added_tokens) v = Math.max(v, t.id + 1);
    const bos = tok.encode('', { add_special_tokens: true });
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
];
let seed = 12345;
function rnd(n) { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; }
const pieces = ['the', 'The', ' ', '  ', '\n', '\t', 'ing', 'tion', 'Hello', 'world', 'a', 'I', "'s", "'ll", "n't",
    '0', '12', '345', '.', ',', '!', '?', '-', '_', '(', ')', '"', '<', '>', '/', '<s>', '</s>', '<bos>', '<h1>',
    'é', 'ñ', 'ü', 'ø', '日本', '中', '한', 'Ж', 'λ', 'ب', '😀', '🙂', '\u0301', '\u00a0', '\u3000', '\u2581',
    'http://x.io/a?b=c', 'foo_bar', 'camelCase', 'x=1;', '\r\n', '    ', '\u200b', '\n\n'];
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
    if (n % 3 === 0) lines.push(n + '\tbos\t' + plain.encode(text, { add_special_tokens: true }).join(','));
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
