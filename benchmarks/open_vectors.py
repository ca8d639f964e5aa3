#!/usr/bin/env python3
"""How long a tool takes to answer `vector WORD` from a large table, and its peak memory: the whole
process (start, open, answer, exit), medians of --runs runs, files in the page cache (one untimed
run of each route first).

    /usr/bin/python3 benchmarks/open_vectors.py --tool build/bench/benchmarks/compare_open_vectors

Writes a --count x --dim float32 table (400,000 x 300 by default, 458 MiB) with made-up words as a
word2vec binary file and a gensim KeyedVectors file (both by gensim 4), as a safetensors file as
emb writes word vectors (tensor "weight", vocabulary in __metadata__), and as an .npy file with
its .vocab beside it, then times:
  - compare_open_vectors word2vec-binary: emb parses the whole word2vec binary file;
  - compare_open_vectors safetensors-load: emb reads the whole table from the safetensors file;
  - compare_open_vectors safetensors-map: emb maps it and reads the header and one row;
  - gensim KeyedVectors.load(..., mmap='r') and one lookup, in a fresh python3 (import included;
    the in-process time of load + lookup is printed too);
  - with --word-lookup, the tool's `vector WORD` on the word2vec binary file (parsed whole) and on
    the safetensors and .npy files (mapped: only the header, the vocabulary and one row are read).
Wall and CPU (user + system) seconds and the max RSS come from /usr/bin/time; the machine may be
shared, so CPU seconds are the steadier figure.
"""

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_files(folder, count, dim, reuse):
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(0)
    table = rng.standard_normal((count, dim), dtype=np.float32)
    words = [f"w{i:06d}x" for i in range(count)]
    paths = {
        "bin": os.path.join(folder, f"big{count}x{dim}.bin"),
        "kv": os.path.join(folder, f"big{count}x{dim}.kv"),
        "safetensors": os.path.join(folder, f"big{count}x{dim}.safetensors"),
        "npy": os.path.join(folder, f"big{count}x{dim}.npy"),
    }
    if not (reuse and os.path.exists(paths["npy"])):
        np.save(paths["npy"], table)
        with open(paths["npy"][:-4] + ".vocab", "w") as f:
            f.write("".join(w + "\n" for w in words))
    if reuse and all(os.path.exists(p) for p in paths.values()):
        return table, words, paths
    kv = KeyedVectors(dim, dtype=np.float32)
    kv.add_vectors(words, table)
    kv.save_word2vec_format(paths["bin"], binary=True)
    kv.save(paths["kv"])  # the table goes to big.kv.vectors.npy, which mmap='r' maps
    header = {
        "__metadata__": {"emb.vocabulary": "\n".join(words)},
        "weight": {"dtype": "F32", "shape": [count, dim], "data_offsets": [0, table.nbytes]},
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(paths["safetensors"], "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.write(table.astype("<f4").tobytes())
    return table, words, paths


def run(command):
    """Wall seconds, CPU seconds (user + system), max RSS in MiB and stdout of one process, as
    /usr/bin/time measures them (not this Python's wait4: a child's max RSS would count this
    process's own memory, inherited at fork, before the exec)."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        result = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", report.name] + command,
                                capture_output=True)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"{command[0]} failed: {result.stderr.decode()}")
        user, system, rss = report.read().split()[-3:]
    return seconds, float(user) + float(system), int(rss) / 1024, result.stdout.decode()


GENSIM = """
import sys, time
start = time.perf_counter()
from gensim.models import KeyedVectors
imported = time.perf_counter()
kv = KeyedVectors.load(sys.argv[1], mmap="r")
row = kv[sys.argv[2]]
done = time.perf_counter()
print("\\n".join("%.9g" % v for v in row))
print("inprocess", done - imported, file=sys.stderr)
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", required=True, help="compare_open_vectors")
    parser.add_argument("--word-lookup", help="the word-lookup tool, timed too when given")
    parser.add_argument("--count", type=int, default=400_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--folder", help="where the files go (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="keep files already in --folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.folder or temporary
        table, words, paths = make_files(folder, args.count, args.dim, args.reuse)
        word_index = len(words) * 3 // 4
        word = words[word_index]
        want = "\n".join("%.9g" % v for v in table[word_index]) + "\n"
        routes = {
            "emb word2vec binary (parse all)": [args.tool, "word2vec-binary", paths["bin"], word],
            "emb safetensors (read all)": [args.tool, "safetensors-load", paths["safetensors"],
                                           word],
            "emb safetensors (mapped)": [args.tool, "safetensors-map", paths["safetensors"], word],
            "gensim KeyedVectors.load(mmap='r')": [sys.executable, "-c", GENSIM, paths["kv"],
                                                   word],
        }
        if args.word_lookup:
            routes["word-lookup, word2vec binary"] = [args.word_lookup, "--vectors", paths["bin"],
                                                      "vector", word]
            routes["word-lookup, safetensors (mapped)"] = [args.word_lookup, "--vectors",
                                                           paths["safetensors"], "vector", word]
            routes["word-lookup, .npy + .vocab (mapped)"] = [args.word_lookup, "--vectors",
                                                             paths["npy"], "vector", word]
        size = table.nbytes / 2**20
        print(f"table {args.count} x {args.dim} float32 = {size:.0f} MiB; word {word}; "
              f"medians of {args.runs} runs, warm page cache")
        print("| route | wall s | CPU s | max RSS (MiB) | RSS / table |")
        print("|---|---|---|---|---|")
        for name, command in routes.items():
            run(command)  # warm the page cache
            results = [run(command) for _ in range(args.runs)]
            for *_, out in results:
                if name.startswith("word-lookup"):  # "WORD v1 v2 ..." in shortest form
                    values = [float(np.float32(v)) for v in out.split()[1:]]
                    out = "\n".join("%.9g" % v for v in values) + "\n"
                if out != want:
                    raise SystemExit(f"{name}: wrong answer")
            seconds, cpu, rss = (statistics.median(r[k] for r in results) for k in range(3))
            print(f"| {name} | {seconds:.3f} | {cpu:.2f} | {rss:.0f} | {rss / size:.2f} |")
        inprocess = subprocess.run(routes["gensim KeyedVectors.load(mmap='r')"],
                                   capture_output=True, text=True).stderr.split()[-1]
        print(f"gensim in-process load + lookup (import excluded): {float(inprocess):.3f} s")


if __name__ == "__main__":
    main()
