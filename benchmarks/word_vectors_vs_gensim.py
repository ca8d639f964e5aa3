"""Side by side on one machine: gensim 4 KeyedVectors and emb's word-lookup, on the same file.

    /usr/bin/python3 benchmarks/word_vectors_vs_gensim.py --tool build/release/examples/word-lookup

Writes a 50,000 x 100 word2vec file (text and binary) whose vocabulary holds every word of the
analogy set (so every question is evaluated) plus words of the Lee corpus and made-up words, then
times, as medians of --runs runs each:
  - loading: gensim load_word2vec_format (in-process, import excluded) against the whole
    `word-lookup info` process (start, load, print);
  - the analogy evaluation: gensim evaluate_word_analogies (in-process, load excluded) against the
    whole `word-lookup eval-analogies` process (load included);
and the peak memory (max RSS, /usr/bin/time -v) of `word-lookup info` against the table's size.
Needs ../shared/data (questions-words.txt, lee_background.cor) and Debian's python3-gensim.
"""

import argparse
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time

import numpy as np


def make_files(shared, folder, count, dim, seed=0):
    text, binary = os.path.join(folder, "vectors50k.txt"), os.path.join(folder, "vectors50k.bin")
    if os.path.exists(text) and os.path.exists(binary):
        return text, binary
    from gensim.models import KeyedVectors
    words, seen = [], set()

    def add(w):
        if w not in seen and len(words) < count:
            seen.add(w)
            words.append(w)

    with open(os.path.join(shared, "questions-words.txt"), encoding="utf-8") as f:
        for line in f:
            if not line.startswith(":"):
                for w in line.split():
                    add(w.lower())
    with open(os.path.join(shared, "lee_background.cor"), encoding="utf-8") as f:
        for w in re.findall(r"[a-z]+", f.read().lower()):
            add(w)
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "tu", "re", "sa", "no", "vi", "de", "po", "ra", "zu", "be", "fo"]
    while len(words) < count:
        add("".join(rng.choice(syllables) for _ in range(rng.randint(3, 5))))
    vectors = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    kv = KeyedVectors(dim, dtype=np.float32)
    kv.add_vectors(words, vectors)
    kv.save_word2vec_format(text, binary=False)
    kv.save_word2vec_format(binary, binary=True)
    return text, binary


def median_seconds(runs, fn):
    """Median wall time of `runs` calls, all wall times, and the median CPU time (user + system,
    this process and its children): on a shared machine CPU time is the steadier figure."""
    times, cpu = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        r1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(sum(b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime for a, b in zip(r0, r1)))
    return statistics.median(times), times, statistics.median(cpu)


def max_rss_kib(command):
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return int(match.group(1)) if match else None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", required=True)
    parser.add_argument("--shared", default=os.path.join(here, "..", "..", "shared", "data"))
    parser.add_argument("--folder", default=os.path.join(here, "..", "build", "bench-data"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--gensim-eval-runs", type=int, default=None,
                        help="runs of gensim's (slow) analogy evaluation; default --runs")
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    questions = os.path.join(args.shared, "questions-words.txt")
    text, binary = make_files(args.shared, args.folder, 50000, 100)

    import logging
    logging.disable(logging.WARNING)
    from gensim.models import KeyedVectors

    rows = []
    for name, path, is_binary in [("text", text, False), ("binary", binary, True)]:
        g = median_seconds(args.runs, lambda: KeyedVectors.load_word2vec_format(path, binary=is_binary))
        e = median_seconds(args.runs, lambda: subprocess.run(
            [args.tool, "--vectors", path, "info"], check=True, capture_output=True))
        rows.append((f"load word2vec {name} ({os.path.getsize(path) / 1e6:.1f} MB)", g, e))

    kv = KeyedVectors.load_word2vec_format(binary, binary=True)
    g = median_seconds(args.gensim_eval_runs or args.runs, lambda: kv.evaluate_word_analogies(questions))
    e = median_seconds(args.runs, lambda: subprocess.run(
        [args.tool, "--vectors", binary, "eval-analogies", questions], check=True, capture_output=True))
    rows.append(("evaluate analogies (19,544 questions; emb: load included)", g, e))
    ours = subprocess.run([args.tool, "--vectors", binary, "--json", "eval-analogies", questions],
                          check=True, capture_output=True, text=True).stdout

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"median of {args.runs} runs (gensim's evaluation: {args.gensim_eval_runs or args.runs})\n")
    print("| task | gensim 4.2 wall | emb wall | speed-up (wall) | gensim CPU | emb CPU | speed-up (CPU) |")
    print("|---|---|---|---|---|---|---|")
    for task, (gw, _, gc), (ew, _, ec) in rows:
        print(f"| {task} | {gw:.3f} s | {ew:.3f} s | {gw / ew:.1f}x | {gc:.3f} s | {ec:.3f} s | {gc / ec:.1f}x |")
    print("\nall wall times (s):")
    for task, (_, g_all, _), (_, e_all, _) in rows:
        print(f"  {task}: gensim {[round(t, 3) for t in g_all]}, emb {[round(t, 3) for t in e_all]}")
    print(f"\nemb's answer: {ours.strip()[:70]}...")
    table_mib = 50000 * 100 * 4 / 2**20
    for name, path in [("text", text), ("binary", binary)]:
        rss = max_rss_kib([args.tool, "--vectors", path, "info"])
        print(f"peak RSS of `word-lookup info` on the {name} file: {rss / 1024:.1f} MiB "
              f"(table {table_mib:.1f} MiB)")
    baseline = max_rss_kib([args.tool, "--help"])
    print(f"peak RSS of `word-lookup --help` (no table): {baseline / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
