// The Llama 3 and Qwen2 split patterns of mod.h (pretokenizers 2 and 3) against Node's own
// RegExp with the u flag, whose \p{L}, \p{N} and \p{White_Space} stand in for the Hugging Face
// tokenizers regex (Oniguruma). JavaScript has no (?i:...) groups, so the case-insensitive
// contractions are spelled out, with U+017F (long s), which case-folds to s. \s is written
// \p{White_Space}: JavaScript's \s also takes U+FEFF and misses U+0085.
// Invalid UTF-8: mod.h counts each byte that does not start a well-formed sequence as one
// character of class other; here such a byte is U+FFFD, also of class other.
// Usage: node tests/split_oracle.js build/split_pieces
'use strict';
const { execFileSync } = require('child_process');
const prog = process.argv[2];
if (!prog) { console.error('usage: split_oracle.js SPLIT_PIECES'); process.exit(2); }

const S = '\\p{White_Space}', NS = '\\P{White_Space}';
const contractions = "'[sS\\u017F]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]";
const body = digits => `${contractions}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}${digits}| ?[^${S}\\p{L}\\p{N}]+[\\r\\n]*|` +
    `${S}*[\\r\\n]+|${S}+(?!${NS})|${S}+`;
const patterns = { 2: new RegExp(body('{1,3}'), 'gu'), 3: new RegExp(body(''), 'gu') };

// Hugging Face's Split with behavior Isolated: every match is a piece, and so is every gap
// between matches (there are none with these patterns, but an oracle should not assume it).
function oracle(re, s) {
    const ends = [];
    let last = 0, m;
    re.lastIndex = 0;
    const cp = i => [...s.slice(0, i)].length;
    while ((m = re.exec(s)) !== null) {
        if (m[0].length === 0) { re.lastIndex++; continue; }
        if (m.index > last) ends.push(cp(m.index));
        last = m.index + m[0].length;
        ends.push(cp(last));
    }
    if (last < s.length) ends.push(cp(s.length));
    return ends.join(',');
}

// ---- texts: segments, each a string or {raw: [bytes]} (ill-formed UTF-8) -------------------
let seed = 0x2545F491;
function rnd(n) { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed % n; }
const pick = a => a[rnd(a.length)];
const range = (a, b) => String.fromCodePoint(a + rnd(b - a + 1));
const raws = [[0xFF], [0x80], [0xBF, 0x80], [0xC0, 0xAF], [0xC3], [0xE4, 0xBD], [0xED, 0xA0, 0x80],
    [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x9F, 0x98], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE0, 0x80, 0xAF], [0xC2]];
// Only characters whose classes are the same in Unicode 15.0 (mod.h's table) and in Node's
// newer data: long-assigned blocks.
const atoms = [
    () => pick(['a', 'Z', 'word', 'Hello', 'THE', 'x', 'éclair', 'naïve', 'Straße', 'ÆØÅ', 'ſ', 'İstanbul']),
    () => pick([' ', '  ', '   ', '\t', '\n', '\r\n', '\n\n', '\r', ' \n', '\n ', '\t\t', '\v', '\f', ' \r\n ']),
    () => pick(['\u00A0', '\u2003', '\u3000', '\u0085', '\u1680', '\u2000', '\u200A', '\u2028', '\u2029', '\u202F', '\u205F']),
    () => pick(['\u200B', '\uFEFF', '\u180E', '\u200D', '\u00AD']),  // not White_Space
    () => pick(["'s", "'S", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'lL", "'d", "'D", "'ſ", "'", "''", "'x", "'r", "'l"]),
    () => pick(['0', '7', '12', '123', '1234', '12345678', '3.14', '1,000', '٠١٢٣', '०१२', '１２３', 'Ⅻ', 'ⅷ', '²³', '½', '①②', '𝟘𝟙', '〇', '六']),
    () => pick(['(', ')', '{', '}', ';', '...', '!?', '->', '==', '#', '"', '`', '—', '…', '«', '»', '¿', '_', '@', '$', '%', '\\', '/']),
    () => pick(['int main(void) {\n    return 0;\n}\n', 'x += y[i] * 2;', 'if (a && b) { f(); }', 'def f(x):\n\treturn x**2\n',
        '<div class="a">', 'foo_bar.baz()', '// comment\r\n', 'a=1;b=2', '    indented', '\n\n\n']),
    () => pick(['😀', '👍🏽', '👨‍👩‍👧', '🏳️‍🌈', '🇫🇷', '❤️', '✨', '🤖', '☕', '1️⃣']),
    () => pick(['中文', '你好世界', '日本語', 'ひらがな', 'カタカナ', '한국어', '漢字テスト', '。', '、', '「引用」']),
    () => pick(['e\u0301', 'a\u0308\u0304', '\u0301', 'n\u0303o', 'क्षि', 'नमस्ते', 'مرحبا', 'שלום', 'Ελληνικά', 'Привет', 'ไทย', '\u0300\u0301x']),
    () => range(0x21, 0x7E), () => range(0xA0, 0x17F), () => range(0x370, 0x3FF).replace(/[\u0378\u0379\u0380-\u0383\u038B\u038D\u03A2]/u, 'a'),
    () => range(0x400, 0x4FF), () => range(0x4E00, 0x9FA5), () => range(0xAC00, 0xD7A3), () => range(0x2000, 0x206F).replace(/[\u2065]/u, ' '),
    () => range(0x1F600, 0x1F64F), () => range(0x2460, 0x24FF), () => range(0x3000, 0x303F), () => range(0xFF01, 0xFF5E),
];
function text() {
    const n = 1 + rnd(12), segs = [];
    for (let k = 0; k < n; k++) {
        if (rnd(10) === 0 && !(segs.length && segs[segs.length - 1].raw)) segs.push({ raw: pick(raws) });
        else segs.push(pick(atoms)());
    }
    return segs;
}
const fixed = [
    [''], ['a'], [' '], ['\n'], ['  '], ['   a'], ['a   '], ['  \n  '], ['\r\n\r\n'], [' \r\n  x'], ['\t\tfoo'], ['\u3000\u3000x'],
    ['\u00A0x'], ['x \u00A0 y'], ["I'm"], ["I'M"], ["don't"], ["DON'T"], ["we'll"], ["WE'LL"], ["they're"], ["THEY'RE"],
    ["it's"], ["IT'S"], ["'S"], ["'ſ"], ["'ll'"], ["''s"], [" 's"], ['1234567'], ['12 345'], ['x1y22z333'], ['٣٤٥٦'],
    ['Hello, world!'], ['Hello,\n\nworld!\n'], ['a.\r\n\r\nb'], ['...\n'], ['!!!\r\n\r\n  '], ['  !!'], [' !!'], ['!!  '],
    ['def f():\n    return 1\n'], ['👨‍👩‍👧‍👦 family'], ['\u200Dx'], ['\u0301abc'], ['x\u0301y'], ['😀😀'], [' 😀'],
    [{ raw: [0xFF] }], [{ raw: [0xE4, 0xBD] }, 'a'], ['a', { raw: [0x80] }, 'b'], [' ', { raw: [0xFF] }, '\n'],
    [{ raw: [0xED, 0xA0, 0x80] }], ['x', { raw: [0xC3] }], ['\n', { raw: [0xFF] }, 'word'], ['\u0085\u0085x'], ['\v\fx'],
];
function encode(segs) {
    const bufs = [];
    let str = '';
    for (const g of segs) {
        if (typeof g === 'string') { bufs.push(Buffer.from(g, 'utf8')); str += g; }
        else { bufs.push(Buffer.from(g.raw)); str += '\uFFFD'.repeat(g.raw.length); }
    }
    return { bytes: Buffer.concat(bufs), str };
}

let pass = 0, fail = 0;
const texts = fixed.concat(Array.from({ length: 400 }, text)).map(encode);
for (const pt of [2, 3]) {
    const input = texts.map(t => t.bytes.toString('hex')).join('\n') + '\n';
    const got = execFileSync(prog, [String(pt)], { input, maxBuffer: 1 << 26 }).toString().split('\n');
    texts.forEach((t, k) => {
        const want = oracle(patterns[pt], t.str);
        if (got[k] === want) { pass++; return; }
        fail++;
        if (fail <= 20) console.log(`FAIL: pretokenizer ${pt}, text ${JSON.stringify(t.str)} (hex ${t.bytes.toString('hex')}): mod.h ends ${got[k]}, oracle ${want}`);
    });
    console.log(`ok pretokenizer ${pt}: ${texts.length} texts compared`);
}

// The class table over every code point: mod.h's class must equal Node's, except where Node's
// newer Unicode data has assigned a letter or number that Unicode 15.0 leaves unassigned
// (other in mod.h). At most this many such code points (16.0 and 17.0 added 9,988 characters).
const runs = execFileSync(prog, ['classes'], { maxBuffer: 1 << 26 }).toString().trim().split('\n').map(l => l.split(' ').map(Number));
const L = /\p{L}/u, N = /\p{N}/u, W = /\p{White_Space}/u;
let newer = 0, wrong = 0;
for (let r = 0; r < runs.length; r++) {
    const [start, cls] = runs[r], end = r + 1 < runs.length ? runs[r + 1][0] : 0x110000;
    for (let cp = start; cp < end; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const ch = String.fromCodePoint(cp);
        const js = W.test(ch) ? 0 : L.test(ch) ? 1 : N.test(ch) ? 2 : 3;
        if (js === cls) continue;
        if (cls === 3 && js !== 0) { newer++; continue; }
        if (++wrong <= 10) console.log(`FAIL: U+${cp.toString(16).toUpperCase()}: mod.h class ${cls}, Node ${js}`);
    }
}
if (wrong === 0 && newer <= 10000) { pass++; console.log(`ok class table: every code point agrees but ${newer} assigned after Unicode 15.0`); }
else { fail++; console.log(`FAIL: class table: ${wrong} code points disagree, ${newer} newer letters or numbers`); }
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
