#!/usr/bin/env bash
# train-word2vec's subword skip-gram against Debian's fastText (`fasttext skipgram`, minn 3,
# maxn 6) on the same corpus with the same settings, run one after the other, then both .bin
# models scored by the same gensim evaluator (scripts/evaluate-subwords.py). Then both again on
# the corpus with 10 % of its vocabulary held out (scripts/holdout-vocabulary.py), scored on the
# analogy questions that use a held-out word. The figures are in docs/WORD2VEC.md.
#   scripts/compare-fasttext-subwords.sh [BUILD_DIR] [THREADS]    (default build/release, 2)
# Needs: fasttext, python3 with gensim and numpy, dict-gcide and wordnet-base for the corpus
# (scripts/setup.sh --bench), and the evaluation sets in ../shared/data (or EMB_SHARED_DATA_DIR).
# Work files (four models of about 850 MB each) go to WORK (default /tmp/emb-subwords-compare).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
threads=${2:-2}
data=${EMB_SHARED_DATA_DIR:-../shared/data}
work=${WORK:-/tmp/emb-subwords-compare}
python=${PYTHON:-/usr/bin/python3}
mkdir -p "$work"
corpus=$work/corpus.txt
[ -s "$corpus" ] || bash ../shared/scripts/make-dictionary-corpus.sh "$corpus"
if [ ! -x "$build/examples/train-word2vec" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEMB_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)" --target train-word2vec >/dev/null
fi
[ -s "$work/corpus-holdout.txt" ] ||
  "$python" scripts/holdout-vocabulary.py "$corpus" "$work/corpus-holdout.txt" \
    "$work/holdout-words.txt"

run() {  # run NAME COMMAND...: wall and CPU time to NAME.time, output to NAME.log
  local name=$1
  shift
  echo "== $name: $*"
  echo "load before: $(uptime)"
  /usr/bin/time -f "%e s wall, %U s user, %S s system, %M KB max RSS" -o "$work/$name.time" \
    "$@" >"$work/$name.log" 2>&1
  echo "load after:  $(uptime)"
  cat "$work/$name.time"
}

# The settings of the comparison; everything else is each tool's default, the same in both
# (lr 0.05, ws 5, neg 5, t 1e-4, bucket 2,000,000).
settings=(-dim 100 -epoch 5 -minCount 5 -thread "$threads" -minn 3 -maxn 6)
for part in full holdout; do
  input=$corpus
  [ $part = full ] || input=$work/corpus-holdout.txt
  run fasttext-$part fasttext skipgram -input "$input" -output "$work/fasttext-$part" "${settings[@]}"
  run emb-$part "$build/examples/train-word2vec" -input "$input" -output "$work/emb-$part.vec" \
    -saveModel "$work/emb-$part.bin" "${settings[@]}" -verbose 1
done

tokens=$(wc -w <"$corpus")
for name in fasttext-full emb-full; do
  wall=$(cut -d' ' -f1 "$work/$name.time")
  echo "$name: $(awk -v t="$tokens" -v w="$wall" 'BEGIN { printf "%.0f", 5 * t / w }') corpus words/sec over the whole run ($wall s wall)"
done
echo "fastText's last progress line: $(tr '\r' '\n' <"$work/fasttext-full.log" | grep words/sec | tail -1)"
grep -E "^trained" "$work/emb-full.log"

for name in fasttext-full emb-full; do
  echo "== $name"
  "$python" scripts/evaluate-subwords.py "$work/$name.bin" "$data"
done
for name in fasttext-holdout emb-holdout; do
  echo "== $name"
  "$python" scripts/evaluate-subwords.py "$work/$name.bin" "$data" "$work/holdout-words.txt"
done
