#!/usr/bin/env bash
# train-classifier against Debian's fastText (`fasttext supervised`) on the WordNet topics data
# set, the same settings on both sides, run alternately RUNS times; prints every run and the
# medians. The figures and their reading are in docs/CLASSIFIER.md.
#   scripts/compare-classifier.sh [BUILD_DIR] [RUNS] [THREADS]    (default build/release, 5, 2)
# Needs: fasttext and wordnet-base (scripts/setup.sh --bench). Work files go to WORK (default
# /tmp/emb-classifier-compare). CONFIGS (default "defaults ngrams") picks the settings; SHARED_DIR
# (default ../shared) holds scripts/make-wordnet-topics.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
runs=${2:-5}
threads=${3:-2}
work=${WORK:-/tmp/emb-classifier-compare}
configs=${CONFIGS:-defaults ngrams}
mkdir -p "$work"
[ -s "$work/train.txt" ] || bash "${SHARED_DIR:-../shared}/scripts/make-wordnet-topics.sh" "$work/train.txt" "$work/test.txt"
if [ ! -x "$build/examples/train-classifier" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEMB_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)" --target train-classifier >/dev/null
fi
emb=$build/examples/train-classifier

settings() {
  case $1 in
    defaults) echo "-epoch 5 -lr 0.1" ;;
    ngrams) echo "-epoch 25 -lr 0.5 -wordNgrams 2 -dim 50" ;;
    *) echo "unknown config $1" >&2; exit 2 ;;
  esac
}

one() {  # one TOOL CONFIG RUN: train, test; appends "tool config wall user p@1" to results
  local tool=$1 config=$2 run=$3 cmd
  [ "$tool" = fasttext ] && cmd=fasttext || cmd=$emb
  # shellcheck disable=SC2046
  /usr/bin/time -f "%e %U %M" -o "$work/time" "$cmd" supervised -input "$work/train.txt" \
    -output "$work/$tool-$config" -thread "$threads" -verbose 0 $(settings "$config")
  local p1
  p1=$("$cmd" test "$work/$tool-$config.bin" "$work/test.txt" | awk '$1 == "P@1" { print $2 }')
  read -r wall user rss <"$work/time"
  echo "$tool $config run $run: ${wall} s wall, ${user} s user, $((rss / 1024)) MiB, P@1 $p1 (load $(cut -d' ' -f1 /proc/loadavg))"
  echo "$tool $config $wall $user $p1" >>"$work/results"
}

: >"$work/results"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $threads threads"
for config in $configs; do
  echo "== $config: $(settings "$config")"
  for run in $(seq 1 "$runs"); do
    # Alternate which tool goes first, so that neither always runs on a warmer or busier machine.
    if [ $((run % 2)) = 1 ]; then order="fasttext emb"; else order="emb fasttext"; fi
    for tool in $order; do one "$tool" "$config" "$run"; done
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "== medians of $runs runs"
printf '%-9s %-9s %9s %9s %7s\n' config tool wall_s user_s P@1
for config in $configs; do
  for tool in fasttext emb; do
    sel() { awk -v t="$tool" -v c="$config" -v f="$1" '$1 == t && $2 == c { print $f }' "$work/results"; }
    printf '%-9s %-9s %9s %9s %7s\n' "$config" "$tool" "$(sel 3 | median)" "$(sel 4 | median)" "$(sel 5 | median)"
  done
done
