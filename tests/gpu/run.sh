#!/usr/bin/env bash
# One call on a GPU host: build everything, CPU-vs-CUDA op parity (plain, then under compute-sanitizer
# memcheck when it is installed), full-step engine parity (CPU table vs CUDA table: one training step of
# full fine-tuning, LoRA-Mix, MMLoRA and MoLA on both tiny fixture models), a real `mmlora run --device
# cuda` against `--device cpu` at smoke scale (tests/gpu/run_parity.c), cuBLAS GEMM throughput, CUDA op
# timings.  Logs go to $OUT (default ./gpu-out); a short table is printed last.  The whole run is held
# under a 450 s budget (each step gets at most what is left).  Exit status: 0 parity passed (and memcheck
# clean when it ran), 1 op-parity failures, 2 no device, 3 build failed, 4 parity passed but memcheck
# reported errors, 5 op parity passed but engine parity failed, 6 engine parity passed but the run parity
# failed, 124/137 parity timed out.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-./gpu-out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-450}
t_start=$SECONDS
left() { echo $((BUDGET - (SECONDS - t_start))); }
# step NAME MAX_SECONDS LOG CMD...: runs CMD with a timeout of min(MAX, time left); records "NAME rc secs"
step() {
    local name=$1 max=$2 log=$3; shift 3
    local l; l=$(left)
    if [ "$l" -lt 15 ]; then echo "$name skipped (budget)" | tee -a "$OUT/steps.txt"; return 99; fi
    [ "$max" -lt "$l" ] || max=$l
    local t0=$SECONDS
    timeout --kill-after=5 "$max" "$@" >"$log" 2>&1
    local rc=$?
    echo "$name rc=$rc ${max}s-limit $((SECONDS - t0))s" | tee -a "$OUT/steps.txt"
    return $rc
}
: >"$OUT/steps.txt"
{ date -u; uname -a; nvidia-smi 2>&1 | head -20; nvcc --version 2>&1 | tail -2; } >"$OUT/host.txt"
git log --oneline -1 >>"$OUT/host.txt" 2>/dev/null

# Libraries: a bare GPU host can install nothing; tests/gpu/fetch-deps.sh (run beforehand where Debian's
# registry is reachable) leaves their .deb files in .gpu-debs/, which the device call carries; unpack them
# into a private prefix (never into /) and point the build there.  -Wno-error: a newer host compiler may
# warn where CI's does not; CI enforces -Werror, here the parity results matter (warnings are counted).
MAKE_VARS=(EXTRA_CFLAGS=-Wno-error)
if ls .gpu-debs/*.deb >/dev/null 2>&1; then
    DEPS=/tmp/mmlora-deps
    mkdir -p "$DEPS"
    for f in .gpu-debs/*.deb; do dpkg -x "$f" "$DEPS" || echo "unpack failed: $f"; done
    export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu:$DEPS/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    MAKE_VARS+=(DEPS_ROOT="$DEPS")
    echo "deps: $(ls .gpu-debs/*.deb | wc -l) packages unpacked into $DEPS" | tee -a "$OUT/steps.txt"
else
    echo "deps: no .gpu-debs/ (run tests/gpu/fetch-deps.sh before the device call); using the host's libraries" | tee -a "$OUT/steps.txt"
fi
step build 300 "$OUT/build.log" make -j16 "${MAKE_VARS[@]}" all cuda gpu-parity gpu-engine-parity gpu-bench gpu-run-parity
build_rc=$?
if [ $build_rc -ne 0 ]; then
    echo "== full build failed (last lines of $OUT/build.log below); trying the minimal GPU build (make gpu-min)"
    tail -15 "$OUT/build.log"
    step build-min 200 "$OUT/build-min.log" make -j16 "${MAKE_VARS[@]}" gpu-min
    if [ $? -ne 0 ]; then echo "== minimal build failed too:"; tail -40 "$OUT/build-min.log"; exit 3; fi
fi
echo "build warnings: $(cat "$OUT"/build*.log | grep -cE 'warning( #|:)')" | tee -a "$OUT/steps.txt"

# MMLORA_CUDA_SYNC=1: every launch synchronizes, so a fault is reported at the op that caused it
MMLORA_CUDA_SYNC=1 step parity 120 "$OUT/parity.log" build/gpu/parity
parity_rc=$?
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
if [ -n "$SANITIZER" ]; then
    MMLORA_CUDA_SYNC=1 step memcheck 150 "$OUT/memcheck.log" \
        "$SANITIZER" --tool memcheck --error-exitcode 9 --print-limit 20 build/gpu/parity
    memcheck_rc=$?
else
    echo "memcheck skipped (no compute-sanitizer)" | tee -a "$OUT/steps.txt"; memcheck_rc=-
fi
if [ -x build/gpu/engine_parity ]; then
    MMLORA_CUDA_SYNC=1 step engine_parity 120 "$OUT/engine_parity.log" build/gpu/engine_parity
    engine_rc=$?
else
    echo "engine_parity skipped (not built: the minimal build has no model loader)" | tee -a "$OUT/steps.txt"; engine_rc=-
fi
if [ -x build/gpu/run_parity ] && [ -f build/libmmlora_cuda.so ]; then
    step run_parity 150 "$OUT/run_parity.log" build/gpu/run_parity
    run_rc=$?
else
    echo "run_parity skipped (build/gpu/run_parity or build/libmmlora_cuda.so not built)" | tee -a "$OUT/steps.txt"; run_rc=-
fi
step gemm_bench 90 "$OUT/gemm_bench.log" build/gpu/gemm_bench
step ops_bench 90 "$OUT/ops_bench.log" build/gpu/ops_bench

echo
echo "================ mmlora GPU run ($(( SECONDS - t_start ))s, logs in $OUT)"
head -1 "$OUT/parity.log" 2>/dev/null
grep -E "^FAIL" "$OUT/parity.log" 2>/dev/null | head -20
echo "parity:   $(tail -1 "$OUT/parity.log" 2>/dev/null) (rc $parity_rc)"
echo "memcheck: rc $memcheck_rc $(grep -m1 'ERROR SUMMARY' "$OUT/memcheck.log" 2>/dev/null)"
echo
echo "engine parity (one training step, CPU table vs CUDA table; rc $engine_rc)"
grep -E '^\|' "$OUT/engine_parity.log" 2>/dev/null
tail -1 "$OUT/engine_parity.log" 2>/dev/null
echo
echo "run parity (build/mmlora run --device cuda vs --device cpu, smoke scale; rc $run_rc)"
grep -E '^\|' "$OUT/run_parity.log" 2>/dev/null
grep -E '^FAIL' "$OUT/run_parity.log" 2>/dev/null
tail -1 "$OUT/run_parity.log" 2>/dev/null
echo
echo "cuBLAS GEMM TFLOP/s (M x N x K, row-major x·Wᵀ)"
awk '/^gemm [ 0-9]/ { key = $2; if (!(key in seen)) { seen[key] = 1; order[n++] = key }
                      v[key, $3] = $(NF - 1) }
     END { printf "  %-18s %7s %7s %7s\n", "shape", "fp32", "tf32", "bf16";
           for (i = 0; i < n; i++) { k = order[i];
               printf "  %-18s %7s %7s %7s\n", k, v[k, "fp32"], v[k, "tf32"], v[k, "bf16"] } }' \
    "$OUT/gemm_bench.log" 2>/dev/null
echo
echo "CUDA op table (fp32) ms per call"
sed -n 's/^op /  /p' "$OUT/ops_bench.log" 2>/dev/null
echo
cat "$OUT/steps.txt"
rc=$parity_rc
if [ "$rc" -eq 0 ] && [ "$memcheck_rc" != "-" ] && [ "$memcheck_rc" != 0 ]; then rc=4; fi
if [ "$rc" -eq 0 ] && [ "$engine_rc" != "-" ] && [ "$engine_rc" != 0 ]; then rc=5; fi
if [ "$rc" -eq 0 ] && [ "$run_rc" != "-" ] && [ "$run_rc" != 0 ]; then rc=6; fi
exit $rc
