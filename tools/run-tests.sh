#!/usr/bin/env bash
# Builds dgpg and runs every test: the release build (with the CUDA
# kernels compiled, warnings as errors, when nvcc is present) runs the whole
# ctest suite; an ASan+UBSan build runs the tests labelled "fast"; a clang
# libFuzzer build (ASan+UBSan) runs the fuzz targets of tests/fuzz, each for
# a fixed number of executions (about a minute; tests/README.md). Where nvcc
# is present, the device run's bundle is prepared and its size checked
# (tools/gpu-bundle.sh), and the device script must fail loudly here, where
# there is no GPU (tools/gpu-check.sh: exit 2, "no GPU").
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

if command -v nvcc >/dev/null 2>&1; then
    bash tools/gpu-bundle.sh .gpu-bundle
    set +e
    bash tools/gpu-check.sh --bundle .gpu-bundle/dgpg-gpu.tar.xz --out build/gpu-check
    rc=$?
    set -e
    if [ $rc -ne 2 ] || ! grep -q "FAIL: no GPU" build/gpu-check/gpu-report.md; then
        echo "run-tests: tools/gpu-check.sh without a GPU exited $rc without 'FAIL: no GPU'; it must fail loudly" >&2
        exit 1
    fi
    echo "run-tests: tools/gpu-check.sh fails loudly without a GPU (exit 2), as it must"
fi
