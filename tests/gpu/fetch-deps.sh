#!/usr/bin/env bash
# Run HERE (a machine with Debian 12's package registry), before a device call: downloads the .deb files of
# the libraries the build links (OpenBLAS on OpenMP, cJSON, PCRE2, libcsv, OpenSSL's libcrypto, and
# OpenBLAS's Fortran runtime) into .gpu-debs/ (git-ignored, ~19 MB).  The GPU host can fetch nothing, so
# the device call carries the folder (carry: [".gpu-debs"]) and tests/gpu/run.sh unpacks it with dpkg -x
# into /tmp/mmlora-deps and builds with `make DEPS_ROOT=/tmp/mmlora-deps` (Makefile).  Neither MPI nor
# Criterion is needed there: the GPU programs use neither.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu-debs
cd .gpu-debs
PKGS="libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev libgfortran5 libquadmath0 libcjson1 libcjson-dev
      libcsv3 libcsv-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 libpcre2-dev libssl3 libssl-dev"
apt-get download $PKGS 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
n=$(ls ./*.deb 2>/dev/null | wc -l)
echo "fetch-deps: $n packages, $(du -sh . | cut -f1) in .gpu-debs/ (carry it: run(..., carry=[\".gpu-debs\"]))"
[ "$n" -ge 16 ] || { echo "fetch-deps: expected 16 packages" >&2; exit 1; }
