#!/usr/bin/env bash
# (ctest label gpu) `dgpg eval` on the CUDA backend prints the same table as
# on the CPU backend, to the last digit: the environment is bitwise the same
# on both (envs/cloud/tests/test_gpu_env_parity.c), and so are the heuristics (pstar_state
# included). Exits 77 (skipped) where no CUDA device is visible, 1 there
# when DGPG_REQUIRE_GPU is set.
# Usage: test_gpu_eval.sh DGPG_BINARY
set -u
dgpg=$1
args=(eval --policy random,jsq,power_of_two,led,pstar,pstar_state --scenarios 3 --output -
      --set env.n_agents=40 --set env.n_envs=8 --set env.horizon=60 --set env.job_size=bimodal)
gpu=$("$dgpg" "${args[@]}" --set backend.kind=cuda 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "no CUDA device is visible" <<<"$gpu"; then
    # DGPG_REQUIRE_GPU (tools/gpu-check.sh): a missing device is a failure
    if [ -n "${DGPG_REQUIRE_GPU:-}" ] && [ "${DGPG_REQUIRE_GPU}" != 0 ]; then
        echo "FAIL test_gpu_eval: DGPG_REQUIRE_GPU is set and no CUDA device is visible"
        exit 1
    fi
    echo "SKIP test_gpu_eval: no CUDA device visible"
    exit 77
fi
cpu=$("$dgpg" "${args[@]}" --set backend.kind=cpu 2>&1)
if [ $rc -eq 0 ] && [ "$gpu" = "$cpu" ]; then
    echo "ok - eval table identical on cuda and cpu"
    echo "gpu_eval: 1 passed, 0 failed"
    exit 0
fi
echo "not ok - eval on cuda (exit $rc) differs from cpu:"
diff <(echo "$cpu") <(echo "$gpu")
echo "gpu_eval: 0 passed, 1 failed"
exit 1
