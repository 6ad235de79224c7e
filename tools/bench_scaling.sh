#!/usr/bin/env bash
# Strong scaling of training over MPI ranks: `dgpg bench train` at one N
# with the same total E on 1 rank and on K ranks (one thread each, so K
# ranks use K cores), and the efficiency rate_K / (K rate_1).
#   bash tools/bench_scaling.sh [DGPG] [K]      (defaults: build/dgpg, 2)
# N, E and the episodes come from the environment: N=200 E=16 EPISODES=2.
set -euo pipefail
dgpg=${1:-build/dgpg}
ranks=${2:-2}
n=${N:-200}
envs=${E:-16}
episodes=${EPISODES:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rate() { # ranks -> agent-steps/s of the N row
    mpirun --oversubscribe -np "$1" "$dgpg" bench train --n "$n" --set env.n_envs="$envs" \
        --set train.episodes="$episodes" --set backend.threads=1 |
        awk -v n="$n" '$1 == n { print $2 }'
}
one=$(rate 1)
many=$(rate "$ranks")
awk -v a="$one" -v b="$many" -v k="$ranks" -v n="$n" -v e="$envs" 'BEGIN {
    printf "dgpg bench scaling: N = %d, E = %d in total, 1 thread per rank\n", n, e
    printf "1 rank: %.4g agent-steps/s; %d ranks: %.4g agent-steps/s; efficiency %.2f\n",
           a, k, b, b / (k * a) }'
