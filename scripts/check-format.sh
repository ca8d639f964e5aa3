#!/usr/bin/env bash
# Fails when a C++ file is not formatted as .clang-format says (clang-format 14).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.hpp' '*.cpp' 2>/dev/null || find include tests examples benchmarks -name '*.[hc]pp')
clang-format --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files clean"
