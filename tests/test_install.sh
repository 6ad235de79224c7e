#!/usr/bin/env bash
# An installed dgpg is a library a plug-in author can build against:
# `cmake --install` puts libdgpg.so, include/dgpg/, the CMake package and
# dgpg.pc under a prefix; examples/toy_plugin (an environment and model
# written against the installed header only) builds with find_package and
# with pkg-config, trains through dgpg_cli, and is evaluated beside its
# heuristics; bad plug-in names are refused; the installed binary draws its
# figures with the installed tools. Truth: what the user asked for (exit
# codes, files, the documented messages) and the toy's own closed form
# (its p* policy costs exactly 1.000 x p*; a trained policy ends below
# the uniform one's 2.1 x p* at N = 20, M = 4).
# Usage: test_install.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR PYTHON
set -u
build=$1
source=$2
scratch=$3
python=$4
rm -rf "$scratch"
mkdir -p "$scratch"
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1: $2"; failed=$((failed + 1)); }
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$(tail -c 600 <<<"$out")"; fi
}

prefix=$scratch/prefix
check "cmake --install into a fresh prefix" cmake --install "$build" --prefix "$prefix"
for f in include/dgpg/dgpg.h lib/libdgpg.so lib/cmake/dgpg/dgpgConfig.cmake \
         lib/cmake/dgpg/dgpgConfigVersion.cmake lib/pkgconfig/dgpg.pc bin/dgpg \
         share/dgpg/tools/report_figures.py; do
    if [ -e "$prefix/$f" ]; then ok "installed $f"; else not_ok "installed $f" "missing"; fi
done

# the example, out of tree, against the install only
check "examples/toy_plugin configures with find_package(dgpg)" \
    cmake -S "$source/examples/toy_plugin" -B "$scratch/toy" -DCMAKE_PREFIX_PATH="$prefix"
check "examples/toy_plugin builds" cmake --build "$scratch/toy"
toy=$scratch/toy/toy_dgpg
if command -v pkg-config >/dev/null; then
    # shellcheck disable=SC2046
    check "examples/toy_plugin builds with pkg-config alone" \
        env PKG_CONFIG_PATH="$prefix/lib/pkgconfig" sh -c \
        "cc -Wall -Wextra -Werror -o '$scratch/toy_pc' '$source/examples/toy_plugin/toy.c' \
            \$(pkg-config --cflags --libs dgpg) -Wl,-rpath,'$prefix/lib'"
else
    not_ok "examples/toy_plugin builds with pkg-config alone" "pkg-config not found"
fi

run=$scratch/run
mkdir -p "$run"
toy_sets=(--set env.name=toy --set model.name=toy_balance --set env.n_agents=20
          --set env.n_pools=4 --set env.n_envs=8 --set env.horizon=50 --set backend.threads=1)
out=$(cd "$run" && "$toy" train "${toy_sets[@]}" --set train.episodes=15 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -f "$run/runs/default/log.h5" ] && [ -f "$run/runs/default/checkpoint.h5" ]; then
    ok "the toy plug-in trains through dgpg_cli (log and checkpoint written)"
else
    not_ok "the toy plug-in trains through dgpg_cli" "exit $rc: $(tail -c 400 <<<"$out")"
fi
last=$(grep -o 'cost / cost(p\*) [0-9.]* (first episode) -> [0-9.]*' <<<"$out" | awk '{print $NF}')
if [ -n "$last" ] && awk -v x="$last" 'BEGIN { exit !(x < 1.5) }'; then
    ok "it learns: the last episode's cost is $last x p* (uniform play: 2.1)"
else
    not_ok "it learns" "last cost ratio '$last'"
fi
out=$(cd "$run" && "$toy" eval "${toy_sets[@]}" --policy random,pstar,run:runs/default \
      --scenarios 2 --output - 2>&1)
rc=$?
pstar=$(awk '$1 == "pstar" {print $(NF-2)}' <<<"$out")
if [ $rc -eq 0 ] && [ "$pstar" = "1.0000" ] && grep -q "^run:default" <<<"$out"; then
    ok "dgpg eval runs the toy's heuristics and the trained run (p*: 1.0000 x p*)"
else
    not_ok "dgpg eval of the toy" "exit $rc, pstar '$pstar': $(tail -c 400 <<<"$out")"
fi

# the toy's own key and statistics: its column in the progress lines and
# the eval table, its key set and checked, another plug-in's keys refused
if grep -q "overload_rate" <<<"$(cd "$run" && "$toy" train "${toy_sets[@]}" --set train.name=keys \
        --set env.overload=1.2 --set train.episodes=1 2>&1)" &&
   grep -q "overload_rate (1)" <<<"$out"; then
    ok "the toy's env.overload is read, its overload_rate is a column of train and eval"
else
    not_ok "the toy's own key and column" "$(tail -c 300 <<<"$out")"
fi

# bad plug-in names: one line naming what and what is allowed, exit 2
refused() { # refused NAME PATTERN ARGS...
    local name=$1 pattern=$2
    shift 2
    local out rc
    out=$(cd "$run" && "$toy" "$@" 2>&1)
    rc=$?
    if [ $rc -eq 2 ] && grep -qE -- "$pattern" <<<"$out"; then
        ok "$name"
    else
        not_ok "$name" "exit $rc: $(tail -c 300 <<<"$out")"
    fi
}
refused "an unknown environment is refused, naming the registered ones" \
    "env.name = 'nope'.*allowed: .*toy" train --set train.name=bad --set env.name=nope
refused "a model of another environment is refused, naming the toy's own" \
    "model.name = 'cloud_mm1'.*env 'toy'; allowed: toy_balance$" train --set train.name=bad --set env.name=toy \
    --set model.name=cloud_mm1
refused "a key of the cloud environment is refused for the toy, naming whose it is" \
    "env.rho: unknown key in section 'env' \(a key of environment 'cloud', not of this config's 'toy'\); allowed: .*overload" \
    train --set train.name=bad "${toy_sets[@]}" --set env.rho=0.9
refused "the toy's key is refused for the cloud environment" \
    "env.overload: unknown key .*a key of environment 'toy', not of this config's 'cloud'" \
    train --set train.name=bad --set env.overload=2
refused "a value out of the toy's row's range is refused with the range" \
    "env.overload = '0.5': out of range; allowed: a number in \(1, 100\]" \
    train --set train.name=bad "${toy_sets[@]}" --set env.overload=0.5
refused "--backend cuda for a plug-in without a CUDA implementation is refused" \
    "no CUDA implementation" train --force "${toy_sets[@]}" --set backend.kind=cuda
# ... before --force touched the run it would have replaced
if [ -f "$run/runs/default/log.h5" ] && [ -f "$run/runs/default/checkpoint.h5" ]; then
    ok "a refused --force run leaves the existing run's files in place"
else
    not_ok "a refused --force run leaves the existing run's files in place" "files removed"
fi

# a plug-in without a pstar policy: training draws its reference from the
# model (the toy's p* policy and the model's p* are the same law, so its
# cost ratio is as meaningful), and so does eval
if out=$(env PKG_CONFIG_PATH="$prefix/lib/pkgconfig" sh -c \
        "cc -DTOY_WITHOUT_PSTAR -Wall -Wextra -Werror -o '$scratch/toy_nopstar' \
            '$source/examples/toy_plugin/toy.c' \$(pkg-config --cflags --libs dgpg) \
            -Wl,-rpath,'$prefix/lib'" 2>&1); then
    out=$(cd "$run" && "$scratch/toy_nopstar" train "${toy_sets[@]}" --set train.name=nopstar \
          --set train.episodes=15 2>&1)
    rc=$?
    last=$(grep -o 'cost / cost(p\*) [0-9.]* (first episode) -> [0-9.]*' <<<"$out" | awk '{print $NF}')
    if [ $rc -eq 0 ] && [ -n "$last" ] && awk -v x="$last" 'BEGIN { exit !(x < 1.5) }'; then
        ok "without a pstar policy the toy trains against its model's p* (last: $last x p*)"
    else
        not_ok "without a pstar policy the toy trains" "exit $rc: $(tail -c 400 <<<"$out")"
    fi
    out=$(cd "$run" && "$scratch/toy_nopstar" eval "${toy_sets[@]}" --policy random,pstar \
          --scenarios 2 --output - 2>&1)
    rc=$?
    pstar=$(awk '$1 == "pstar" {print $(NF-2)}' <<<"$out")
    random=$(awk '$1 == "random" {print $(NF-2)}' <<<"$out")
    if [ $rc -eq 0 ] && [ "$pstar" = "1.0000" ] && awk -v x="$random" 'BEGIN { exit !(x > 1.2) }'; then
        ok "without a pstar policy eval measures against the model's p* (random: $random x p*)"
    else
        not_ok "without a pstar policy eval runs" "exit $rc: $(tail -c 300 <<<"$out")"
    fi
else
    not_ok "the toy builds without its pstar policy" "$(tail -c 400 <<<"$out")"
fi

# the installed binary finds the installed tools for its figures
out=$(DGPG_PYTHON=$python "$prefix/bin/dgpg" report "$run/runs/default/log.h5" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -f "$run/runs/default/figures/learning_curves.png" ]; then
    ok "the installed dgpg report draws figures with share/dgpg/tools"
else
    not_ok "the installed dgpg report draws figures" "exit $rc: $(tail -c 400 <<<"$out")"
fi

echo "test_install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
