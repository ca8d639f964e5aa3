"""Writes word-vector files and gensim's answers on them, read back by tests/word_vectors.cpp.

    /usr/bin/python3 tests/golden/make_word_vectors_golden.py --seed 1 --out tests/golden/word_vectors/golden.txt

Beside OUT it writes vectors.txt (word2vec text), vectors.bin (word2vec binary), vectors.glove
(GloVe text, no header), all holding the same random vectors with planted analogies, plus
questions.txt (analogies) and pairs.tsv (word-pair judgements). With --shared DIR (default:
../shared/data beside the repository, when present) it also records gensim's answers on the
real files there. Golden lines, one query each, fields separated by single spaces:

    file NAME FORMAT                         the following lines are about this file
    similar WORD K (WORD SIM)*               most_similar(WORD, topn=K)
    analogy A B C K (WORD SIM)*              most_similar(positive=[B, C], negative=[A], topn=K)
    cosmul A B C K (WORD SIM)*               most_similar_cosmul(positive=[B, C], negative=[A], topn=K)
    similarity W1 W2 SIM
    odd N W1 ... WN ANSWER                   doesnt_match([W1 ... WN])
    analogies FILE RESTRICT ACC CORRECT TOTAL NSEC (NAME CORRECT TOTAL)*
    pairs FILE RESTRICT PEARSON SPEARMAN OOV
FILE is relative to the golden file's folder, or shared/NAME for the shared data.
"""

import argparse
import logging
import os
import random

import numpy as np
from gensim.models import KeyedVectors

logging.disable(logging.WARNING)  # gensim warns about OOV lines, on purpose here


def make_words(rng, count):
    # Mixed case variants (evaluations compare upper-cased words; the first variant wins), and
    # non-ASCII words whose upper case differs (ß -> SS, Greek, Cyrillic).
    special = ["Paris", "paris", "PARIS", "ölfass", "Ölfass", "straße", "STRASSE", "αλφα", "Αλφα",
               "мир", "Мир", "naïve", "café"]
    words = list(special)
    syllables = ["ka", "lo", "mi", "tu", "re", "sa", "no", "vi", "de", "po", "ra", "zu"]
    while len(words) < count:
        w = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if w not in words:
            words.append(w)
    return words


def write_data(folder, seed, count, dim):
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    words = make_words(rng, count)
    vectors = nrng.normal(size=(count, dim)).astype(np.float32)
    # Planted analogies: y = x + offset (+ noise) for pairs in two relations.
    pairs = {}
    order = list(range(20, count))
    rng.shuffle(order)
    for relation in range(2):
        offset = nrng.normal(size=dim).astype(np.float32) * 1.5
        chosen = order[relation * 60:(relation + 1) * 60]
        rel_pairs = list(zip(chosen[0::2], chosen[1::2]))
        for x, y in rel_pairs:
            vectors[y] = vectors[x] + offset + nrng.normal(size=dim).astype(np.float32) * 0.6
        pairs[relation] = rel_pairs
    vectors[5] = 0.0  # a zero vector: never a neighbour (NaN similarity)
    vectors[5, 0] = 1e-3

    kv = KeyedVectors(dim, dtype=np.float32)
    kv.add_vectors(words, vectors)
    kv.save_word2vec_format(os.path.join(folder, "vectors.txt"), binary=False)
    kv.save_word2vec_format(os.path.join(folder, "vectors.bin"), binary=True)
    kv.save_word2vec_format(os.path.join(folder, "vectors.glove"), binary=False, write_header=False)

    with open(os.path.join(folder, "questions.txt"), "w", encoding="utf-8") as out:
        for relation, rel_pairs in pairs.items():
            out.write(f": relation-{relation}\n")
            for i, (x1, y1) in enumerate(rel_pairs):
                for x2, y2 in rel_pairs[i + 1:i + 6]:
                    ws = [words[x1], words[y1], words[x2], words[y2]]
                    if rng.random() < 0.3:
                        ws = [w.upper() for w in ws]
                    out.write(" ".join(ws) + "\n")
            out.write("only three words\n")
            out.write(f"{words[rel_pairs[0][0]]} unknownword {words[rel_pairs[1][0]]} {words[3]}\n")
        out.write(": case-variants\n")
        for a, b, c, d in [("paris", "ölfass", "straße", "мир"), ("PARIS", "Αλφα", "naïve", "café"),
                           ("мир", "Paris", "ölfass", "strasse")]:
            out.write(f"{a} {b} {c} {d}\n")

    with open(os.path.join(folder, "pairs.tsv"), "w", encoding="utf-8") as out:
        out.write("# word pairs with made-up scores\n#\n")
        for _ in range(80):
            a, b = rng.sample(words, 2)
            if rng.random() < 0.2:
                a = a.upper()
            out.write(f"{a}\t{b}\t{rng.randint(0, 10)}\n")  # integer scores: many ties
        out.write("unknownword\tparis\t3.5\n")
        out.write("a line without tabs\n")
        out.write(f"{words[30]}\t{words[31]}\tnot-a-number\n")
    return words


def fmt(x):
    return repr(float(x))


def record(out, kv, name, fmt_name, folder_ref, probe_words, triples, restricts, analogy_files,
           pair_files):
    out.write(f"file {name} {fmt_name}\n")
    for w in probe_words:
        sims = kv.most_similar(w, topn=8)
        out.write(f"similar {w} 8 " + " ".join(f"{x} {fmt(s)}" for x, s in sims) + "\n")
    for a, b, c in triples:
        sims = kv.most_similar(positive=[b, c], negative=[a], topn=6)
        out.write(f"analogy {a} {b} {c} 6 " + " ".join(f"{x} {fmt(s)}" for x, s in sims) + "\n")
        sims = kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=6)
        out.write(f"cosmul {a} {b} {c} 6 " + " ".join(f"{x} {fmt(s)}" for x, s in sims) + "\n")
    for a, b, _ in triples:
        out.write(f"similarity {a} {b} {fmt(kv.similarity(a, b))}\n")
    for group in [probe_words[:4], probe_words[2:7]]:
        out.write(f"odd {len(group)} {' '.join(group)} {kv.doesnt_match(group)}\n")
    for restrict in restricts:
        for path, ref in analogy_files:
            score, sections = kv.evaluate_word_analogies(path, restrict_vocab=restrict)
            secs = sections[:-1]
            total = sections[-1]
            fields = [ref, str(restrict), fmt(score), str(len(total["correct"])),
                      str(len(total["correct"]) + len(total["incorrect"])), str(len(secs))]
            for s in secs:
                fields += [s["section"].replace(" ", "_"), str(len(s["correct"])),
                           str(len(s["correct"]) + len(s["incorrect"]))]
            out.write("analogies " + " ".join(fields) + "\n")
        for path, ref in pair_files:
            pearson, spearman, oov = kv.evaluate_word_pairs(path, restrict_vocab=restrict)
            out.write(f"pairs {ref} {restrict} {fmt(pearson[0])} {fmt(spearman[0])} {fmt(oov)}\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=400, help="number of words")
    parser.add_argument("--out", required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--shared", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    args = parser.parse_args()

    folder = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    words = write_data(folder, args.seed, max(args.cases, 150), 24)
    rng = random.Random(args.seed + 1)
    probe = ["paris", "Paris", "ölfass", "αλφα"] + rng.sample(words[20:], 6)
    triples = [tuple(rng.sample(words[20:], 3)) for _ in range(5)] + [("paris", "ölfass", "мир")]
    with open(args.out, "w", encoding="utf-8") as out:
        for name, fmt_name, binary, header in [("vectors.txt", "word2vec", False, True),
                                               ("vectors.bin", "word2vec-binary", True, True),
                                               ("vectors.glove", "glove", False, False)]:
            kv = KeyedVectors.load_word2vec_format(os.path.join(folder, name), binary=binary,
                                                   no_header=not header)
            record(out, kv, name, fmt_name, folder, probe, triples, [300000, 250],
                   [(os.path.join(folder, "questions.txt"), "questions.txt")],
                   [(os.path.join(folder, "pairs.tsv"), "pairs.tsv")])
        if os.path.isdir(args.shared):
            shared = lambda f: (os.path.join(args.shared, f), "shared/" + f)
            for name, fmt_name, binary, header, probe_words in [
                    ("lee_fasttext.vec", "word2vec", False, True, "a"),
                    ("euclidean_vectors.bin", "word2vec-binary", True, True, "he"),
                    ("test_glove.txt", "glove", False, False, "and")]:
                kv = KeyedVectors.load_word2vec_format(os.path.join(args.shared, name), binary=binary,
                                                       no_header=not header)
                keys = kv.index_to_key
                probe_words = [probe_words] + [keys[i] for i in (1, 4, 9, 17, 33, 65) if i < len(keys)]
                trip = [tuple(probe_words[i:i + 3]) for i in range(0, 4)]
                evals = [] if name == "test_glove.txt" else [shared("questions-words.txt")]
                pair_evals = [] if name == "test_glove.txt" else [shared("wordsim353.tsv"), shared("simlex999.txt")]
                record(out, kv, "shared/" + name, fmt_name, None, probe_words, trip, [300000, 1000],
                       evals, pair_evals)


if __name__ == "__main__":
    main()
