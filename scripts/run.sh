#!/usr/bin/env bash
# The main job, from a fresh Debian/Ubuntu machine: setup, an optimized build of the word-lookup
# tool, then a few queries on the word vectors the project ships (examples/data/vectors.bin).
# Arguments, if any, are passed to word-lookup instead: scripts/run.sh analogy man king woman
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --run
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DEMB_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target word-lookup >/dev/null
lookup=build/release/examples/word-lookup
if [ $# -gt 0 ]; then
  exec "$lookup" "$@"
fi
"$lookup" info
echo
"$lookup" similar king
echo
"$lookup" analogy man king woman --top 5
