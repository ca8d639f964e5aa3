#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: setup, format check, then build and
# run every test with g++ and clang++ (warnings as errors) and once under ASan+UBSan. The
# find_package consumer test runs inside each build's CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/check-format.sh

jobs=$(nproc)
build() {  # build NAME CXX BUILD_TYPE [extra CMake arguments...]
  local name=$1 cxx=$2 type=$3
  shift 3
  echo "=== $name: $cxx $type $*"
  cmake -S . -B "build/$name" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$type" \
    -DEMB_WARNINGS_AS_ERRORS=ON "$@" >/dev/null
  cmake --build "build/$name" -j "$jobs"
  ctest --test-dir "build/$name" -j "$jobs" --output-on-failure
}

build gcc g++ RelWithDebInfo
build clang clang++ Debug
build asan g++ Debug \
  "-DCMAKE_CXX_FLAGS=-O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# The readers' libFuzzer target, a fixed 30-second run from the checked-in seeds (clang++ only).
echo "=== fuzz: clang++ libFuzzer + ASan + UBSan, the vector-file readers"
cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DEMB_WARNINGS_AS_ERRORS=ON -DEMB_BUILD_FUZZERS=ON >/dev/null
cmake --build build/fuzz -j "$jobs" --target fuzz_readers
ctest --test-dir build/fuzz -R '^fuzz_' --output-on-failure
echo "all test builds passed"
