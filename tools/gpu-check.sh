#!/usr/bin/env bash
# gpu-check.sh — the device run: everything a lent GPU must verify, in one
# call of under 8 minutes, from the bundle tools/gpu-bundle.sh prepared
# (the device has nvcc, the CUDA libraries, compute-sanitizer and a Python
# with numpy and h5py, but none of dgpg's C libraries and no network).
#
# Steps, each timed and recorded (command, exit code, seconds, the end of
# its output) in one report, gpu-report.md, ready for docs/gpu.md:
#   1. nvidia-smi: the GPU, its driver and memory (no GPU: stop, exit 2);
#   2. every bundled binary's libraries resolve (ldd);
#   3. every GPU test, run directly, with DGPG_REQUIRE_GPU=1 so that a
#      skip is a failure: backend, trainer-ops, network and environment
#      parity, the eval table and the short trainings against the CPU;
#   4. compute-sanitizer memcheck and racecheck on the trainer-ops and
#      environment parity tests;
#   5. dgpg bench env on CUDA at N = 1500 and 10000 (E = 64), bench train on
#      CUDA at N = 1500 and 10000, and at 1500 with the rollout steps as
#      CUDA graphs (backend.cuda_graph);
#   6. a 20-episode training at N = 1500, E = 64 on CUDA, timed.
# Exit 0 when every step passed, 1 when one failed, 2 without a GPU.
#
# Usage: tools/gpu-check.sh [--bundle FILE] [--out DIR] [--python PY]
#   defaults: .gpu-bundle/dgpg-gpu.tar.xz, $OUT (the device tool's) or
#   ./gpu-check-out, python3
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=.gpu-bundle/dgpg-gpu.tar.xz
out=${OUT:-$PWD/gpu-check-out}
python=python3
while [ $# -gt 0 ]; do
    case $1 in
    --bundle) bundle=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    *) echo "gpu-check: unknown option '$1'; allowed: --bundle FILE, --out DIR, --python PY" >&2
       exit 2 ;;
    esac
done
mkdir -p "$out"
report=$out/gpu-report.md
work=$(mktemp -d /tmp/dgpg-gpu-check.XXXXXX)
failed=0
started=$(date +%s)
export DGPG_REQUIRE_GPU=1 PYTHONUNBUFFERED=1

note() { echo "$*" | tee -a "$report"; }

# The whole run stays under 8 minutes (the device tool allows 10 a call):
# a step gets at most what is left before DEADLINE_S, and a step with under
# 20 s left is recorded as not run.
deadline=$(( started + ${DEADLINE_S:-450} ))

# step NAME TIMEOUT_S COMMAND...: runs it, records it; returns its status
step() {
    local name=$1 limit=$2
    shift 2
    local left=$(( deadline - $(date +%s) ))
    if [ "$left" -lt 20 ]; then
        printf '\n### %s: NOT RUN (the 8-minute budget is spent)\n' "$name" >>"$report"
        echo "gpu-check: $name: not run (time)"
        failed=1
        return 1
    fi
    [ "$limit" -le "$left" ] || limit=$left
    local rc log=$work/step.log t0 ms
    t0=$(date +%s%N)
    timeout "$limit" "$@" >"$log" 2>&1
    rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    local secs
    secs=$(printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)))
    local verdict=ok
    if [ $rc -ne 0 ]; then
        verdict="FAILED (exit $rc$([ $rc -eq 124 ] && echo ", timed out after ${limit} s"))"
        failed=1
    fi
    {
        echo
        echo "### $name: $verdict, $secs s"
        echo
        echo '```'
        echo "\$ $*"
        tail -n 25 "$log"
        echo '```'
    } >>"$report"
    echo "gpu-check: $name: $verdict ($secs s)"
    return $rc
}

: >"$report"
note "# dgpg device run, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
if [ ! -f "$bundle" ]; then
    note "FAIL: bundle $bundle not found; allowed: the file tools/gpu-bundle.sh writes (carry .gpu-bundle)"
    exit 1
fi
tar -C "$work" -xJf "$bundle" || { note "FAIL: $bundle cannot be unpacked"; exit 1; }
root=$work/dgpg-gpu
bin=$root/bin
note ""
note "Bundle: $(sed -n 1,4p "$root/MANIFEST" | tr '\n' ';' | sed 's/;/; /g')"

# 1. the GPU: without one, stop loudly
if ! command -v nvidia-smi >/dev/null 2>&1 ||
   ! nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
        >"$work/gpu.txt" 2>&1; then
    note ""
    note "FAIL: no GPU: nvidia-smi $(command -v nvidia-smi >/dev/null && cat "$work/gpu.txt" || echo "not found"); this script needs a CUDA device (allowed: the device machine)"
    exit 2
fi
note "GPU: $(cat "$work/gpu.txt"); nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none); compute-sanitizer: $(command -v compute-sanitizer || echo none)"

# 2. every library resolves
libcheck() {
    local bad=0
    for b in "$bin"/*; do
        if ldd "$b" | grep "not found"; then bad=1; fi
    done
    return $bad
}
export -f libcheck
export bin
# `timeout` runs programs, not shell functions: through bash -c
step "libraries resolve (ldd)" 60 bash -c libcheck ||
    { note "FAIL: a library is missing (the step's output names it)"; exit 1; }

# 3. the GPU tests, each run directly
for t in test_gpu_backend_parity test_gpu_train_ops_parity test_gpu_mlp_parity \
         test_gpu_env_parity; do
    step "$t" 180 "$bin/$t"
done
step "test_gpu_eval" 120 bash "$root/tests/test_gpu_eval.sh" "$bin/dgpg"
step "test_gpu_train_parity" 300 "$python" "$root/tests/test_gpu_train_parity.py" "$bin/dgpg"

# 4. the sanitizers on the parity tests of the ops and the environment
if command -v compute-sanitizer >/dev/null 2>&1; then
    for tool in memcheck racecheck; do
        for t in test_gpu_train_ops_parity test_gpu_env_parity; do
            step "compute-sanitizer --tool $tool $t" 90 \
                compute-sanitizer --tool "$tool" --error-exitcode 3 "$bin/$t"
        done
    done
else
    note "compute-sanitizer: not found, the sanitizer steps did not run"
    failed=1
fi

# 5. benchmarks
cd "$work"
step "bench env cuda N=1500 E=64" 120 "$bin/dgpg" bench env --backend cuda --n 1500 --e 64
step "bench env cuda N=10000 E=64" 180 "$bin/dgpg" bench env --backend cuda --n 10000 --e 64
step "bench train cuda N=1500,10000" 300 "$bin/dgpg" bench train --backend cuda --n 1500,10000
step "bench train cuda N=1500, rollout steps as CUDA graphs" 120 "$bin/dgpg" bench train \
    --backend cuda --n 1500 --set backend.cuda_graph=true

# 6. a 20-episode training at N = 1500
step "train cuda N=1500 E=64 20 episodes" 300 "$bin/dgpg" train --force \
    --set backend.kind=cuda --set env.n_agents=1500 --set env.n_envs=64 \
    --set train.episodes=20 --set log.dir="$work/runs" --set train.name=n1500

note ""
note "Total: $(( $(date +%s) - started )) s; $([ $failed -eq 0 ] && echo "every step passed" || echo "a step FAILED")"
echo "gpu-check: report in $report"
exit $failed
