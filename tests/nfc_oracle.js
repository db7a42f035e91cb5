// The Node side of tests/test_nfc.sh: String.prototype.normalize('NFC') (ICU's) of the texts
// of tests/hf_texts.js and of 4000 random strings drawn from the blocks where normalization
// does something (combining marks, Indic and Tibetan vowel signs, Hangul jamo and syllables,
// precomposed Latin and Greek, kana voicing marks, compatibility ideographs, musical symbols)
// and from all of Unicode. Each line: the text's UTF-8 in hex, a tab, its NFC's UTF-8 in hex.
// Node's ICU may know a later Unicode than mod.h's 15.0 (process.versions.unicode); the strings
// come from a fixed seed and draw no code point whose normalization changed after 15.0.
//   node nfc_oracle.js > PAIRS
'use strict';
const texts = require('./hf_texts.js');
const ranges = [
    [0x41, 0x7a], [0xc0, 0x24f], [0x300, 0x36f], [0x370, 0x3ff], [0x591, 0x5c7], [0x610, 0x65f],
    [0x900, 0xdff], [0xf00, 0xfff], [0x1100, 0x11ff], [0xac00, 0xd7a3], [0x1e00, 0x1fff], [0x2000, 0x2bff],
    [0x3040, 0x30ff], [0xf900, 0xfaff], [0xfb1d, 0xfb4f], [0x1d15e, 0x1d1c0], [0x2f800, 0x2fa1d], [0x0, 0x10ffff],
];
let seed = 4242;
function rnd(n) { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; }
const all = texts.slice();
while (all.length < texts.length + 4000) {
    let s = '';
    const n = 1 + rnd(8);
    for (let i = 0; i < n; i++) {
        const r = ranges[rnd(ranges.length)];
        let cp = r[0] + rnd(r[1] - r[0] + 1);
        if (r[1] - r[0] >= 0x10000) cp = rnd(0x10000) | (rnd(17) << 16); // rnd covers 2^24 at most
        if (cp >= 0xd800 && cp < 0xe000) cp = 0x20;
        s += String.fromCodePoint(cp);
    }
    all.push(s);
}
const hex = (s) => Buffer.from(s, 'utf8').toString('hex');
process.stdout.write(all.map((s) => hex(s) + '\t' + hex(s.normalize('NFC'))).join('\n') + '\n');
