#!/usr/bin/env bash
# Builds dgpg and runs every test: the release build (with the CUDA
# kernels compiled, warnings as errors, when nvcc is present) runs the whole
# ctest suite; an ASan+UBSan build runs the tests labelled "fast"; a clang
# libFuzzer build (ASan+UBSan) runs the fuzz targets of tests/fuzz, each for
# a fixed number of executions (about a minute; tests/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDGPG_SANITIZE=ON -DDGPG_CUDA=OFF -DDGPG_MPI=OFF
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -L fast

cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DDGPG_FUZZ=ON
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz --output-on-failure -j"$jobs" -L fuzz
