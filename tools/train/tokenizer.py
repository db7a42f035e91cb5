#!/usr/bin/python3
"""Byte-level BPE tokenizer: training, encoding, decoding, tokenizer.json.

Pretokenization is GPT-2's pattern with ASCII character classes, exactly as mod.h implements
it. At each position the first of these that matches is one piece:
  the contractions 's 't 're 've 'm 'll 'd;
  an optional space followed by letters;  an optional space followed by digits;
  an optional space followed by other non-space bytes;
  a run of whitespace not followed by a non-space byte (the last space before a word stays
  with the word);  any other run of whitespace.
Letters are A-Z a-z and every byte >= 0x80; whitespace is space \\t \\n \\v \\f \\r.
Within a piece, merges apply by rank: lowest rank first, leftmost on ties.

Vocabulary: ids 0..255 are the 256 bytes (in byte order), then one id per merge in rank order,
then the special token <|endoftext|>. Token strings in tokenizer.json use GPT-2's
byte-to-unicode mapping (Hugging Face layout).

Training: the most frequent adjacent pair over the training text's pieces is merged, ties broken
by the smaller (left id, right id); pieces never merge across each other.

    tokenizer.py --train build/train/data/train.jsonl --vocab 4096 -o build/train/tokenizer.json
"""
import argparse, collections, json, sys

EOT = "<|endoftext|>"


def _cls(c):
    if c == 32 or 9 <= c <= 13:
        return 0  # space
    if 97 <= c <= 122 or 65 <= c <= 90 or c >= 0x80:
        return 1  # letter
    if 48 <= c <= 57:
        return 2  # digit
    return 3      # other


_CLS = [_cls(c) for c in range(256)]


def pretokenize(b):
    """Split bytes b into GPT-2 pieces (list of bytes)."""
    n, i, out = len(b), 0, []
    cls = _CLS
    while i < n:
        c = b[i]
        e = None
        if c == 0x27 and i + 1 < n:  # '
            c1 = b[i + 1]
            c2 = b[i + 2] if i + 2 < n else 0
            if c1 in b"stmd":
                e = i + 2
            elif (c1 in b"rv" and c2 == 0x65) or (c1 == 0x6C and c2 == 0x6C):
                e = i + 3
        if e is None:
            j = i + 1 if c == 32 and i + 1 < n else i
            k = cls[b[j]]
            if k != 0:
                while j < n and cls[b[j]] == k:
                    j += 1
                e = j
            else:
                j = i
                while j < n and cls[b[j]] == 0:
                    j += 1
                e = j - 1 if (j < n and j - i > 1) else j
        out.append(b[i:e])
        i = e
    return out


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Tokenizer:
    def __init__(self, merges):
        """merges: list of (left_id, right_id) in rank order; ids as described above."""
        self.merges = list(merges)
        self.rank = {}
        self.pieces = [bytes([i]) for i in range(256)]
        for r, (a, b) in enumerate(self.merges):
            self.rank[(a, b)] = (r, 256 + r)
            self.pieces.append(self.pieces[a] + self.pieces[b])
        self.eot = 256 + len(self.merges)
        self.vocab_size = self.eot + 1
        self.cache = {}

    def encode_piece(self, p):
        t = self.cache.get(p)
        if t is not None:
            return t
        t = list(p)
        rank = self.rank
        while len(t) > 1:
            best, at = None, 0
            for i in range(len(t) - 1):
                m = rank.get((t[i], t[i + 1]))
                if m is not None and (best is None or m[0] < best[0]):
                    best, at = m, i
            if best is None:
                break
            t[at:at + 2] = [best[1]]
        self.cache[p] = t
        return t

    def encode(self, text, bos=False):
        b = text.encode("utf-8") if isinstance(text, str) else text
        out = [self.eot] if bos else []
        for p in pretokenize(b):
            out.extend(self.encode_piece(p))
        return out

    def decode_bytes(self, ids):
        return b"".join(self.pieces[i] if i < self.eot else b"" for i in ids)

    def decode(self, ids):
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def to_json(self):
        m = bytes_to_unicode()
        s = lambda bb: "".join(m[x] for x in bb)
        vocab = {s(p): i for i, p in enumerate(self.pieces)}
        assert len(vocab) == len(self.pieces), "duplicate token strings"
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [{"id": self.eot, "content": EOT, "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True}],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                              "use_regex": True},
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                        "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "vocab": vocab,
                      "merges": ["%s %s" % (s(self.pieces[a]), s(self.pieces[b])) for a, b in self.merges]},
        }

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, ensure_ascii=False, indent=1)
            f.write("\n")

    @staticmethod
    def load(path):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        u = {v: k for k, v in bytes_to_unicode().items()}
        vocab = j["model"]["vocab"]
        merges = []
        for r, line in enumerate(j["model"]["merges"]):
            a, b = line.split(" ") if isinstance(line, str) else line
            assert vocab[a + b] == 256 + r
            merges.append((vocab[a], vocab[b]))
        for s, i in vocab.items():
            if i < 256:
                assert bytes(u[ch] for ch in s) == bytes([i])
        tok = Tokenizer(merges)
        assert j["added_tokens"][0]["content"] == EOT and j["added_tokens"][0]["id"] == tok.eot
        return tok


def train(texts, vocab_size, log=None):
    """Learn vocab_size - 257 merges from the pieces of texts."""
    counts = collections.Counter()
    for t in texts:
        counts.update(pretokenize(t.encode("utf-8")))
    words = [list(p) for p in counts]
    freq = [counts[p] for p in counts]
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for wi, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += freq[wi]
            where[(a, b)].add(wi)
    merges = []
    n_merges = vocab_size - 257
    while len(merges) < n_merges:
        best = None
        for p, c in pairs.items():
            if c > 0 and (best is None or c > best[1] or (c == best[1] and p < best[0])):
                best = (p, c)
        if best is None:
            break
        (a, b), _ = best
        new = 256 + len(merges)
        merges.append((a, b))
        for wi in list(where[(a, b)]):
            w, f = words[wi], freq[wi]
            for x, y in zip(w, w[1:]):
                pairs[(x, y)] -= f
            i, nw = 0, []
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    nw.append(new)
                    i += 2
                else:
                    nw.append(w[i])
                    i += 1
            words[wi] = nw
            for x, y in zip(nw, nw[1:]):
                pairs[(x, y)] += f
                where[(x, y)].add(wi)
        del pairs[(a, b)]
        del where[(a, b)]
        if log and len(merges) % 500 == 0:
            print("merges %d" % len(merges), file=log)
    return Tokenizer(merges)


def read_docs(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default="build/train/data/train.jsonl")
    ap.add_argument("--vocab", type=int, default=4096, help="total vocabulary: 256 bytes + merges + 1 special")
    ap.add_argument("-o", "--out", default="build/train/tokenizer.json")
    a = ap.parse_args()
    docs = read_docs(a.train)
    tok = train(docs, a.vocab, log=sys.stderr)
    tok.save(a.out)
    again = Tokenizer.load(a.out)
    sample = docs[0][:20000]
    ids = again.encode(sample)
    assert again.decode(ids) == sample
    n_tok = sum(len(again.encode(d)) for d in docs)
    n_bytes = sum(len(d.encode()) for d in docs)
    print("vocab %d (%d merges); train text %d bytes -> %d tokens (%.2f bytes/token)"
          % (again.vocab_size, len(again.merges), n_bytes, n_tok, n_bytes / n_tok), file=sys.stderr)


if __name__ == "__main__":
    main()
