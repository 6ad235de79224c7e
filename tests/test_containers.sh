#!/usr/bin/env bash
# The container files, checked without a container engine (the CI machine
# has none): docker/Dockerfile with hadolint (a real Dockerfile linter,
# installed with the test tools), the Apptainer definition's structure (no
# linter exists for it: a header with Bootstrap and From, and the sections
# dgpg relies on), and the Slurm example's shell syntax. Fails, naming the
# install command, if hadolint is missing. Usage: test_containers.sh HADOLINT
set -u
hadolint=$1
root=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0
check() { # NAME, then a command
    local name=$1
    shift
    if "$@" >/tmp/dgpg-containers.$$ 2>&1; then
        echo "ok - $name"; passed=$((passed + 1))
    else
        echo "not ok - $name: $(head -c 600 /tmp/dgpg-containers.$$)"; failed=$((failed + 1))
    fi
    rm -f /tmp/dgpg-containers.$$
}
if [ ! -x "$hadolint" ]; then
    # the linter is this test's oracle: without it the test fails, it never skips
    echo "not ok - no hadolint at $hadolint; install it with: bash tools/install-deps.sh --test"
    exit 1
fi
check "hadolint passes docker/Dockerfile" "$hadolint" "$root/docker/Dockerfile"
check "the Dockerfile has a build and a runtime stage" \
    grep -qE "^FROM .* AS runtime" "$root/docker/Dockerfile"
def=$root/docker/dgpg.def
check "dgpg.def starts with Bootstrap and From" \
    bash -c "head -n 20 '$def' | grep -v '^#' | grep -q '^Bootstrap: ' && grep -q '^From: ' '$def'"
for section in environment runscript test help; do
    check "dgpg.def has %$section" grep -q "^%$section" "$def"
done
check "the sbatch example is valid bash" bash -n "$root/experiments/slurm/scaling.sbatch"
check "the sbatch example asks Slurm for GPUs and MPI ranks" \
    bash -c "grep -q '^#SBATCH --gpus-per-node' '$root/experiments/slurm/scaling.sbatch' && grep -q 'srun .*--mpi=' '$root/experiments/slurm/scaling.sbatch'"
echo "containers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
