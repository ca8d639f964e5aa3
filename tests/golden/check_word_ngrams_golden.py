#!/usr/bin/env python3
"""Checks make_word_ngrams_golden.py's transcription against fastText itself.

    python3 tests/golden/check_word_ngrams_golden.py [FASTTEXT]

Trains a tiny supervised model with Debian's `fasttext` (-wordNgrams 3, 50,000 buckets), asks
`fasttext print-sentence-vectors` for the average input row of a few lines (non-ASCII words,
unknown words, fastText's </s> included), and recomputes each average from the model's input
matrix (read from model.bin) over the ids the transcription gives: known words' ids and
nwords + addWordNgrams' bucket ids. Exit 0 when they agree, 1 when not, 77 (skipped) without
fasttext.
"""

import array
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from make_word_ngrams_golden import fasttext_hash, word_ngrams

LINES = ["__label__a the cat sat on the mat", "__label__b caf\u00e9 cr\u00e8me br\u00fbl\u00e9e \u20ac",
         "__label__a dogs and cats and mice", "__label__b na\u00efve r\u00e9sum\u00e9 of the \u00fcber"]
QUERIES = [line.split(" ", 1)[1] for line in LINES] + ["the cat and the unknownword mat",
                                                        "\u20ac\u20ac cr\u00e8me"]
BUCKET, N, DIM = 50000, 3, 4


def read_model(path):
    """fastText 0.9's .bin: the word list (ids in order) and the input matrix."""
    b = Path(path).read_bytes()
    at = 8 + 12 * 4 + 8  # magic, version, 12 int32 args, t (double)
    size, nwords, _ = struct.unpack_from("<iii", b, at)
    at += 12 + 16  # ntokens, pruneidx_size
    words = []
    for i in range(size):
        end = b.index(b"\0", at)
        if i < nwords:
            words.append(b[at:end])
        at = end + 1 + 8 + 1  # count (int64), type (int8)
    at += 1  # quant_input
    rows, dim = struct.unpack_from("<qq", b, at)
    matrix = array.array("f")
    matrix.frombytes(b[at + 16: at + 16 + 4 * rows * dim])
    return words, matrix, dim


def main():
    fasttext = sys.argv[1] if len(sys.argv) > 1 else shutil.which("fasttext")
    if not fasttext:
        print("fasttext not found: skipped")
        return 77
    with tempfile.TemporaryDirectory() as work:
        train = Path(work) / "train.txt"
        train.write_text("\n".join(LINES) + "\n", encoding="utf-8")
        subprocess.run([fasttext, "supervised", "-input", str(train), "-output", f"{work}/m",
                        "-wordNgrams", str(N), "-bucket", str(BUCKET), "-dim", str(DIM),
                        "-epoch", "1", "-thread", "1", "-verbose", "0"], check=True)
        out = subprocess.run([fasttext, "print-sentence-vectors", f"{work}/m.bin"],
                             input="\n".join(QUERIES) + "\n", capture_output=True, text=True,
                             check=True).stdout.splitlines()
        words, matrix, dim = read_model(f"{work}/m.bin")
    ids_of = {w: i for i, w in enumerate(words)}
    worst = 0.0
    for query, line in zip(QUERIES, out):
        tokens = [t.encode("utf-8") for t in query.split()] + [b"</s>"]  # stdin lines end in \n
        ids = [ids_of[t] for t in tokens if t in ids_of]
        ids += word_ngrams([fasttext_hash(t) for t in tokens], N, BUCKET, len(words))
        want = [float(x) for x in line.split()[-dim:]]
        for j in range(dim):
            got = sum(matrix[i * dim + j] for i in ids) / len(ids)
            worst = max(worst, abs(got - want[j]))
    print(f"largest difference from fastText's sentence vectors: {worst:.2e}")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
