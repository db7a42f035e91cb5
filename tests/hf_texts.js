// The texts of tests/hf_oracle.js (and tests/nfc_oracle.js): fixed ones that probe the rules
// of the tokenizers and of normalization, then random ones glued from varied pieces, the same
// every run.
'use strict';
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
    'a\ufeff b', ' \ufeff\ufeffx', 'x \u0085y', '\u0085\u0085 z\u0085', '\ufeff', '\u0085', "it'ſ IT'S it'Ll we'RE", "'ſ 'ß 'ﬆ", "they'ſt 'ſx 'ſ'ſ", '\ufeff\ufeffword \ufeff', 'x\u0085\u0085y\u0085 \u0085',
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

module.exports = texts;
