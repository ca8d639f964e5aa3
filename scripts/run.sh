#!/usr/bin/env bash
# The main job, from a fresh Debian/Ubuntu machine: setup, an optimized build, then the
# quickstart walkthrough.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --run
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DEMB_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target quickstart >/dev/null
build/release/examples/quickstart
