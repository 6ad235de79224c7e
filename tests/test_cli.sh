#!/usr/bin/env bash
# The command line behaves as a user of a well-made tool expects: --help
# and --version on stdout with exit 0, every command's --help, and every
# misuse refused with a message naming what was wrong and exit code 2,
# before any work starts. Usage: test_cli.sh DGPG_BINARY SCRATCH_DIR
set -u
dgpg=$1
scratch=$2
mkdir -p "$scratch"
passed=0
failed=0

# expect_env NAME CODE PATTERN "VAR=VALUE ..." -- ARGS...: dgpg run with
# those environment variables exits with CODE, its output matching PATTERN
expect_env() {
    local name=$1 code=$2 pattern=$3 envs=$4
    shift 5
    local out rc args=("$@")
    # a command expected to run pins the CPU: backend.kind auto would pick a
    # device where one is visible (a refusal happens before any backend)
    case "${args[0]:-}" in
    train | eval | bench)
        if [ "$code" -eq 0 ] && [[ " ${args[*]} " != *" --resume "* ]] &&
           [[ " ${args[*]} " != *backend.kind=* ]] && [[ " ${args[*]} " != *" --backend "* ]]; then
            args+=(--set backend.kind=cpu)
        fi ;;
    esac
    out=$(env $envs timeout 60 "$dgpg" "${args[@]}" 2>&1)
    rc=$?
    if [ "$rc" -eq "$code" ] && grep -qE -- "$pattern" <<<"$out"; then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        echo "not ok - $name: exit $rc (wanted $code), output: $(head -c 400 <<<"$out")"
        failed=$((failed + 1))
    fi
}
# expect NAME CODE PATTERN -- ARGS...: the same in dgpg's own environment
expect() {
    local name=$1 code=$2 pattern=$3
    shift 4
    expect_env "$name" "$code" "$pattern" "" -- "$@"
}

expect "--help" 0 "usage: dgpg" -- --help
expect "-h" 0 "commands:" -- -h
expect "--version names the version" 0 "^dgpg [0-9]+\.[0-9]+\.[0-9]+$" -- --version
expect "--version names the backends" 0 "^backends: cpu" -- --version
expect "--version names the BLAS, its core and the ISA" 0 "^blas: OpenBLAS [0-9.]+, core [A-Za-z0-9]+ \(.*\); cpu: x86-64.*libxsmm" -- --version
# the BLAS core (src/backends/blas_core.h): a bad policy is refused; a generic core
# on a CPU with AVX2 or AVX-512 is replaced by a restart that says so; a
# core the CPU lacks is replaced (checkable only on a CPU without AVX-512)
expect_env "DGPG_BLAS_CORE bad value refused" 2 "DGPG_BLAS_CORE = 'fast' is not a policy; allowed: auto, best, keep" "DGPG_BLAS_CORE=fast" -- --version
if grep -qw avx512f /proc/cpuinfo; then best=SkylakeX; elif grep -qw avx2 /proc/cpuinfo; then best=Haswell; else best=""; fi
if [ -n "$best" ]; then
    expect_env "a generic core is replaced, with one line" 0 "OpenBLAS runs its Prescott kernels \(SSE\) on a CPU with AVX.*restarting with OPENBLAS_CORETYPE=$best" "OPENBLAS_CORETYPE=Prescott DGPG_BLAS_CORE=best" -- --version
    expect_env "the replaced core is the one that runs" 0 "core $best \(chosen by dgpg\)" "OPENBLAS_CORETYPE=Prescott DGPG_BLAS_CORE=best" -- --version
    expect_env "a user's lower core is kept and the better one named" 0 "core Prescott \(OPENBLAS_CORETYPE; the CPU can run $best" "OPENBLAS_CORETYPE=Prescott" -- --version
    expect_env "keep never restarts" 0 "core Prescott" "OPENBLAS_CORETYPE=Prescott DGPG_BLAS_CORE=keep" -- --version
fi
if [ "$best" = Haswell ]; then
    expect_env "a core the CPU lacks is replaced" 0 "OPENBLAS_CORETYPE=SkylakeX needs AVX-512, which this CPU lacks.*restarting with OPENBLAS_CORETYPE=Haswell" "OPENBLAS_CORETYPE=SkylakeX" -- --version
else
    echo "# a core the CPU lacks: not checkable here (this CPU has ${best:-no AVX2})"
fi
# bench train's phase table: the phases of an episode add up to its time
bench_out=$(timeout 120 "$dgpg" bench train --n 30 --set env.n_envs=4 --set env.horizon=50 \
    --set algo.minibatches=1 --set backend.kind=cpu 2>&1)
if awk '/seconds\/episode$/ { getline; total = $5 }
        /rollout st\/s/ { getline; sum = $2 + $3 + $4 + $5 + $6 + $7; found = 1 }
        END { exit !(found && total > 0 && sum > 0.8 * total - 0.01 && sum < 1.05 * total + 0.01) }' \
    <<<"$bench_out"; then
    echo "ok - bench train's phases add up to its seconds per episode"
    passed=$((passed + 1))
else
    echo "not ok - bench train's phases add up to its seconds per episode: $(tail -c 600 <<<"$bench_out")"
    failed=$((failed + 1))
fi
expect "config --help" 0 "usage: dgpg config" -- config --help
expect "eval --help" 0 "usage: dgpg eval" -- eval --help
expect "bench --help" 0 "usage: dgpg bench env" -- bench --help
expect "bench env --help" 0 "usage: dgpg bench env" -- bench env --help
expect "train --help" 0 "usage: dgpg train" -- train --help
expect "train --resume without a run" 2 "--resume .*no readable" -- train --resume /nonexistent/run
expect "train --resume with CONFIG" 2 "allowed: no CONFIG" -- train --resume x a.yaml
expect "no command" 2 "usage: dgpg" --
expect "unknown command" 2 "unknown command 'frobnicate'; allowed: config, train, eval, report, bench" -- frobnicate
expect "unknown option" 2 "unknown option '--bogus'" -- eval --bogus
expect "two config files" 2 "more than one CONFIG" -- config a.yaml b.yaml
expect "bench without a benchmark" 2 "allowed: env" -- bench
expect "bench bad threads" 2 "--threads 'x'" -- bench env --threads x
expect "bench bad steps" 2 "--steps '0'" -- bench env --steps 0
expect "eval N = 0" 2 "env.n_agents = '0'.*allowed" -- eval --set env.n_agents=0
expect "eval M = 1" 2 "env.n_pools = '1'.*allowed" -- eval --set env.n_pools=1
expect "eval negative rate" 2 "env.lambda_mean = '-2'.*allowed" -- eval --set env.lambda_mean=-2
expect "eval buffer 0" 2 "env.buffer_steps = '0'.*allowed" -- eval --set env.buffer_steps=0
expect "eval one scenario" 2 "eval.scenarios = '1'.*allowed" -- eval --scenarios 1
expect "eval unknown policy" 2 "unknown policy 'greedy'.*allowed: random" -- eval --policy greedy
expect "eval N*E too large" 2 "memory" -- eval --set env.n_agents=10000000 --set env.n_envs=1000000
expect "unknown env" 2 "env.name = 'nosuch'.*allowed: cloud" -- eval --set env.name=nosuch
expect "unknown model" 2 "model.name = 'nosuch'.*allowed: cloud_mm1" -- eval --set model.name=nosuch
# a device index no machine has: refused with the reason on any build
expect "cuda training on a missing device refused" 2 "backend.kind = .cuda.*allowed: cpu" -- train --force --set log.dir="$scratch/runs" --set backend.kind=cuda --set backend.device=1000
expect "cuda bench on a missing device refused" 2 "backend.kind = .cuda.*allowed: cpu" -- bench train --backend cuda --set backend.device=1000
expect "rate beyond the sampler" 2 "env.rho.*allowed" -- eval --set env.n_agents=10000000 --set env.lambda_mean=100 --set env.rho=0.001 --set env.n_envs=1 --set env.day_length=1
# a row per policy with its three columns (mean +- half width); the numbers
# themselves are checked against the HDF5 table in tests/test_eval_h5.py
expect "eval runs and prints a policy's row" 0 "^random +([0-9]+\.[0-9]{4} \+- [0-9]+\.[0-9]{4} +){2}[0-9]+\.[0-9]{4} \+- [0-9]+\.[0-9]{4} *$" -- eval --policy pstar,random --scenarios 2 --output - --set env.n_envs=2 --set env.horizon=20

# a trained run beside the heuristics, and refused for another N
tiny=(--set env.n_envs=2 --set env.horizon=20)
"$dgpg" train --force --set log.dir="$scratch/runs" --set train.name=tiny --set env.n_agents=4 \
    --set backend.kind=cpu \
    --set train.episodes=1 "${tiny[@]}" >/dev/null 2>&1
expect "eval a trained run" 0 "^run:.*tiny +[0-9.]+ \+-" -- eval --policy pstar,run:"$scratch/runs/tiny" --scenarios 2 --output - --set env.n_agents=4 "${tiny[@]}"
expect "eval a run of another N refused" 2 "trained for env.n_agents = 4.*allowed" -- eval --policy run:"$scratch/runs/tiny" --scenarios 2 --output - "${tiny[@]}"
expect "eval a missing run refused" 2 "run '/nonexistent': no readable" -- eval --policy run:/nonexistent --scenarios 2 --output - "${tiny[@]}"
# held out means not trained on: a run of one fixed scenario is refused on
# evaluation scenarios that include it, accepted on others
"$dgpg" train --force --set log.dir="$scratch/runs" --set train.name=tiny_fixed --set env.n_agents=4 \
    --set backend.kind=cpu \
    --set env.scenarios=fixed --set env.seed=1001 --set train.episodes=1 "${tiny[@]}" >/dev/null 2>&1
expect "eval on the fixed scenario trained on refused" 2 "env.seed = 1001.*eval.seed = 1000 .. 1001; allowed: evaluation seeds that exclude it" -- eval --policy run:"$scratch/runs/tiny_fixed" --scenarios 2 --output - --set env.n_agents=4 "${tiny[@]}"
expect "eval of a fixed-scenario run elsewhere" 0 "^run:.*tiny_fixed +[0-9.]+ \+-" -- eval --policy pstar,run:"$scratch/runs/tiny_fixed" --scenarios 2 --output - --set eval.seed=1002 --set env.n_agents=4 "${tiny[@]}"
expect "eval has the state-dependent p*(s) sampler" 0 "^pstar_state +[0-9.]+ \+-" -- eval --policy pstar,pstar_state --scenarios 2 --output - --set env.n_envs=2 --set env.horizon=20
expect "unknown model reference" 2 "model.reference.*allowed.*state.*static" -- eval --set model.reference=dynamic
expect "unknown scenario mode" 2 "env.scenarios.*allowed.*sampled.*fixed" -- eval --set env.scenarios=some

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
