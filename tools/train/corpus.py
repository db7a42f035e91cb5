#!/usr/bin/python3
"""Extract the King James Version from Debian's bible-kjv-text and split it.

The text is read with the `bible` program of the Debian package bible-kjv (the data file
/usr/lib/bible.data of bible-kjv-text is compressed in that program's own format).

Cleaning (minimal): verse numbers are dropped, every verse is one line, every chapter starts
with a heading line "Book C" (e.g. "Genesis 1"), chapters are separated by one blank line.
Every book is one document; documents are separated by <|endoftext|> when tokenized.

Split: chapters are numbered 1..1189 through the whole Bible; every 20th (20, 40, ..., 1180:
59 chapters, ~5% of the text) is held out for validation and never seen in training (nor by the
tokenizer trainer). The held-out chapters keep their book grouping (one document per book).

Outputs (in --out): train.jsonl and val.jsonl (one JSON string per document, in Bible order),
and --heldout: the first held-out chapters cut at a verse boundary to about 3 KB.
"""
import argparse, json, os, re, subprocess, sys

HOLDOUT_EVERY = 20


def read_bible():
    out = subprocess.run(["bible", "-l0", "Ge1:1-Re22:21"], check=True,
                         stdout=subprocess.PIPE).stdout.decode("ascii")
    books = []  # [(book, [(chapter, [verse, ...]), ...])]
    head = re.compile(r"^(.+) (\d+)$")
    verse = re.compile(r"^  (\d+) (.*)$")
    for line in out.split("\n"):
        if not line.strip():
            continue
        m = verse.match(line)
        if m:
            text = m.group(2).strip()
            assert text and int(m.group(1)) == len(books[-1][1][-1][1]) + 1, line
            books[-1][1][-1][1].append(text)
            continue
        m = head.match(line)
        assert m, line
        book, ch = m.group(1), int(m.group(2))
        if not books or books[-1][0] != book:
            books.append((book, []))
        assert ch == len(books[-1][1]) + 1, line
        books[-1][1].append((ch, []))
    return books


def chapter_text(book, ch, verses):
    return "%s %d\n%s\n" % (book, ch, "\n".join(verses))


def split(books):
    train, val = [], []
    n = 0
    for book, chapters in books:
        tr, va = [], []
        for ch, verses in chapters:
            n += 1
            (va if n % HOLDOUT_EVERY == 0 else tr).append(chapter_text(book, ch, verses))
        if tr:
            train.append("\n".join(tr))
        if va:
            val.append("\n".join(va))
    return train, val, n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="build/train/data")
    ap.add_argument("--heldout", default="models/heldout.txt")
    ap.add_argument("--heldout-bytes", type=int, default=3072)
    a = ap.parse_args()
    books = read_bible()
    train, val, n = split(books)
    os.makedirs(a.out, exist_ok=True)
    for name, docs in (("train", train), ("val", val)):
        with open(os.path.join(a.out, name + ".jsonl"), "w") as f:
            for d in docs:
                f.write(json.dumps(d) + "\n")
    # held-out snippet: whole lines of the held-out text, up to heldout_bytes
    snippet, size = [], 0
    for line in "\n".join(val).split("\n"):
        if size + len(line) + 1 > a.heldout_bytes:
            break
        snippet.append(line)
        size += len(line) + 1
    while snippet and not snippet[-1]:
        snippet.pop()
    if a.heldout:
        os.makedirs(os.path.dirname(a.heldout) or ".", exist_ok=True)
        with open(a.heldout, "w") as f:
            f.write("\n".join(snippet) + "\n")
    nv = sum(len(c) for _, cs in books for c in cs)
    print("books %d chapters %d verses %d; train %d docs %d bytes, val %d docs %d bytes (%.1f%%)"
          % (len(books), n, sum(len(v) for _, cs in books for _, v in cs), len(train),
             sum(map(len, train)), len(val), sum(map(len, val)),
             100.0 * sum(map(len, val)) / (sum(map(len, train)) + sum(map(len, val)))), file=sys.stderr)


if __name__ == "__main__":
    main()
