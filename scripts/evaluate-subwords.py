#!/usr/bin/env python3
"""Scores a fastText .bin model (fastText's or train-word2vec's) with gensim, the same way for both.

    scripts/evaluate-subwords.py MODEL.bin DATA_DIR [HELD_OUT_WORDS]

Loads MODEL.bin with gensim's load_facebook_model and prints, one "name value" a line:
- analogy: gensim's evaluate_word_analogies on DATA_DIR/questions-words.txt (3CosAdd, the
  300,000 most frequent words, case-insensitive; questions with a word outside the model's
  vocabulary skipped), and the number of questions answered;
- wordsim353, simlex999: Spearman of gensim's evaluate_word_pairs (pairs with an unknown word
  skipped);
- with HELD_OUT_WORDS (scripts/holdout-vocabulary.py's list of words removed from the training
  corpus): heldout_analogy, the 3CosAdd accuracy on the questions that have at least one held-out
  word and whose other words are in the model's vocabulary. Every vector, of a held-out word
  too, is gensim's FastTextKeyedVectors.get_vector (the mean of the word's n-gram rows for an
  unknown word); the candidates for the answer are the model's words and the held-out words,
  minus the three question words, as in gensim's most_similar. Questions are lowercased (the
  corpus is lowercase).
"""
import sys

import numpy as np
from gensim.models.fasttext import load_facebook_model


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    model, data = sys.argv[1], sys.argv[2]
    wv = load_facebook_model(model).wv
    score, sections = wv.evaluate_word_analogies(f"{data}/questions-words.txt")
    answered = sum(len(s["correct"]) + len(s["incorrect"]) for s in sections if s["section"] == "Total accuracy")
    print(f"analogy {score:.4f} questions {answered}")
    for name, path in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        pearson, spearman, oov = wv.evaluate_word_pairs(f"{data}/{path}")
        print(f"{name} {spearman[0]:.4f} oov% {oov:.1f}")
    if len(sys.argv) == 4:
        with open(sys.argv[3], encoding="utf-8") as f:
            held = [line.split()[0] for line in f if line.strip()]
        candidates = [w for w in wv.index_to_key if w != "</s>"] + held
        index = {w: i for i, w in enumerate(candidates)}
        held_set = set(held)
        vectors = np.stack([wv.get_vector(w) for w in candidates]).astype(np.float64)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.where(norms > 0, norms, 1)
        questions = []
        with open(f"{data}/questions-words.txt", encoding="utf-8") as f:
            for line in f:
                if line.startswith(":"):
                    continue
                q = line.lower().split()
                if len(q) == 4 and all(w in index for w in q) and any(w in held_set for w in q):
                    questions.append([index[w] for w in q])
        q = np.array(questions)
        correct = 0
        for start in range(0, len(q), 256):
            batch = q[start:start + 256]
            target = unit[batch[:, 1]] - unit[batch[:, 0]] + unit[batch[:, 2]]
            target /= np.linalg.norm(target, axis=1, keepdims=True)
            sims = target @ unit.T
            for k in range(3):
                sims[np.arange(len(batch)), batch[:, k]] = -np.inf
            correct += int(np.sum(np.argmax(sims, axis=1) == batch[:, 3]))
        print(f"heldout_analogy {correct / len(q):.4f} questions {len(q)}")


if __name__ == "__main__":
    main()
