#!/usr/bin/env bash
# test_config.sh DGPG_BINARY SCRATCH_DIR
#
# Bad config input must give exit code 2 and one line on stderr naming the
# file, the line, the key, the value and the problem; a good file must load,
# print, and load back from its own printout unchanged.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 DGPG_BINARY SCRATCH_DIR" >&2
    exit 2
fi
DGPG=$1
DIR=$2
mkdir -p "$DIR" || exit 2

PASSED=0
FAILED=0

ok() { echo "ok - $1"; PASSED=$((PASSED + 1)); }
not_ok() { echo "not ok - $1: $2"; FAILED=$((FAILED + 1)); }

# write NAME CONTENT: the file is created in the scratch dir; prints its path.
write() {
    printf '%s' "$2" >"$DIR/$1"
    printf '%s' "$DIR/$1"
}

# fail_case NAME NEEDLES ARGS...: runs `dgpg ARGS...`, expects exit 2 and a
# single stderr line holding every '|'-separated needle (fixed strings).
fail_case() {
    local name=$1 needles=$2
    shift 2
    local rc err lines needle missing=""
    timeout 60 "$DGPG" "$@" >"$DIR/stdout" 2>"$DIR/stderr"
    rc=$?
    err=$(cat "$DIR/stderr")
    if [ "$rc" -ne 2 ]; then
        not_ok "$name" "exit code $rc, expected 2; stderr: $err"
        return
    fi
    lines=$(wc -l <"$DIR/stderr")
    if [ "$lines" -ne 1 ]; then
        not_ok "$name" "stderr has $lines lines, expected 1: $err"
        return
    fi
    IFS='|' read -r -a parts <<<"$needles"
    for needle in "${parts[@]}"; do
        if ! grep -qF -- "$needle" "$DIR/stderr"; then
            missing="$missing '$needle'"
        fi
    done
    if [ -n "$missing" ]; then
        not_ok "$name" "stderr lacks$missing: $err"
        return
    fi
    ok "$name"
}

# ---- unknown names -------------------------------------------------------
f=$(write unknown_key.yaml $'env:\n  n_agents: 5\n  foo: 3\n')
fail_case "unknown key" "$f:3|env.foo|unknown key|n_agents" config "$f"

f=$(write unknown_section.yaml $'# comment\nenvx:\n  n_agents: 5\n')
fail_case "unknown section" "$f:2|envx|unknown section|env, model" config "$f"

# ---- wrong types ---------------------------------------------------------
f=$(write mapping_for_scalar.yaml $'env:\n  n_agents: {a: 1}\n')
fail_case "wrong type: mapping where a scalar goes" "$f:2|env.n_agents|wrong type" config "$f"

f=$(write block_mapping_for_scalar.yaml $'env:\n  n_agents:\n    a: 1\n')
fail_case "wrong type: block mapping where a scalar goes" "$f:3|env.n_agents|wrong type" \
    config "$f"

f=$(write sequence_for_scalar.yaml $'algo:\n  lr: [0.1, 0.2]\n')
fail_case "wrong type: sequence where a scalar goes" "$f:2|algo.lr|wrong type" config "$f"

f=$(write scalar_for_section.yaml $'model:\n  barrier: 0.9\nenv: 5\n')
fail_case "wrong type: scalar where a section goes" "$f:3|env|'5'|wrong type" config "$f"

f=$(write sequence_for_section.yaml $'env:\n  - n_agents\n')
fail_case "wrong type: sequence where a section goes" "$f:2|env|wrong type" config "$f"

f=$(write scalar_file.yaml $'hello\n')
fail_case "wrong type: the file is a scalar" "$f:1|hello|wrong type" config "$f"

# ---- out of range --------------------------------------------------------
f=$(write n_agents_0.yaml $'env:\n  n_agents: 0\n')
fail_case "out of range: n_agents 0" "$f:2|env.n_agents|'0'|out of range|[2, 10000000]" config "$f"

f=$(write n_pools_1.yaml $'env:\n  name: cloud\n  n_pools: 1\n')
fail_case "out of range: n_pools 1" "$f:3|env.n_pools|'1'|out of range|[2, 1024]" config "$f"

f=$(write lambda_mean_neg.yaml $'env:\n  lambda_mean: -1\n')
fail_case "out of range: lambda_mean -1" "$f:2|env.lambda_mean|'-1'|out of range|[1.0e-06, 100]" config "$f"

f=$(write buffer_steps_0.yaml $'env:\n  buffer_steps: 0\n')
fail_case "out of range: buffer_steps 0" "$f:2|env.buffer_steps|'0'|out of range|(0" config "$f"

f=$(write rho_0.yaml $'\nenv:\n  rho: 0\n')
fail_case "out of range: rho 0" "$f:3|env.rho|'0'|out of range|[0.01, 2]" config "$f"

# a quoted scalar is a string in YAML: refused where a number or a bool goes
f=$(write quoted_int.yaml $'env:\n  n_agents: "5"\n')
fail_case "wrong type: quoted integer" "$f:2|env.n_agents|'5'|wrong type" config "$f"
f=$(write quoted_bool.yaml $'algo:\n  share_params: \'true\'\n')
fail_case "wrong type: quoted bool" "$f:2|algo.share_params|wrong type" config "$f"

f=$(write day_1.yaml $'env:\n  day_length: 1\n')
fail_case "out of range: day_length 1" "$f:2|env.day_length|'1'|out of range|[2, 100000]" config "$f"

# the file's whole path is named, however long
long_dir="$DIR/$(printf 'd%.0s' {1..120})"
mkdir -p "$long_dir"
f="$long_dir/bad.yaml"
printf 'env:\n  n_agents: 0\n' >"$f"
fail_case "long path named whole" "$f:2|env.n_agents" config "$f"

f=$(write steps_48bit.yaml $'train:\n  episodes: 10000000\nenv:\n  horizon: 100000000\n')
fail_case "more steps than the streams count" "train.episodes * env.horizon|2^48" config "$f"

f=$(write peak_rate.yaml $'env:\n  lambda_mean: 100\n  lambda_sigma: 3\n')
fail_case "agent rate beyond the sampler" "env.lambda_mean = 100|allowed: at most 1e8" config "$f"

f=$(write int_overflow.yaml $'env:\n  seed: 99999999999999999999999\n')
fail_case "out of range: integer overflow" "$f:2|env.seed|99999999999999999999999|out of range" \
    config "$f"

# ---- not numbers ---------------------------------------------------------
f=$(write non_integer.yaml $'env:\n  n_agents: 1.5\n')
fail_case "not an integer: 1.5" "$f:2|env.n_agents|'1.5'|not an integer" config "$f"

f=$(write hex_integer.yaml $'train:\n  episodes: 0x10\n')
fail_case "not an integer: 0x10" "$f:2|train.episodes|'0x10'|not an integer" config "$f"

f=$(write non_number.yaml $'env:\n  rho: abc\n')
fail_case "not a number: abc" "$f:2|env.rho|'abc'|not a number|[0.01, 2]" config "$f"

f=$(write nan.yaml $'env:\n  rho: nan\n')
fail_case "not a number: nan" "$f:2|env.rho|'nan'|not a number" config "$f"

f=$(write inf.yaml $'algo:\n  lr: inf\n')
fail_case "not a number: inf" "$f:2|algo.lr|'inf'|not a number" config "$f"

f=$(write bad_bool.yaml $'algo:\n  share_params: maybe\n')
fail_case "not a boolean" "$f:2|algo.share_params|'maybe'|not a boolean" config "$f"

# ---- enums and strings ---------------------------------------------------
f=$(write bad_enum.yaml $'algo:\n  guide: foo\n')
fail_case "bad enum" "$f:2|algo.guide|'foo'|not one of the allowed words|dgpg, target, descent, cv, none" \
    config "$f"

f=$(write bad_run_name.yaml $'train:\n  name: a/b\n')
fail_case "bad run name" "$f:2|train.name|'a/b'|not a valid name" config "$f"

long=$(printf 'x%.0s' $(seq 1 70))
f=$(write long_name.yaml "env:"$'\n'"  name: $long"$'\n')
fail_case "string too long" "$f:2|env.name|too long|63" config "$f"

# ---- malformed YAML ------------------------------------------------------
f=$(write unclosed_bracket.yaml $'env:\n  n_agents: [1, 2\n  n_pools: 3\n')
fail_case "malformed YAML: unclosed bracket" "$f:|malformed YAML" config "$f"

f=$(write bad_indent.yaml $'env:\n  n_agents: 5\n    n_pools: 3\n')
fail_case "malformed YAML: bad indentation" "$f:3|malformed YAML" config "$f"

f=$(write tab_indent.yaml $'env:\n\tn_agents: 5\n')
fail_case "malformed YAML: tab indentation" "$f:2|malformed YAML" config "$f"

# hostile: a million nested brackets must be refused at once, not hang
# the parser (libyaml's scanner is quadratic in flow depth)
f="$DIR/deep.yaml"
{ printf 'env: '; head -c 1000000 /dev/zero | tr '\0' '['; } >"$f"
fail_case "malformed YAML: hostile nesting depth" "$f:1|malformed YAML|nesting deeper" config "$f"

f=$(write two_docs.yaml $'env:\n  n_agents: 5\n---\nenv:\n  n_agents: 6\n')
fail_case "malformed YAML: two documents" "$f:3|document" config "$f"

# ---- duplicates and aliases ----------------------------------------------
f=$(write dup_key.yaml $'env:\n  n_agents: 5\n  n_pools: 3\n  n_agents: 7\n')
fail_case "duplicate key" "$f:4|env.n_agents|'7'|duplicate|line 2" config "$f"

f=$(write dup_section.yaml $'env:\n  n_agents: 5\nmodel:\n  barrier: 0.9\nenv:\n  n_pools: 3\n')
fail_case "duplicate section" "$f:5|env|duplicate|line 1" config "$f"

f=$(write alias.yaml $'env:\n  n_agents: &n 5\n  n_pools: *n\n')
fail_case "anchors and aliases" "$f:2|env.n_agents|aliases are not supported" config "$f"

# ---- files and --set -----------------------------------------------------
fail_case "missing file" "$DIR/does_not_exist.yaml|No such file" config "$DIR/does_not_exist.yaml"

fail_case "--set malformed (no =)" "--set|env.n_agents|expected section.key=value" \
    config --set env.n_agents
fail_case "--set malformed (no section)" "--set|n_agents=5|expected section.key=value" \
    config --set n_agents=5
fail_case "--set out of range" "--set|env.n_agents|'0'|out of range|[2, 10000000]" \
    config --set env.n_agents=0
fail_case "--set not an integer" "--set|env.n_agents|'x'|not an integer" \
    config --set env.n_agents=x
fail_case "--set unknown key" "--set|env.nagents|unknown key" config --set env.nagents=5
fail_case "--set unknown section" "--set|envx|unknown section" config --set envx.n_agents=5
# a value that is not UTF-8 would be stored and the run's config.yaml then
# refused by the YAML reader on --resume (found by tests/fuzz/fuzz_config)
fail_case "--set value not UTF-8" "--set|train.init_from|not valid UTF-8" \
    config --set "$(printf 'train.init_from=runs/a\343b')"
fail_case "--set value with a surrogate" "--set|log.dir|not valid UTF-8" \
    config --set "$(printf 'log.dir=\355\240\200')"

f=$(write set_base.yaml $'env:\n  n_agents: 5\n')
fail_case "--set after a file, out of range" "--set|env.n_pools|'1'|out of range" \
    config "$f" --set env.n_pools=1

# ---- cross-key checks ----------------------------------------------------
f=$(write too_big.yaml $'env:\n  n_envs: 1000000\n  n_agents: 10000000\n')
fail_case "batch larger than memory" "env.n_envs|env.n_agents|memory" config "$f"

f=$(write bimodal_cap.yaml $'env:\n  job_size: bimodal\n  large_job_min: 2000\n  job_size_cap: 1024\n')
fail_case "bimodal: large_job_min above job_size_cap" "env.large_job_min|env.job_size_cap" \
    config "$f"

# ---- good input ----------------------------------------------------------
f=$(write empty.yaml '')
if "$DGPG" config "$f" >"$DIR/empty.out" 2>"$DIR/stderr" && grep -q '^  n_agents: 50$' "$DIR/empty.out"; then
    ok "empty file changes nothing"
else
    not_ok "empty file changes nothing" "$(cat "$DIR/stderr")"
fi

f=$(write good.yaml $'# a partial config\nenv:\n  n_agents: 7\n  rho: 0.55\nalgo:\n  guide: cv\n  share_params: yes\n  lr: 1e-5\ntrain:\n  name: my.run-1\neval:\n  output: \'out dir/it\'\'s #1: x.h5\'\nlog:\n  dir: "yes"\n')
if "$DGPG" config "$f" --set env.n_pools=3 >"$DIR/good.out" 2>"$DIR/stderr"; then
    missing=""
    for line in '  n_agents: 7' '  rho: 0.55' '  guide: cv' '  share_params: true' \
        '  name: my.run-1' '  n_pools: 3'; do
        grep -qxF -- "$line" "$DIR/good.out" || missing="$missing '$line'"
    done
    if [ -z "$missing" ]; then
        ok "valid partial file and --set are applied"
    else
        not_ok "valid partial file and --set are applied" "output lacks$missing"
    fi
    # Round trip: the printout loads back and prints the same (the header
    # names the source, which differs).
    if "$DGPG" config "$DIR/good.out" >"$DIR/good2.out" 2>"$DIR/stderr"; then
        if diff <(tail -n +2 "$DIR/good.out") <(tail -n +2 "$DIR/good2.out") >"$DIR/diff"; then
            ok "round trip: printed config loads back identically"
        else
            not_ok "round trip: printed config loads back identically" "$(head -c 500 "$DIR/diff")"
        fi
    else
        not_ok "round trip: printed config loads back identically" "$(cat "$DIR/stderr")"
    fi
else
    not_ok "valid partial file and --set are applied" "exit code $?: $(cat "$DIR/stderr")"
    not_ok "round trip: printed config loads back identically" "the first load failed"
fi

if "$DGPG" config >"$DIR/default.out" 2>"$DIR/stderr" &&
    "$DGPG" config "$DIR/default.out" >"$DIR/default2.out" 2>>"$DIR/stderr" &&
    diff <(tail -n +2 "$DIR/default.out") <(tail -n +2 "$DIR/default2.out") >/dev/null; then
    ok "round trip: embedded default"
else
    not_ok "round trip: embedded default" "$(cat "$DIR/stderr")"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
