#!/usr/bin/env bash
# Builds the word vectors the project ships, examples/data/vectors.bin, from WordNet's glosses
# (Debian package wordnet-base, WordNet 3.0 licence: permissive), with train-word2vec on one
# thread and a fixed seed, so the file is the same on every run of the same build. Then asks the
# README's question (king - man + woman) and, when ../shared/data holds the evaluation sets,
# prints the accuracy examples/data/README.md publishes. About 4 minutes of one core.
#   scripts/make-shipped-vectors.sh [BUILD_DIR]     (default build/release; built if missing)
# Only WordNet is used, not dict-gcide: the GCIDE is GPL, and vectors derived from it would
# carry that question into an MIT project. See examples/data/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
corpus=$(mktemp --suffix=.txt)
trap 'rm -f "$corpus"' EXIT

if [ ! -f /usr/share/wordnet/data.noun ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq wordnet-base >/dev/null
fi

# The glosses and example sentences of every synset: the WordNet half of
# ../shared/scripts/make-dictionary-corpus.sh's corpus, tokenized as it does (lower case,
# [a-z]+('[a-z]+)?, one definition or example a line, lines of at least 3 tokens).
python3 - "$corpus" <<'PY'
import re, sys
tok = re.compile(r"[a-z]+(?:'[a-z]+)?")
n = 0
with open(sys.argv[1], 'w') as out:
    for pos in ['noun', 'verb', 'adj', 'adv']:
        for line in open(f'/usr/share/wordnet/data.{pos}', encoding='utf-8', errors='ignore'):
            if not line.startswith('  ') and '|' in line:
                for part in line.split('|', 1)[1].split(';'):
                    ws = tok.findall(part.lower())
                    if len(ws) >= 3:
                        out.write(' '.join(ws) + '\n')
                        n += len(ws)
print(f'{n} tokens of WordNet glosses', file=sys.stderr)
PY

if [ ! -x "$build/examples/train-word2vec" ] || [ ! -x "$build/examples/word-lookup" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEMB_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)" --target train-word2vec word-lookup >/dev/null
fi
mkdir -p examples/data
# fastText's defaults (-ws 5 -neg 5 -minCount 5 -t 1e-4 -lr 0.05 -seed 0) given explicitly; 50
# dimensions and 10 epochs, so that a small corpus gives a file under 5 MB and trains enough.
"$build/examples/train-word2vec" -input "$corpus" -output examples/data/vectors.bin -binary \
  -dim 50 -ws 5 -neg 5 -epoch 10 -minCount 5 -t 1e-4 -lr 0.05 -thread 1 -seed 0 -verbose 1
size=$(stat -c %s examples/data/vectors.bin)
[ "$size" -le $((5 * 1024 * 1024)) ] || { echo "vectors.bin is $size bytes, over 5 MB" >&2; exit 1; }
echo "examples/data/vectors.bin: $size bytes, sha256 $(sha256sum examples/data/vectors.bin | cut -c1-64)"

lookup=("$build/examples/word-lookup" --vectors examples/data/vectors.bin)
"${lookup[@]}" analogy man king woman --top 5
data=${EMB_SHARED_DATA_DIR:-../shared/data}
if [ -f "$data/questions-words.txt" ]; then
  "${lookup[@]}" eval-analogies "$data/questions-words.txt" | tail -1
  "${lookup[@]}" eval-pairs "$data/wordsim353.tsv"
  "${lookup[@]}" eval-pairs "$data/simlex999.txt"
fi
