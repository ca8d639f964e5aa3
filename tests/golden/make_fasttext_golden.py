"""Trains tiny fastText models with Debian's `fasttext` and records what fastText and gensim say
about them, read back by tests/io_fasttext.cpp.

    /usr/bin/python3 tests/golden/make_fasttext_golden.py --seed 1 --out tests/golden/fasttext/golden.txt

Beside OUT it writes skipgram.bin (-minn 2 -maxn 5 -bucket 1000 -dim 8), cbow.bin (cbow, -loss
hs, -minn 3 -maxn 6 -bucket 997 -dim 6), word2vec.bin (skipgram -maxn 0: no n-grams, bucket 0)
and classifier.ftz (a quantized supervised model, which the reader must refuse), trained on one
thread with fastText's -seed, the word models for 20 epochs at -lr 0.5 (so that their vectors
spread out: a neighbour's cosine is not a near-tie). The corpus is made up from --seed: lines on
one of 12 topics (a topic's words co-occur), syllable words with non-ASCII ones mixed in (ß,
Cyrillic, CJK, an emoji); or read from --corpus.
Golden lines, fields separated by single spaces, words written as hex bytes ("-" for none):

    model FILE VERSION DIM MINN MAXN BUCKET NWORDS NTOKENS    gensim's reading of FILE's header
    entry INDEX WORD COUNT                fastText's `dump FILE dict`: dictionary entry INDEX
    fasttext WORD V1 ... VD               fastText's print-word-vectors (5 significant digits)
    gensim WORD V1 ... VD                 gensim load_facebook_model(FILE).wv[word] (float32)
    ngrams WORD NGRAM...                  fastText's print-ngrams: the word (when known) and its
                                          n-grams, in order
    similar WORD K (WORD SIM)*            gensim wv.most_similar(WORD, topn=K)
    similarity W1 W2 SIM                  gensim wv.similarity(W1, W2)
    analogy A B C K (WORD SIM)*           gensim wv.most_similar(positive=[B, C], negative=[A])
    cosmul A B C K (WORD SIM)*            gensim wv.most_similar_cosmul(positive=[B, C],
                                          negative=[A])
    odd N W1 ... WN ANSWER                gensim wv.doesnt_match([W1 ... WN])
The other lines are about the last `model` line. The queries (models with n-grams only) mix
known and unknown words, answered by gensim's FastTextKeyedVectors with the vector of </s> set to
fastText's (its own row: gensim gives it n-grams, fastText none).
"""

import argparse
import logging
import os
import random
import subprocess
import tempfile

import numpy as np

logging.disable(logging.WARNING)  # gensim logs every OOV word it is asked about


def make_corpus(path, seed, lines=2500):
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "tu", "re", "sa", "no", "vi", "de", "po", "ra", "zu", "the",
                 "ing", "str", "qu"]
    special = ["straße", "straßen", "мир", "миру", "naïve", "café", "東京", "東京都", "😀",
               "日本語", "ölfass", "αλφα"]
    words = list(special)
    while len(words) < 600:
        w = "".join(rng.choice(syllables) for _ in range(rng.randint(1, 4)))
        if w not in words:
            words.append(w)
    topics = 12
    with open(path, "w", encoding="utf-8") as out:
        for _ in range(lines):
            topic = words[rng.randrange(topics)::topics]
            weights = [1.0 / (i + 1) for i in range(len(topic))]  # Zipf-like counts
            out.write(" ".join(rng.choices(topic, weights, k=rng.randint(5, 20))) + "\n")
    return words


def run(args, stdin=None):
    return subprocess.run(args, input=stdin, capture_output=True, check=True).stdout


def train(kind, corpus, output, seed, options):
    run(["fasttext", kind, "-input", corpus, "-output", output, "-epoch", "20", "-lr", "0.5",
         "-thread", "1", "-seed", str(seed), "-verbose", "0", "-minCount", "3"] + options)
    os.remove(output + ".vec")
    return output + ".bin"


def hexword(word):
    return word.encode("utf-8").hex() if isinstance(word, str) else word.hex()


def query_words(rng, vocab, count):
    """Known words, the end-of-sentence token, and unknown ones (misspellings, non-ASCII, short)."""
    known = [vocab[0], vocab[1], vocab[len(vocab) // 2], vocab[-1]] + rng.sample(vocab, 6)
    unknown = ["kingz", "a", "ab", "straßenbahn", "мирный", "東京タワー", "😀😀", "Ölfass",
               "xqxqxqxqxqxqxqxq"]
    letters = "abcdefghijklmnopqrstuvwxyzßéø東мα"
    while len(unknown) < count:
        w = "".join(rng.choice(letters) for _ in range(rng.randint(1, 12)))
        if w not in vocab:
            unknown.append(w)
    # Bytes that are not UTF-8 (a stray continuation byte, a truncated sequence): fastText only.
    raw = [b"\x80abc", b"caf\xc3", b"\xe6\x9d\xb1x"]
    return list(dict.fromkeys(known + ["</s>"] + unknown)), raw


def record(out, path, rng, cases):
    from gensim.models.fasttext import load_facebook_model
    from gensim.models import _fasttext_bin

    with open(path, "rb") as f:
        header = _fasttext_bin.load(f, full_model=False)
    with open(path, "rb") as f:
        version = int(np.frombuffer(f.read(8), dtype="<i4")[1])
    name = os.path.basename(path)
    out.write(f"model {name} {version} {header.dim} {header.minn} {header.maxn} {header.bucket} "
              f"{header.nwords} {header.ntokens}\n")

    dump = run(["fasttext", "dump", path, "dict"]).decode("utf-8").splitlines()
    entries = [line.rsplit(" ", 2) for line in dump[1:]]
    vocab = [word for word, _, _ in entries]
    for i in sorted({0, 1, len(entries) // 3, len(entries) - 1}):
        word, count, _ = entries[i]
        out.write(f"entry {i} {hexword(word)} {count}\n")

    words, raw = query_words(rng, vocab, cases)
    encoded = [w.encode("utf-8") for w in words] + raw
    printed = run(["fasttext", "print-word-vectors", path], b"\n".join(encoded) + b"\n")
    lines = printed.split(b"\n")[:len(encoded)]
    for word, line in zip(encoded, lines):
        values = line.split(b" ")[-header.dim - 1:-1]  # "word v1 ... vd " (a trailing space)
        assert len(values) == header.dim, line
        out.write(f"fasttext {hexword(word)} " + " ".join(v.decode() for v in values) + "\n")

    model = load_facebook_model(path)
    for word in words:
        # gensim gives </s> n-grams where fastText gives none, and has no vector for an unknown
        # word of a model without n-grams: neither is compared.
        if word == "</s>" or (header.bucket == 0 and word not in model.wv.key_to_index):
            continue
        vector = model.wv[word]
        out.write(f"gensim {hexword(word)} " + " ".join(repr(float(v)) for v in vector) + "\n")

    if header.bucket > 0:
        record_queries(out, model.wv, words)

    if header.maxn > 0:
        for word in words[:3] + words[-3:] + ["</s>"]:
            printed = run(["fasttext", "print-ngrams", path, word]).decode("utf-8").splitlines()
            ngrams = [line.rsplit(" ", header.dim + 1)[0] for line in printed if line]
            out.write(f"ngrams {hexword(word)} " + " ".join(hexword(n) for n in ngrams) + "\n")


def record_queries(out, wv, words):
    eos = wv.key_to_index.get("</s>")
    if eos is not None:
        wv.vectors[eos] = wv.vectors_vocab[eos]
        wv.fill_norms(force=True)
    # A word whose vector is all zeros (its n-gram rows can be, in fastText's own model) has no
    # cosine with anything: gensim answers nan, in an arbitrary order. Not asked about.
    def usable(w):
        return bool(np.any(wv[w]))

    known = [w for w in words if w in wv.key_to_index and w != "</s>" and usable(w)]
    unknown = [w for w in words if w not in wv.key_to_index and usable(w)]

    def answers(pairs):
        return " ".join(f"{hexword(w)} {float(s)!r}" for w, s in pairs)

    for word in unknown[:6] + known[:2]:
        out.write(f"similar {hexword(word)} 5 {answers(wv.most_similar(word, topn=5))}\n")
    for w1, w2 in zip(unknown[:4], known[:2] + unknown[4:6]):
        out.write(f"similarity {hexword(w1)} {hexword(w2)} {float(wv.similarity(w1, w2))!r}\n")
    for a, b, c in [(known[0], unknown[0], known[1]), (unknown[1], known[2], unknown[2])]:
        question = f"{hexword(a)} {hexword(b)} {hexword(c)} 4"
        add = wv.most_similar(positive=[b, c], negative=[a], topn=4)
        mul = wv.most_similar_cosmul(positive=[b, c], negative=[a], topn=4)
        out.write(f"analogy {question} {answers(add)}\n")
        out.write(f"cosmul {question} {answers(mul)}\n")
    group = [known[0], known[1], unknown[0], unknown[3]]
    out.write(f"odd 4 {' '.join(hexword(w) for w in group)} {hexword(wv.doesnt_match(group))}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=30, help="unknown words asked about")
    parser.add_argument("--corpus", help="train on this text instead of a made-up corpus")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    folder = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as work:
        corpus = args.corpus
        if corpus is None:
            corpus = os.path.join(work, "corpus.txt")
            make_corpus(corpus, args.seed)
        seed = args.seed % 1000000
        models = [
            train("skipgram", corpus, os.path.join(folder, "skipgram"), seed,
                  ["-minn", "2", "-maxn", "5", "-bucket", "1000", "-dim", "8"]),
            train("cbow", corpus, os.path.join(folder, "cbow"), seed,
                  ["-loss", "hs", "-bucket", "997", "-dim", "6"]),
            train("skipgram", corpus, os.path.join(folder, "word2vec"), seed,
                  ["-maxn", "0", "-dim", "5"]),
        ]
        # A classifier, quantized: labelled lines from the corpus, two labels.
        labelled = os.path.join(work, "labelled.txt")
        with open(corpus, encoding="utf-8") as f, open(labelled, "w", encoding="utf-8") as out:
            for i, line in enumerate(f):
                if i == 400:
                    break
                out.write(f"__label__{'ab'[i % 2]} {line}")
        classifier = os.path.join(work, "classifier")
        run(["fasttext", "supervised", "-input", labelled, "-output", classifier, "-dim", "4",
             "-epoch", "1", "-thread", "1", "-seed", str(seed), "-verbose", "0"])
        run(["fasttext", "quantize", "-input", labelled, "-output", classifier, "-dsub", "2"])
        os.replace(classifier + ".ftz", os.path.join(folder, "classifier.ftz"))
    with open(args.out, "w", encoding="utf-8") as out:
        for path in models:
            record(out, path, rng, args.cases)


if __name__ == "__main__":
    main()
