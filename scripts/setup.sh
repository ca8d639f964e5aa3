#!/usr/bin/env bash
# Installs what emb needs on Debian/Ubuntu, skipping packages already present.
#   scripts/setup.sh           build + tests: compilers, CMake, Eigen, nlohmann-json, Catch2,
#                              clang-format, PyTorch, NumPy, gensim and fastText (reference values
#                              for the conformance tests), Open MPI
#   scripts/setup.sh --run     only what building the tools needs (nlohmann-json for word-lookup)
#   scripts/setup.sh --bench   also Google Benchmark, LibTorch, fastText and hyperfine
set -euo pipefail

packages=(build-essential cmake libeigen3-dev nlohmann-json3-dev)
case "${1:-}" in
  --run) ;;
  --bench) packages+=(catch2 clang libomp-dev libbenchmark-dev libtorch-dev python3-torch
                      python3-gensim fasttext hyperfine dict-gcide wordnet-base) ;;
  "") packages+=(catch2 clang clang-format libclang-rt-14-dev libomp-dev python3-torch python3-gensim
                 python3-numpy strace fasttext) ;;
  *) echo "usage: scripts/setup.sh [--run|--bench]" >&2; exit 2 ;;
esac
# Open MPI: emb::distributed (emb/distributed.hpp), its tests, example and benchmark.
case "${1:-}" in
  --bench|"") packages+=(openmpi-bin libopenmpi-dev) ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "setup: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
