#!/usr/bin/env python3
"""Holds 10 % of a corpus' vocabulary out of it, for measuring vectors of words never seen.

    scripts/holdout-vocabulary.py CORPUS OUT_CORPUS OUT_WORDS [--min-count 5] [--percent 10]

The vocabulary is every token seen at least --min-count times (tokens split on ASCII
whitespace as fastText's readWord splits them; lines kept). A word is held out when the first 8
bytes of the MD5 of its UTF-8 bytes, read as a big-endian integer, are 0 modulo 100 / percent:
a fixed, documented choice that needs no random seed and picks frequent and rare words alike.
OUT_CORPUS is CORPUS with every token of a held-out word removed (the other tokens of a line
joined by single spaces; a line left empty stays, as an empty line). OUT_WORDS lists the held-out
words, one a line, most frequent first, with their counts.
"""
import argparse
import collections
import hashlib


def held_out(word: bytes, modulus: int) -> bool:
    return int.from_bytes(hashlib.md5(word).digest()[:8], "big") % modulus == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("out_corpus")
    parser.add_argument("out_words")
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--percent", type=int, default=10, choices=[1, 2, 5, 10, 20, 25, 50])
    args = parser.parse_args()
    modulus = 100 // args.percent

    with open(args.corpus, "rb") as f:
        lines = f.read().split(b"\n")
    counts = collections.Counter(token for line in lines for token in line.split())
    vocabulary = [w for w, c in counts.items() if c >= args.min_count]
    out = {w for w in vocabulary if held_out(w, modulus)}

    with open(args.out_corpus, "wb") as f:
        f.write(b"\n".join(b" ".join(t for t in line.split() if t not in out) for line in lines))
    with open(args.out_words, "wb") as f:
        for w in sorted(out, key=lambda w: (-counts[w], w)):
            f.write(w + b" " + str(counts[w]).encode() + b"\n")
    removed = sum(counts[w] for w in out)
    print(f"vocabulary {len(vocabulary)} words (min count {args.min_count}); held out "
          f"{len(out)} words, {removed} of {sum(counts.values())} tokens")


if __name__ == "__main__":
    main()
