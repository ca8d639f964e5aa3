#!/usr/bin/env python3
"""Generates word n-gram golden cases: fastText's Dictionary::hash and addWordNgrams
(src/dictionary.cc) transcribed with their C++ integer types made explicit.

    python3 tests/golden/make_word_ngrams_golden.py --seed 0 --cases 40 \
        --out tests/golden/word_ngrams.txt

fastText's hash is FNV-1a over bytes read as int8_t (so bytes >= 0x80 are sign-extended before
the xor); the line's word hashes are kept in a std::vector<int32_t>, so each is sign-extended
again when addWordNgrams widens it to uint64_t; an n-gram's id is nwords + h % bucket.
check_word_ngrams_golden.py checks this transcription against Debian's fasttext binary.
"""

import argparse
import random

M32, M64 = (1 << 32) - 1, (1 << 64) - 1


def fasttext_hash(word):
    h = 2166136261
    for byte in word:
        signed = byte - 256 if byte >= 128 else byte  # int8_t(str[i])
        h ^= signed & M32                             # uint32_t(int8_t)
        h = (h * 16777619) & M32
    return h


def widen(h):
    """uint64_t from an int32_t holding the uint32_t hash: sign extension."""
    signed = h - (1 << 32) if h >= (1 << 31) else h
    return signed & M64


def word_ngrams(hashes, n, bucket, nwords):
    ids = []
    for i in range(len(hashes)):
        h = widen(hashes[i])
        for j in range(i + 1, min(len(hashes), i + n)):
            h = (h * 116049371 + widen(hashes[j])) & M64
            ids.append(nwords + h % bucket)
    return ids


def make_case(rng):
    words = []
    for _ in range(rng.randint(0, 9)):
        alphabet = rng.choice([b"abcdefghij", bytes(range(0x61, 0x7b)) + bytes([0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xff])])
        words.append(bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 8))))
    if rng.random() < 0.5:
        words.append(b"</s>")
    lengths = [len(w) for w in words]
    flat = [b for w in words for b in w]
    hashes = [fasttext_hash(w) for w in words]
    n = rng.choice([1, 2, 2, 3, 5])
    bucket = rng.choice([1, 7, 1000, 2000000, 2147483647])
    nwords = rng.randint(0, 100000)
    return dict(bytes=flat, lengths=lengths, hashes=hashes, n=n, bucket=bucket, nwords=nwords,
                ids=word_ngrams(hashes, n, bucket, nwords))


def main():
    from goldenio import write_case  # numpy: not needed by check_word_ngrams_golden.py

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w") as out:
        out.write(f"# made by make_word_ngrams_golden.py --seed {args.seed} --cases {args.cases}\n")
        for i in range(args.cases):
            write_case(out, f"seed{args.seed}_case{i}", **make_case(rng))


if __name__ == "__main__":
    main()
