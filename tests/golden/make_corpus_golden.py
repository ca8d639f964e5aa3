#!/usr/bin/env python3
"""fastText's dictionaries of corpora: the reference for emb::read_corpus (tests/corpus.cpp).

For each corpus, trains a throw-away fastText skipgram model (Debian's `fasttext`, 0.9.2) with
-minCount MIN_COUNT and writes to OUT:
  case PATH MIN_COUNT   the corpus (a relative PATH is in the shared data folder)
  tokens N              fastText's ntokens: every token read, "</s>" and rare words included
  words K               then K lines "WORD COUNT": its dictionary, most frequent first
                        (fastText leaves ties in std::sort's order)

The checked-in file:
  make_corpus_golden.py --corpus ../shared/data/lee_background.cor --min-count 5 \
      --out tests/golden/corpus.txt
Random corpora (CTest's corpus_vs_fasttext, a fresh seed each run; the corpora are written
beside OUT): make_corpus_golden.py --seed S --cases N --out OUT
"""
import argparse
import os
import random
import struct
import subprocess
import tempfile


def dictionary(corpus, min_count):
    with tempfile.TemporaryDirectory() as work:
        model = f"{work}/model"
        subprocess.run(["fasttext", "skipgram", "-input", corpus, "-output", model, "-dim", "2",
                        "-epoch", "1", "-minCount", str(min_count), "-thread", "1", "-maxn", "0",
                        "-verbose", "0"], check=True, capture_output=True)
        with open(f"{model}.bin", "rb") as f:
            header = f.read(128)
        # magic, version (2 int32); args: 12 int32 and the double t; then the dictionary's
        # size, nwords, nlabels (int32) and ntokens (int64).
        (ntokens,) = struct.unpack_from("<q", header, 8 + 48 + 8 + 12)
        dump = subprocess.run(["fasttext", "dump", f"{model}.bin", "dict"], check=True,
                              capture_output=True).stdout.split(b"\n")
    words = []
    for line in dump[1:]:
        if line:
            word, count, kind = line.rsplit(b" ", 2)
            assert kind == b"word"
            words.append((word, int(count)))
    return ntokens, words


def write_case(out, path, min_count, ntokens, words):
    out.write(f"case {path} {min_count}\ntokens {ntokens}\nwords {len(words)}\n".encode())
    for word, count in words:
        out.write(word + f" {count}\n".encode())


def random_corpus(rng):
    """Words from a small skewed vocabulary (some not ASCII) between random runs of every
    separator fastText knows, blank lines, and sometimes no newline at the end."""
    vocabulary = ["w%d" % i for i in range(rng.randint(3, 40))] + ["caf\u00e9", "\u00fcber", "x"]
    separators = [" ", " ", " ", "  ", "\t", "\r", "\v", "\f", "\0", "\n", "\n", "\n\n", " \n "]
    parts = [rng.choice(["", "\n", " "])]
    for _ in range(rng.randint(1, 400)):
        parts.append(vocabulary[int(len(vocabulary) * rng.random() ** 2)])
        parts.append(rng.choice(separators))
    if rng.random() < 0.5:
        parts.pop()  # the last line ends without a newline
    return "".join(parts).encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus")
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "wb") as out:
        if args.corpus:
            ntokens, words = dictionary(args.corpus, args.min_count)
            write_case(out, os.path.basename(args.corpus), args.min_count, ntokens, words)
            return
        rng = random.Random(args.seed)
        for case in range(args.cases):
            path = os.path.abspath(f"{args.out}.{case}.txt")
            while True:
                text = random_corpus(rng)
                min_count = rng.randint(1, 4)
                with open(path, "wb") as f:
                    f.write(text)
                try:
                    ntokens, words = dictionary(path, min_count)
                    break
                except subprocess.CalledProcessError:  # fastText refuses an empty vocabulary
                    continue
            write_case(out, path, min_count, ntokens, words)


if __name__ == "__main__":
    main()
