"""Smoke tests of the word-lookup tool: every command, JSON shapes, exit statuses, the prompt.

    python3 word_lookup_test.py TOOL SHARED_DATA_DIR SHIPPED_VECTORS CASE

Standard library only. Exit 0 passed, 1 failed, 77 skipped (CTest SKIP_RETURN_CODE).
"""

import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

TOOL, SHARED, SHIPPED, CASE = sys.argv[1:5]
SKIP = 77


def run(*args, stdin=None):
    return subprocess.run([TOOL, *args], input=stdin, capture_output=True, text=True, timeout=300)


def check(condition, what):
    if not condition:
        print("FAILED:", what)
        sys.exit(1)


def ok_json(result, what):
    check(result.returncode == 0, f"{what}: exit {result.returncode}, stderr {result.stderr}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as error:
        check(False, f"{what}: not one JSON document ({error}): {result.stdout!r}")


def small_files(folder):
    """One table in the three formats: 40 words (one not ASCII), dim 6."""
    rng = random.Random(5)
    words = [f"w{i}" for i in range(39)] + ["\u00f6l"]
    vectors = [[round(rng.gauss(0, 1), 4) for _ in range(6)] for _ in words]
    paths = {}
    text = os.path.join(folder, "v.txt")
    with open(text, "w", encoding="utf-8") as out:
        out.write(f"{len(words)} 6\n")
        for w, v in zip(words, vectors):
            out.write(w + " " + " ".join(repr(x) for x in v) + "\n")
    glove = os.path.join(folder, "v.glove")
    with open(glove, "w", encoding="utf-8") as out:
        for w, v in zip(words, vectors):
            out.write(w + " " + " ".join(repr(x) for x in v) + "\n")
    binary = os.path.join(folder, "v.bin")
    with open(binary, "wb") as out:
        out.write(f"{len(words)} 6\n".encode())
        for w, v in zip(words, vectors):
            out.write(w.encode() + b" " + struct.pack("<6f", *v) + b"\n")
    paths = {"word2vec": text, "glove": glove, "word2vec-binary": binary}
    return words, vectors, paths


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def need_shared():
    if not os.path.exists(os.path.join(SHARED, "README.md")):
        print("skipped: no shared data at", SHARED)
        sys.exit(SKIP)


def case_info(folder):
    words, _, paths = small_files(folder)
    for fmt, path in paths.items():
        info = ok_json(run("--vectors", path, "--json", "info"), f"info {fmt}")
        check(info["words"] == len(words) and info["dim"] == 6 and info["format"] == fmt,
              f"info {fmt}: {info}")
        named = ok_json(run("--vectors", path, "--format", fmt, "--limit", "7", "--json", "info"),
                        f"info --format {fmt} --limit 7")
        check(named["words"] == 7, f"--limit 7 gave {named}")
    plain = run("--vectors", paths["word2vec"], "info")
    check(plain.returncode == 0 and "dim: 6" in plain.stdout, f"text info: {plain.stdout}")


def case_vector(folder):
    words, vectors, paths = small_files(folder)
    doc = ok_json(run("--vectors", paths["word2vec-binary"], "--json", "vector", "w3", "\u00f6l"),
                  "vector")
    check([v["word"] for v in doc["vectors"]] == ["w3", "\u00f6l"], f"vector words: {doc}")
    for got, want in zip(doc["vectors"], [vectors[3], vectors[-1]]):
        check(all(abs(a - b) < 1e-6 for a, b in zip(got["vector"], want)), f"vector values {got}")


def case_similar(folder):
    words, vectors, paths = small_files(folder)
    for fmt, path in paths.items():
        doc = ok_json(run("--vectors", path, "--json", "similar", "w0", "--top", "5"), "similar")
        check(doc["query"] == ["w0"] and len(doc["neighbours"]) == 5, f"similar shape {doc}")
        want = sorted(((cosine(vectors[0], v), w) for w, v in zip(words, vectors) if w != "w0"),
                      reverse=True)[:5]
        for got, (sim, word) in zip(doc["neighbours"], want):
            check(got["word"] == word and abs(got["similarity"] - sim) < 1e-5,
                  f"similar {fmt}: {got} != {word} {sim}")
    default_top = ok_json(run("--vectors", paths["glove"], "--json", "similar", "w1"), "top 10")
    check(len(default_top["neighbours"]) == 10, "similar lists 10 by default")


def case_analogy(folder):
    words, vectors, paths = small_files(folder)
    doc = ok_json(run("--vectors", paths["word2vec"], "--json", "analogy", "w1", "w2", "w3",
                      "--top", "4"), "analogy")
    check(doc["query"] == ["w1", "w2", "w3"] and len(doc["neighbours"]) == 4, f"shape {doc}")
    unit = {w: [x / math.sqrt(sum(y * y for y in v)) for x in v] for w, v in zip(words, vectors)}
    target = [b - a + c for a, b, c in zip(unit["w1"], unit["w2"], unit["w3"])]
    want = sorted(((cosine(target, v), w) for w, v in zip(words, vectors)
                   if w not in ("w1", "w2", "w3")), reverse=True)[:4]
    for got, (sim, word) in zip(doc["neighbours"], want):
        check(got["word"] == word and abs(got["similarity"] - sim) < 1e-5, f"analogy {got}")
    mul = ok_json(run("--vectors", paths["word2vec"], "--json", "analogy", "w1", "w2", "w3",
                      "--method", "mul"), "analogy --method mul")
    check(all(n["word"] not in ("w1", "w2", "w3") for n in mul["neighbours"]), "mul excludes inputs")


def case_similarity(folder):
    words, vectors, paths = small_files(folder)
    doc = ok_json(run("--vectors", paths["glove"], "--json", "similarity", "w4", "w9"), "similarity")
    check(abs(doc["similarity"] - cosine(vectors[4], vectors[9])) < 1e-6, f"similarity {doc}")
    plain = run("--vectors", paths["glove"], "similarity", "w4", "w9")
    check(abs(float(plain.stdout) - doc["similarity"]) < 1e-6, "plain similarity")


def case_odd_one_out(folder):
    words, vectors, paths = small_files(folder)
    group = ["w1", "w2", "w3", "w4"]
    doc = ok_json(run("--vectors", paths["word2vec"], "--json", "odd-one-out", *group), "odd-one-out")
    unit = {w: [x / math.sqrt(sum(y * y for y in v)) for x in v] for w, v in zip(words, vectors)}
    mean = [sum(unit[w][j] for w in group) / 4 for j in range(6)]
    want = min(group, key=lambda w: sum(a * b for a, b in zip(unit[w], mean)))
    check(doc == {"word": want}, f"odd-one-out {doc} != {want}")


def case_eval(folder):
    need_shared()
    q = os.path.join(SHARED, "questions-words.txt")
    ws = os.path.join(SHARED, "wordsim353.tsv")
    for name, accuracy, pearson, spearman, oov in [
            ("lee_fasttext.vec", 0.030612244897959183, -0.119633, -0.058771, 87.2521),
            ("euclidean_vectors.bin", 0.0024449877750611247, 0.244250, 0.273602, 69.1218)]:
        path = os.path.join(SHARED, name)
        doc = ok_json(run("--vectors", path, "--json", "eval-analogies", q), "eval-analogies")
        check(abs(doc["accuracy"] - accuracy) < 1e-4, f"{name} accuracy {doc['accuracy']}")
        check(doc["correct"] == sum(s["correct"] for s in doc["sections"]) and
              doc["total"] == sum(s["total"] for s in doc["sections"]) and
              len(doc["sections"]) == 14 and
              set(doc["sections"][0]) == {"section", "correct", "total"}, "eval-analogies shape")
        pairs = ok_json(run("--vectors", path, "--json", "eval-pairs", ws), "eval-pairs")
        check(abs(pairs["pearson"] - pearson) < 1e-4 and abs(pairs["spearman"] - spearman) < 1e-4
              and abs(pairs["oov_ratio"] - oov) < 1e-4, f"{name} pairs {pairs}")
        restricted = ok_json(run("--vectors", path, "--json", "eval-analogies", q, "--restrict",
                                 "1000"), "--restrict")
        check(restricted["total"] <= doc["total"], "--restrict narrows the questions")
    for name, word, want in [
            ("lee_fasttext.vec", "a", [("factory", 0.960518), ("did", 0.952778), ("drop", 0.950849),
                                       ("case", 0.949570), ("as", 0.943774)]),
            ("euclidean_vectors.bin", "he", [("made", 0.897439), ("she", 0.865679), ("it", 0.855310),
                                             ("heard", 0.844236), ("although", 0.817967)]),
            ("test_glove.txt", "and", [("with", 0.934298), ("\u00f6", 0.920699), ("\u00e9", 0.918671),
                                       ("as", 0.916413), ("also", 0.915583)])]:
        doc = ok_json(run("--vectors", os.path.join(SHARED, name), "--json", "similar", word,
                          "--top", "5"), f"similar on {name}")
        got = [(n["word"], n["similarity"]) for n in doc["neighbours"]]
        check([w for w, _ in got] == [w for w, _ in want] and
              all(abs(a - b) < 1e-4 for (_, a), (_, b) in zip(got, want)), f"{name}: {got}")


def case_plot(folder):
    words, _, paths = small_files(folder)
    svg = os.path.join(folder, "plot.svg")
    result = run("--vectors", paths["word2vec"], "plot", "w1", "w2", "w3", "\u00f6l", "w5",
                 "--out", svg)
    check(result.returncode == 0, f"plot: {result.stderr}")
    root = ET.parse(svg).getroot()
    check(root.tag == "{http://www.w3.org/2000/svg}svg", f"root is {root.tag}")
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    check(all(w in labels for w in ["w1", "w2", "w3", "\u00f6l", "w5"]), f"labels {labels}")
    circles = list(root.iter("{http://www.w3.org/2000/svg}circle"))
    check(len(circles) == 5, "one point per word")
    check(run("--vectors", paths["word2vec"], "plot", "w1").returncode == 2, "plot without --out")


def case_errors(folder):
    words, _, paths = small_files(folder)
    v = paths["word2vec"]
    for args in [("similar", "nope"), ("analogy", "w1", "nope", "w2"), ("similarity", "w1", "nope"),
                 ("odd-one-out", "w1", "w2", "nope"), ("vector", "nope"),
                 ("plot", "nope", "--out", os.path.join(folder, "x.svg"))]:
        result = run("--vectors", v, *args)
        check(result.returncode == 1, f"{args}: exit {result.returncode}, want 1")
        check('unknown word "nope"' in result.stderr, f"{args}: stderr {result.stderr!r}")
    bad = os.path.join(folder, "bad.txt")
    with open(bad, "w") as out:
        out.write("2 3\nx 1 2 3\ny 1 two 3\n")
    for path, message in [(os.path.join(folder, "missing.vec"), "cannot open"),
                          (bad, "line 3: value 2"), (folder, "is a directory")]:
        result = run("--vectors", path, "similar", "x")
        check(result.returncode == 2, f"{path}: exit {result.returncode}, want 2")
        lines = result.stderr.strip().splitlines()
        check(len(lines) == 1 and message in lines[0], f"one-line error naming {message}: {lines}")
    for args in [("frobnicate",), ("similar",), ("similar", "w1", "--top", "0"),
                 ("--format", "xml", "info"), ("eval-analogies", os.path.join(folder, "none.txt"))]:
        check(run("--vectors", v, *args).returncode == 2, f"{args} is an error with status 2")


def case_prompt(folder):
    words, _, paths = small_files(folder)
    script = "similar w1 --top 3\nsimilar nope\nhelp\n\nsimilarity w1 w2\n--json similar w2 --top 2\nquit\nsimilar w3\n"
    result = run("--vectors", paths["word2vec"], stdin=script)
    check(result.returncode == 0, f"prompt exit {result.returncode}: {result.stderr}")
    out = result.stdout
    check(out.count("> ") >= 6, "a prompt before each command")
    check('error: unknown word "nope"' in out, "an unknown word is reported and the prompt goes on")
    check("usage:" in out, "help prints the usage")
    check('"neighbours"' in out, "--json works at the prompt")
    check("similar w3" not in out.split("quit")[1], "nothing runs after quit")
    eof = run("--vectors", paths["word2vec"], stdin="similar w1\n")
    check(eof.returncode == 0, "end of input ends the prompt")


def case_default_vectors(folder):
    if not os.path.exists(SHIPPED):
        print("skipped: no shipped vectors at", SHIPPED)
        sys.exit(SKIP)
    doc = ok_json(run("--json", "info"), "info on the shipped vectors")
    check(doc["words"] > 1000 and doc["format"] == "word2vec-binary", f"shipped vectors {doc}")
    similar = ok_json(run("--json", "similar", "king"), "similar king")
    check(len(similar["neighbours"]) == 10, "ten neighbours of king")


def case_relocated(folder):
    """An installed tree moved anywhere still finds its vectors: bin/../share/emb/vectors.bin."""
    if not os.path.exists(SHIPPED):
        print("skipped: no shipped vectors at", SHIPPED)
        sys.exit(SKIP)
    prefix = os.path.join(folder, "moved", "prefix")
    os.makedirs(os.path.join(prefix, "bin"))
    tool = os.path.join(prefix, "bin", "word-lookup")
    shutil.copy2(TOOL, tool)
    missing = subprocess.run([tool, "info"], capture_output=True, text=True, timeout=300)
    want = os.path.join(prefix, "share", "emb", "vectors.bin")
    check(missing.returncode == 2 and "no vectors" in missing.stderr and want in missing.stderr,
          f"no shipped file: exit {missing.returncode}, {missing.stderr!r}")
    os.makedirs(os.path.dirname(want))
    shutil.copy2(SHIPPED, want)
    found = subprocess.run([tool, "--json", "info"], capture_output=True, text=True, timeout=300)
    doc = ok_json(found, "info from the moved tree")
    check(doc["words"] > 1000 and doc["format"] == "word2vec-binary", f"moved tree: {doc}")


def case_escapes(folder):
    """Bytes from a broken file reach the terminal escaped, on one line."""
    cases = [(b"\x1b[31m2 3\nx 1 2 3\n", "word2vec", "\\x1b[31m2 3"),
             (b"2\x00 3\nx 1 2 3\n", "word2vec", "2\\x00 3"),
             (b"ab\rcd\x07\x9b\n", "auto", "ab\\x0dcd\\x07\\x9b"),
             (b"1 1\nx \x1b]0;title\x07\n", "word2vec", "\\x1b]0;title\\x07"),
             (b"\xff\xfe 3\nx 1 2 3\n", "word2vec-binary", "\\xff\\xfe 3")]
    for i, (data, fmt, shown) in enumerate(cases):
        path = os.path.join(folder, f"broken{i}.vec")
        with open(path, "wb") as out:
            out.write(data)
        result = subprocess.run([TOOL, "--vectors", path, "--format", fmt, "info"],
                                capture_output=True, timeout=300)
        err = result.stderr
        check(result.returncode == 2, f"{data!r}: exit {result.returncode}")
        check(err.endswith(b"\n") and err.count(b"\n") == 1, f"{data!r}: not one line: {err!r}")
        check(all(b >= 0x20 and b != 0x7f for b in err[:-1]), f"{data!r}: raw control byte {err!r}")
        err.decode("utf-8")  # raises for bytes that are not UTF-8
        check(shown.encode() in err, f"{data!r}: {err!r} lacks {shown!r}")


USAGE = """usage: word-lookup [--vectors PATH] [--format auto|word2vec|word2vec-binary|glove|npy|
                   safetensors] [--vocab WORDS.txt] [--tensor NAME] [--limit N]
                   [--storage float32|float16|bfloat16|int8|int4|int2] [--json] COMMAND ...
  .npy tables take their words from --vocab (one a line; default: the file's .vocab);
  .safetensors from the file (or --vocab), the tensor "weight" or --tensor NAME.
  convert's --format names the format it writes; the input's is detected.
commands:
  info                                 words, dimension, format, load time
  vector WORD...                       the vectors
  similar WORD [--top K]               nearest neighbours by cosine (K default 10)
  analogy A B C [--top K] [--method add|mul]
                                       A is to B as C is to ?  (B - A + C, inputs excluded)
  similarity W1 W2                     cosine similarity
  odd-one-out W1 W2 W3 ...             the word that fits least
  eval-analogies FILE [--restrict N]   accuracy on a questions-words style file
  eval-pairs FILE [--restrict N]       Pearson, Spearman and OOV percent on a word-pair file
  plot WORD... --out FILE.svg          the words projected to 2-D (PCA), as an SVG scatter plot
  convert OUT --format FORMAT          writes word2vec, word2vec-binary, glove, npy or safetensors
  (no COMMAND)                         an interactive prompt with the same commands, help, quit
"""


def case_fasttext(folder):
    """fastText .bin models (tests/golden/fasttext): any word's vector, its neighbours, info."""
    golden = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "fasttext")
    model = os.path.join(golden, "skipgram.bin")
    info = ok_json(run("--vectors", model, "--json", "info"), "info")
    check(info["format"] == "fasttext-bin" and info["dim"] == 8, f"info {info}")
    check((info["minn"], info["maxn"], info["bucket"], info["ngram_rows"]) == (2, 5, 1000, 1000),
          f"subword settings {info}")
    similar = ok_json(run("--vectors", model, "--json", "similar", "kingz", "--top", "3"), "similar")
    check(len(similar["neighbours"]) == 3, f"similar kingz {similar}")
    vector = ok_json(run("--vectors", model, "--json", "vector", "kingz"), "vector")
    check(len(vector["vectors"][0]["vector"]) == 8, "a vector for an unknown word")
    # No n-gram buckets: an unknown word is an error naming the file (status 2).
    no_buckets = run("--vectors", os.path.join(golden, "word2vec.bin"), "vector", "kingz")
    check(no_buckets.returncode == 2 and "word2vec.bin" in no_buckets.stderr and
          "no n-gram buckets" in no_buckets.stderr, f"-maxn 0 model: {no_buckets.stderr}")
    refused = run("--vectors", os.path.join(golden, "classifier.ftz"), "info")
    check(refused.returncode == 2 and "supervised" in refused.stderr, f".ftz: {refused.stderr}")
    truncated = os.path.join(folder, "truncated.bin")
    with open(model, "rb") as f, open(truncated, "wb") as out:
        out.write(f.read(5000))
    bad = run("--vectors", truncated, "info")
    check(bad.returncode == 2 and "truncated.bin" in bad.stderr and "truncated" in bad.stderr,
          f"truncated: {bad.stderr}")
    check(run("--vectors", model, "--limit", "5", "info").returncode == 2, "--limit with a .bin")


def case_storage(folder):
    """--storage: the answers of a compressed table. float16 vectors are the file's rounded to
    nearest even (Python's struct 'e' rounds so too); int8 ones within a step of the row's range;
    a storage PyTorch refuses for the width, or an unknown one, is an error with status 2."""
    words, vectors, paths = small_files(folder)
    v = paths["word2vec-binary"]
    doc = ok_json(run("--vectors", v, "--storage", "float16", "--json", "vector", "w3"), "float16")
    half = [struct.unpack("<e", struct.pack("<e", struct.unpack("<f", struct.pack("<f", x))[0]))[0]
            for x in vectors[3]]
    # Printed to 8 significant digits: close enough to tell the half from the file's value.
    check(all(abs(a - b) <= 5e-8 * abs(b) for a, b in zip(doc["vectors"][0]["vector"], half)),
          f"float16 vector {doc} want {half}")
    doc = ok_json(run("--vectors", v, "--storage", "int8", "--json", "vector", "w3"), "int8")
    step = (max(vectors[3]) - min(vectors[3])) / 255
    check(all(abs(a - b) <= step for a, b in zip(doc["vectors"][0]["vector"], vectors[3])),
          f"int8 vector {doc}")
    ok_json(run("--vectors", v, "--storage", "int4", "--json", "similar", "w3"), "int4 similar")
    refused = run("--vectors", v, "--storage", "int2", "info")
    check(refused.returncode == 2 and "multiple of 4" in refused.stderr,
          f"int2 at width 6: {refused.returncode} {refused.stderr!r}")
    unknown = run("--vectors", v, "--storage", "int3", "info")
    check(unknown.returncode == 2 and "--storage is float32" in unknown.stderr,
          f"--storage int3: {unknown.returncode} {unknown.stderr!r}")


def case_help(folder):
    result = run("--help")
    check(result.returncode == 0 and result.stdout == USAGE, f"--help: {result.stdout!r}")
    _, _, paths = small_files(folder)
    bad = run("--vectors", paths["glove"], "frobnicate")
    check(bad.returncode == 2 and bad.stderr.endswith(USAGE), "a usage error prints the usage")


with tempfile.TemporaryDirectory() as scratch:
    globals()["case_" + CASE.replace("-", "_")](scratch)
print("passed:", CASE)
