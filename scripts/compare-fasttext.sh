#!/usr/bin/env bash
# train-word2vec against Debian's fastText (skipgram, -maxn 0: plain word2vec) on the same
# corpus with the same settings, back to back, then both vector files evaluated by word-lookup.
# The figures and their reading are in docs/WORD2VEC.md.
#   scripts/compare-fasttext.sh [BUILD_DIR] [THREADS]     (default build/release, 2)
# Needs: fasttext, dict-gcide and wordnet-base (scripts/setup.sh --bench), and the evaluation
# sets in ../shared/data (or EMB_SHARED_DATA_DIR). Work files go to WORK (default
# /tmp/emb-word2vec-compare).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
threads=${2:-2}
data=${EMB_SHARED_DATA_DIR:-../shared/data}
work=${WORK:-/tmp/emb-word2vec-compare}
mkdir -p "$work"
corpus=$work/corpus.txt
[ -s "$corpus" ] || bash ../shared/scripts/make-dictionary-corpus.sh "$corpus"
if [ ! -x "$build/examples/train-word2vec" ] || [ ! -x "$build/examples/word-lookup" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEMB_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)" --target train-word2vec word-lookup >/dev/null
fi

# The same hyper-parameters on both sides; lr 0.05 is fastText's skipgram default.
fasttext_cmd=(fasttext skipgram -input "$corpus" -output "$work/fasttext" -dim 100 -ws 5 -neg 5
              -epoch 5 -minCount 5 -thread "$threads" -lr 0.05 -t 1e-4 -maxn 0)
emb_cmd=("$build/examples/train-word2vec" -input "$corpus" -output "$work/emb.vec" -dim 100
         -ws 5 -neg 5 -epoch 5 -minCount 5 -thread "$threads" -lr 0.05 -t 1e-4 -seed 1)

run() {  # run NAME COMMAND...: wall and CPU time to NAME.time, output to NAME.log
  local name=$1
  shift
  echo "== $name: $*"
  echo "load before: $(uptime)"
  /usr/bin/time -f "%e s wall, %U s user, %S s system" -o "$work/$name.time" "$@" \
    >"$work/$name.log" 2>&1
  echo "load after:  $(uptime)"
  cat "$work/$name.time"
}
run fasttext "${fasttext_cmd[@]}"
run emb "${emb_cmd[@]}"

tokens=$(wc -w <"$corpus")
echo "== corpus: $tokens tokens, $(wc -l <"$corpus") lines"
# fastText counts words per thread and includes one end-of-line token per line.
echo "fastText's last progress line: $(tr '\r' '\n' <"$work/fasttext.log" | grep words/sec | tail -1)"
grep -E "^trained" "$work/emb.log"
for name in fasttext emb; do
  wall=$(cut -d' ' -f1 "$work/$name.time")
  echo "$name: $(awk -v t="$tokens" -v w="$wall" 'BEGIN { printf "%.0f", 5 * t / w }') corpus words/sec over the whole run ($wall s wall)"
done

lookup=$build/examples/word-lookup
for vectors in "$work/fasttext.vec" "$work/emb.vec"; do
  echo "== $vectors"
  "$lookup" --vectors "$vectors" eval-analogies "$data/questions-words.txt" | tail -1
  for pairs in wordsim353.tsv simlex999.txt; do
    echo "$pairs: $("$lookup" --vectors "$vectors" eval-pairs "$data/$pairs" | tr '\n' ' ')"
  done
done
