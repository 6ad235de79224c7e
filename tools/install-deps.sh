#!/usr/bin/env bash
# Installs what dgpg needs on a Debian (bookworm) machine, as root: the
# build tools and C libraries from apt, and the Python tools of tools/ into
# a virtual environment .venv made by the python3 on PATH (pip inside it,
# so Debian's externally managed system Python is never touched).
# Installs only what is missing; safe to run again. With --test it also
# installs the test-time Python packages (PyTorch, the tests' oracle; JAX and
# optax, the speed comparison's baseline) and clang with its libFuzzer and
# OpenMP runtimes (the fuzz targets of tests/fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=tools/requirements.txt
probe="import h5py, numpy, scipy, matplotlib, pandas, xarray, tensorboardX, dgpg_analysis"
if [ "${1:-}" = "--test" ]; then
    requirements=tools/requirements-test.txt
    probe="import h5py, numpy, scipy, matplotlib, pandas, xarray, tensorboardX, dgpg_analysis, torch, jax, optax, tensorboard, nbclient, ipykernel, os, sys; sys.exit(not os.access('.venv/bin/hadolint', os.X_OK))"
fi

packages=(cmake make gcc pkg-config libhdf5-dev librandom123-dev libyaml-dev libssl-dev
          libopenblas-dev liblapacke-dev libxsmm-dev libgsl-dev libopenmpi-dev openmpi-bin
          python3 python3-venv python3-pip)
if [ "${1:-}" = "--test" ]; then
    # clang-14's libFuzzer and sanitizer runtimes are only Recommended by
    # its packages, and this installs without recommends
    packages+=(clang libclang-rt-dev libomp-dev)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python3 ]; then
    python3 -m venv .venv
fi
if ! .venv/bin/python3 -c "$probe" 2>/dev/null; then
    .venv/bin/python3 -m pip install -q --disable-pip-version-check -r "$requirements"
    # the log reader package (python/), editable: the tools and the tree's
    # copy are one (a user outside the tree: pip install ./python)
    .venv/bin/python3 -m pip install -q --disable-pip-version-check -e ./python
fi
echo "install-deps: ready ($(.venv/bin/python3 --version), $(cmake --version | head -1))"
