#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded, repeatable time (the ctest
# entries of tests/fuzz/CMakeLists.txt):
#   run_fuzz.sh FUZZER SEED_DIR WORK_DIR RUNS MAX_SECONDS [libFuzzer flags...]
# The seed corpus is copied into WORK_DIR/corpus (the repository is never
# written). With -seed=1, that fresh copy, a fixed scratch directory
# (DGPG_FUZZ_TMP) and address randomisation off where the kernel allows it
# (setarch -R: libFuzzer learns from the operands of comparisons, pointers
# among them), the run makes the same RUNS executions every time, unless
# MAX_SECONDS comes first (a slower machine). A crash, leak, sanitizer
# report, hang (10 s on one input) or out-of-memory makes libFuzzer exit
# non-zero and save the input as WORK_DIR/artifacts/crash-* (leak-*,
# timeout-*, oom-*); this script then prints the input's path and fails.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 runs=$4 max_time=$5
shift 5
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"
norandom=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
    norandom=(setarch "$(uname -m)" -R)
fi
start=$(date +%s)
rc=0
DGPG_FUZZ_TMP="$work/tmp" "${norandom[@]}" "$fuzzer" -seed=1 -runs="$runs" \
    -max_total_time="$max_time" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" > "$work/fuzz.log" 2>&1 || rc=$?
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::' "$work/fuzz.log" || true
echo "run_fuzz: $(basename "$fuzzer"): exit $rc after $(( $(date +%s) - start )) s," \
     "corpus $(ls "$work/corpus" | wc -l) inputs${norandom[*]:+, ASLR off}; log $work/fuzz.log"
if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
    tail -n 80 "$work/fuzz.log"
    echo "run_fuzz: FAILED; the input(s): $(ls -d "$work"/artifacts/* 2>/dev/null | tr '\n' ' ')"
    echo "  reproduce: $fuzzer $(ls -d "$work"/artifacts/* 2>/dev/null | head -1)"
    exit 1
fi
