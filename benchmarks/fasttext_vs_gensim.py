"""Loading a fastText .bin model: gensim 4's load_facebook_model against emb's FastTextModel::load
(and emb's load_vectors on the same model's .vec), on one machine, medians of several runs.

    /usr/bin/python3 benchmarks/fasttext_vs_gensim.py --bench build/bench/benchmarks/bench_fasttext

Writes (once, into --work) model.bin, a skipgram model in fastText's version-12 layout with
--words words (syllable words, Zipf counts), fastText's default -bucket 2000000, -minn 3 -maxn 6
and --dim random values (1 GB with the defaults), and model.vec, the vectors gensim computes for its words (what
`fasttext skipgram` writes beside the .bin). Then times gensim in this process (import excluded)
and bench_fasttext's load_bin, load_vec and load_bin_and_word_vectors (Google Benchmark, real
time, the file in the page cache for both).
"""

import argparse
import json
import os
import random
import statistics
import struct
import subprocess
import time

import numpy as np


def write_model(path, words, bucket, dim, seed=0):
    rng = np.random.default_rng(seed)
    counts = [max(5, int(1e7 / (i + 1))) for i in range(len(words))]
    with open(path, "wb") as out:
        out.write(struct.pack("<2i", 793712314, 12))
        # dim ws epoch minCount neg wordNgrams loss(ns) model(skipgram) bucket minn maxn lrUpdate t
        out.write(struct.pack("<12id", dim, 5, 5, 5, 5, 1, 2, 2, bucket, 3, 6, 100, 1e-4))
        out.write(struct.pack("<3iqq", len(words), len(words), 0, sum(counts), -1))
        for word, count in zip(words, counts):
            out.write(word.encode("utf-8") + b"\0" + struct.pack("<qb", count, 0))
        for rows in (len(words) + bucket, len(words)):
            out.write(struct.pack("<?qq", False, rows, dim))
            for start in range(0, rows, 100000):
                n = min(100000, rows - start)
                out.write((rng.standard_normal((n, dim), dtype=np.float32) * 0.1).tobytes())


def make_words(count, seed=0):
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "tu", "re", "sa", "no", "vi", "de", "po", "ra", "zu", "the",
                 "ing", "str", "qu", "an", "er"]
    words, seen = ["the", "</s>"], {"the", "</s>"}
    while len(words) < count:
        w = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 5)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def bench(binary, stem, runs):
    env = dict(os.environ, EMB_BENCH_FASTTEXT=stem)
    out = subprocess.run([binary, f"--benchmark_repetitions={runs}",
                          "--benchmark_report_aggregates_only=true", "--benchmark_format=json"],
                         env=env, capture_output=True, check=True, text=True).stdout
    return {b["run_name"].split("/")[0]: b["real_time"] / 1000 for b in json.loads(out)["benchmarks"]
            if b.get("aggregate_name") == "median"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", required=True, help="path of bench_fasttext")
    parser.add_argument("--work", default="/tmp/emb-fasttext-bench")
    parser.add_argument("--words", type=int, default=200000)
    parser.add_argument("--bucket", type=int, default=2000000)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5, help="runs of each emb benchmark")
    parser.add_argument("--gensim-runs", type=int, default=3, help="gensim takes a minute a run")
    args = parser.parse_args()
    from gensim.models.fasttext import load_facebook_model

    os.makedirs(args.work, exist_ok=True)
    stem = os.path.join(args.work, f"model-{args.words}-{args.bucket}-{args.dim}")
    if not os.path.exists(stem + ".vec"):
        write_model(stem + ".bin", make_words(args.words), args.bucket, args.dim)
        load_facebook_model(stem + ".bin").wv.save_word2vec_format(stem + ".vec")

    gensim_times = []
    for _ in range(args.gensim_runs):
        start = time.perf_counter()
        model = load_facebook_model(stem + ".bin")
        gensim_times.append(time.perf_counter() - start)
        del model
    emb = bench(args.bench, stem, args.runs)

    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                   "unknown CPU")
    size = os.path.getsize(stem + ".bin") / 2**20
    gensim = statistics.median(gensim_times)
    print(f"{cpu}; {args.words} words, bucket {args.bucket}, dim {args.dim}: .bin {size:.0f} MiB, "
          f".vec {os.path.getsize(stem + '.vec') / 2**20:.0f} MiB; medians of {args.gensim_runs} "
          f"(gensim) and {args.runs} (emb) runs, real time")
    print(f"gensim load_facebook_model(.bin)         {gensim:8.3f} s")
    for name, label in [("load_bin", "emb FastTextModel::load(.bin)"),
                        ("load_bin_and_word_vectors", "emb load(.bin) + word_vectors()"),
                        ("load_vec", "emb load_vectors(.vec)")]:
        if name in emb:
            print(f"{label:40s} {emb[name]:8.3f} s   gensim / emb = {gensim / emb[name]:.1f}")


if __name__ == "__main__":
    main()
