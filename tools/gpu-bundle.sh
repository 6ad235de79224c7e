#!/usr/bin/env bash
# gpu-bundle.sh — prepares, on a machine with the CUDA toolkit (no GPU
# needed), everything the device run needs that the device lacks: the GPU
# machine has nvcc, the CUDA libraries, the driver, CMake and a Python with
# numpy and h5py, but none of dgpg's C libraries and no network.
#
# Builds dgpg and the GPU tests (Release, CUDA for sm_90: H100 and H200;
# MPI off, a device run is one process) in build-gpu/, then packs into
# OUT_DIR/dgpg-gpu.tar.xz: the binaries, every shared library they load
# except glibc's, the C++ and OpenMP runtimes and CUDA's and the driver's
# (the device has newer or matching ones), the GPU tests' scripts, and a
# manifest (commit, date, toolkit, architectures, files and SHA-256). It
# refuses a bundle over BUNDLE_MAX_MIB (48: with the source tree, the
# device call carries at most 64 MiB). tools/gpu-check.sh unpacks and runs
# it there; docs/gpu.md says how to call the device.
#
# Usage: tools/gpu-bundle.sh [OUT_DIR]   (default .gpu-bundle, git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.gpu-bundle}
build=${DGPG_GPU_BUILD:-build-gpu}
max_mib=${BUNDLE_MAX_MIB:-48}
jobs=$(nproc 2>/dev/null || echo 2)
bins=(dgpg test_gpu_backend_parity test_gpu_train_ops_parity test_gpu_mlp_parity
      test_gpu_env_parity)

die() { echo "gpu-bundle: $*" >&2; exit 1; }
command -v nvcc >/dev/null || die "nvcc not found; allowed: a machine with the CUDA toolkit"

# RPATH (not RUNPATH: it holds for the libraries' own dependencies too) to
# the bundle's lib/, so the binaries find it and nothing else does (the
# device's Python, say, keeps its own libraries)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDGPG_CUDA=ON -DDGPG_REQUIRE_CUDA=ON \
      -DDGPG_MPI=OFF -DCMAKE_CUDA_ARCHITECTURES=90 -DDGPG_PYTHON=python3 \
      "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags -Wl,-rpath,\$ORIGIN/../lib" >/dev/null \
    || die "configure failed (cmake -S . -B $build)"
cmake --build "$build" -j"$jobs" --target "${bins[@]}" >/dev/null \
    || die "build failed (cmake --build $build --target ${bins[*]})"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/dgpg-gpu
mkdir -p "$root/bin" "$root/lib" "$root/tests"
for b in "${bins[@]}"; do
    path=$(find "$build" -name "$b" -type f -perm -u+x | head -1)
    [ -n "$path" ] || die "built binary $b not found under $build"
    cp "$path" "$root/bin/$b"
    strip --strip-debug "$root/bin/$b"
done
# The shared libraries to carry: all the binaries load, but glibc's, the
# C++/GCC/OpenMP runtimes and CUDA's and the driver's, which the device has.
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libmvec\.|libpthread\.|librt\.|libdl\.|libresolv\.|libstdc\+\+\.|libgcc_s\.|libgomp\.|libcuda\.|libcudart\.|libcublas|libcurand\.|libnccl\.|libnvidia)'
for b in "$root"/bin/*; do
    ldd "$b" | awk '/=> \// {print $1, $3}'
done | sort -u | while read -r name file; do
    if ! grep -Eq "$skip" <<<"$name"; then
        cp -L "$file" "$root/lib/$name"
    fi
done
missing=$(for b in "$root"/bin/*; do ldd "$b"; done | grep "not found" || true)
[ -z "$missing" ] || die "libraries not found here: $missing"
for b in "$root"/bin/*; do
    readelf -d "$b" | grep -q 'RPATH.*\$ORIGIN/\.\./lib' ||
        die "$b has no RPATH \$ORIGIN/../lib; allowed: the bundle's own build"
done
cp tests/test_gpu_eval.sh tests/test_gpu_train_parity.py tests/tap.py "$root/tests/"

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | head -1)
{
    echo "commit: $commit${dirty:+ (with uncommitted changes)}"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(. /etc/os-release; echo "$PRETTY_NAME")"
    echo "nvcc: $(nvcc --version | tail -1)"
    echo "cuda architectures: 90"
    echo "files:"
    (cd "$root" && find bin lib tests -type f | sort | while read -r f; do
        echo "  $f $(stat -c %s "$f") $(sha256sum "$f" | cut -c1-16)"
    done)
} > "$root/MANIFEST"

mkdir -p "$out"
tar -C "$stage" -cJf "$out/dgpg-gpu.tar.xz" dgpg-gpu
size=$(stat -c %s "$out/dgpg-gpu.tar.xz")
mib=$(( (size + 1048575) / 1048576 ))
if [ "$mib" -gt "$max_mib" ]; then
    die "$out/dgpg-gpu.tar.xz is $mib MiB; allowed: at most $max_mib MiB (BUNDLE_MAX_MIB)"
fi
echo "gpu-bundle: $out/dgpg-gpu.tar.xz, $mib MiB ($(ls "$root/lib" | wc -l) libraries), commit ${commit:0:12}"
