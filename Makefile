# mmlora — build, test, bench.  `make help` lists the targets.
# Layout: core/ kernels/ metrics/ data/ -> build/libmmlora.a ; cli/ -> build/mmlora ; tests/ -> build/tests
SHELL   := /bin/bash
BUILD   ?= build
CC      ?= cc
SHARED_DIR ?= $(abspath ../shared)
export SHARED_DIR

# ---------------------------------------------------------------- detection
HAVE_OPENMP := $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo 1)
HAVE_NVCC   := $(if $(NO_CUDA),,$(shell command -v nvcc >/dev/null 2>&1 && echo 1))
HAVE_MPI    := $(if $(NO_MPI),,$(shell command -v mpicc >/dev/null 2>&1 && echo 1))
ifdef NO_OPENMP
HAVE_OPENMP :=
endif

WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
CSTD    := -std=c11 -D_GNU_SOURCE
OPT     ?= -O2 -march=native -g
comma := ,
INCS    := -I. -Icore -Ikernels -I/usr/include/cjson
OPENBLAS_OMP_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
DEPS_LDFLAGS :=
# DEPS_ROOT=/prefix: the Debian packages unpacked there (dpkg -x) instead of installed: a GPU host where
# nothing can be installed (tests/gpu/fetch-deps.sh fetches them here; tests/gpu/run.sh unpacks them there)
ifneq ($(DEPS_ROOT),)
DEPS_LIBDIR := $(DEPS_ROOT)/usr/lib/x86_64-linux-gnu
INCS    := -I. -Icore -Ikernels -I$(DEPS_ROOT)/usr/include/x86_64-linux-gnu/openblas-openmp \
           -I$(DEPS_ROOT)/usr/include/cjson -I$(DEPS_ROOT)/usr/include/x86_64-linux-gnu -I$(DEPS_ROOT)/usr/include \
           -I/usr/include/cjson
OPENBLAS_OMP_DIR := $(DEPS_LIBDIR)/openblas-openmp
DEPS_LDFLAGS := -L$(DEPS_LIBDIR) -Wl$(comma)-rpath$(comma)$(DEPS_LIBDIR)
endif
CFLAGS_BASE := $(CSTD) $(WARN) $(INCS)
# OpenBLAS built on OpenMP: one thread pool shared with our own OpenMP loops (the pthread build's
# spinning workers steal the two cores from OpenMP regions: measured 34% -> see README "Speed").
BLAS_LIBS := $(if $(wildcard $(OPENBLAS_OMP_DIR)/libopenblas.so),-L$(OPENBLAS_OMP_DIR) -Wl$(comma)-rpath$(comma)$(OPENBLAS_OMP_DIR),) -lopenblas
export OMP_WAIT_POLICY ?= passive
LIBS    := $(BLAS_LIBS) $(DEPS_LDFLAGS) -lcjson -lpcre2-8 -lcsv -lcrypto -lm -lpthread -ldl
ifeq ($(HAVE_OPENMP),1)
CFLAGS_BASE += -fopenmp -DMMLORA_OPENMP=1
LIBS        += -fopenmp
endif
ifeq ($(HAVE_MPI),1)
MPI_CFLAGS := $(shell mpicc --showme:compile) -DMMLORA_MPI=1
MPI_LIBS   := $(shell mpicc --showme:link)
CFLAGS_BASE += $(MPI_CFLAGS)
LIBS        += $(MPI_LIBS)
endif
CFLAGS  := $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS)

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_CFLAGS := $(CFLAGS_BASE) -O1 -g $(SAN_FLAGS) -DMMLORA_SANITIZE=1

LIB_SRC  := $(sort $(shell find core kernels/cpu metrics data -name '*.c' -not -path 'data/raw/*' -not -path 'data/cache/*' 2>/dev/null))
CLI_SRC  := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(shell find tests/unit -name '*.c' 2>/dev/null))
BENCH_SRC:= $(sort $(wildcard tests/bench/*.c))
CU_SRC   := $(sort $(wildcard kernels/cuda/*.cu))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
SLIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/san/%.o)
SCLI_OBJ := $(filter-out $(BUILD)/san/cli/main.o,$(CLI_SRC:%.c=$(BUILD)/san/%.o))
STEST_OBJ:= $(TEST_SRC:%.c=$(BUILD)/san/%.o)
CU_OBJ   := $(CU_SRC:%.cu=$(BUILD)/cuda/%.o)

.PHONY: all help deps test test-fast test-san bench fuzz clean info cuda paper-tables
all: info $(BUILD)/mmlora $(if $(HAVE_NVCC),cuda)

info:
	@echo "mmlora build: OpenMP=$(if $(HAVE_OPENMP),yes,no) CUDA(nvcc)=$(if $(HAVE_NVCC),yes,no) MPI=$(if $(HAVE_MPI),yes,no) BUILD=$(BUILD)"

help:
	@echo "make            build build/mmlora (and the CUDA backend, build/libmmlora_cuda.{a,so}, when nvcc is found;"
	@echo "                mmlora dlopens the .so for --device cuda; MMLORA_DEVICE_STANDIN=1: the CPU stand-in)"
	@echo "make deps       install the Debian packages mmlora needs (idempotent)"
	@echo "make test       unit/golden tests, then the same suite under ASan+UBSan"
	@echo "make bench      benchmarks (ratios against OpenBLAS sgemm peak measured in the same run)"
	@echo "make fuzz       bounded libFuzzer runs of the parsers"
	@echo "make gpu-parity build/gpu/parity (CPU vs CUDA op parity); make gpu-engine-parity: one training step CPU vs CUDA;"
	@echo "                make gpu-run-parity: mmlora run --device cuda vs cpu (selftest on the stand-in:"
	@echo "                make gpu-run-parity-selftest, with resume after kill -9); make gpu-bench: GEMM/op benchmarks;"
	@echo "                make gpu-train-bench: 1B training/decoding tokens/s and MFU (selftest: make gpu-train-bench-selftest,"
	@echo "                part of make test); run all on a GPU host: tests/gpu/run.sh"
	@echo "make emu-test   the CUDA backend on the CPU emulator of CUDA (tests/cuda_emu; part of make test): op parity,"
	@echo "                edge-case sweep, engine and run parity, NCCL across processes; make emu builds build/emu/*;"
	@echo "                make emu-racecheck: the kernels under ThreadSanitizer (races within a block); make"
	@echo "                gpu-script-emu: tests/gpu/run.sh --emulator"
	@echo "make paper-tables  every table and figure from results/ beside the paper's numbers (docs/REPORTS.md)"
	@echo "make rq1..rq4  an experiment program: MODEL=tiny|starcoderbase|deepseekcoder DATASET=local|csn|xlcost SCALE=smoke|default|full SCHEDULER=local|slurm DEVICE=cpu|cuda|auto NPROC=N SET=\"k=v ...\" (make all-rq: all four)"
	@echo "make tiny      rebuild the embedded tiny model models/tiny (tokenizer + ~10-20 min pretraining on 2 cores)"
	@echo "options: NO_CUDA=1 NO_OPENMP=1 NO_MPI=1 BUILD=dir"

DEB_PACKAGES := build-essential clang libopenblas-dev libopenblas-openmp-dev libcjson-dev libcriterion-dev libpcre2-dev \
                libcsv-dev libssl-dev wordnet-base openmpi-bin libopenmpi-dev gnuplot-nox python3 libomp-dev \
                unzip openjdk-17-source golang-go golang-1.19-src ruby php-cli php-symfony-console \
                php-symfony-http-foundation php-twig php-monolog php-guzzlehttp-psr7 php-league-commonmark \
                node-lodash node-underscore node-async node-moment node-express node-markdown-it node-esprima \
                node-bluebird node-handlebars node-commander node-semver
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "make deps: installing $$missing"; \
	  $$( [ $$(id -u) -eq 0 ] || echo sudo ) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$( [ $$(id -u) -eq 0 ] || echo sudo ) apt-get install -y -qq $$missing; \
	else echo "make deps: all Debian packages present"; fi

# the objects are rebuilt when their compile flags change (NO_MPI=1, DEPS_ROOT, EXTRA_CFLAGS, OPT: tests/gpu/run.sh
# builds with some of them): a stamp named by the flags' hash, replaced when they differ.  Without it a build/ made
# with MPI and relinked with NO_MPI=1 fails to link (undefined MPI symbols).
FLAGS_STAMP := $(BUILD)/flags/$(shell printf '%s' '$(CC) $(CFLAGS)' | md5sum | cut -c1-16)
$(FLAGS_STAMP):
	@mkdir -p $(dir $@); rm -f $(BUILD)/flags/*; touch $@
$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libmmlora.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/mmlora: $(CLI_OBJ) $(BUILD)/libmmlora.a
	$(CC) $(CFLAGS) $(CLI_OBJ) $(BUILD)/libmmlora.a $(LIBS) -o $@

# tests: one Criterion binary; the CLI objects (minus main) are linked so commands can be tested in-process
$(BUILD)/tests: $(TEST_OBJ) $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ)) $(BUILD)/libmmlora.a
	$(CC) $(CFLAGS) $^ $(LIBS) -lcriterion -o $@
$(BUILD)/tests-san: $(STEST_OBJ) $(SCLI_OBJ) $(SLIB_OBJ)
	$(CC) $(SAN_CFLAGS) $^ $(LIBS) -lcriterion -o $@

# T='suite/*' filters tests; JOBS sets criterion workers
T ?=
CRIT_ARGS := $(if $(T),--filter '$(T)',) --jobs $(or $(JOBS),2)
test: $(BUILD)/mmlora $(BUILD)/tests $(BUILD)/tests-san $(BUILD)/gpu/train_bench_cpu $(BUILD)/gpu/engine_parity_cpu \
      emu $(if $(HAVE_NVCC),cuda)
	@echo "== unit + golden tests (optimized build) =="
	$(BUILD)/tests $(CRIT_ARGS)
	@echo "== the same suite under AddressSanitizer + UBSan =="
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/tests-san $(CRIT_ARGS)
	@echo "== the PyTorch golden method and engine tests on the unfused expert path (what a CPU without AVX-512 runs) =="
	MMLORA_CPU_FUSED=0 $(BUILD)/tests --filter '@(methods_golden|engine_golden|kernels_expert)/*' --jobs $(or $(JOBS),2)
	@echo "== the GPU training benchmark's selftest (tiny shape on the CPU stand-in, ~1 s) =="
	@$(MAKE) --no-print-directory gpu-train-bench-selftest >$(BUILD)/gpu/train_bench_selftest.out 2>&1 \
	  || { tail -30 $(BUILD)/gpu/train_bench_selftest.out; exit 1; }
	@tail -1 $(BUILD)/gpu/train_bench_selftest.out
	@echo "== the GPU script's engine and run parity programs against the CPU stand-in (what tests/gpu/run.sh runs) =="
	@$(MAKE) --no-print-directory gpu-engine-parity-selftest >$(BUILD)/gpu/engine_parity_selftest.out 2>&1 \
	  || { tail -30 $(BUILD)/gpu/engine_parity_selftest.out; exit 1; }
	@tail -1 $(BUILD)/gpu/engine_parity_selftest.out
	@$(MAKE) --no-print-directory gpu-run-parity-selftest >$(BUILD)/gpu/run_parity_selftest.out 2>&1 \
	  || { tail -30 $(BUILD)/gpu/run_parity_selftest.out; exit 1; }
	@tail -1 $(BUILD)/gpu/run_parity_selftest.out
	@echo "== the CUDA backend run on the CPU emulator (tests/cuda_emu): its selftest, NCCL across processes, op parity"
	@echo "   (forward and reverse thread order), a training step of every method, mmlora run --device cuda vs cpu + resume =="
	@$(MAKE) --no-print-directory emu-test
test-fast: $(BUILD)/mmlora $(BUILD)/tests
	$(BUILD)/tests $(CRIT_ARGS)

# ---------------------------------------------------------------- reports (docs/REPORTS.md)
# RESULTS=dir REPORT_OUT=dir; REPORT_ARGS='--model tiny --dataset local' narrows it
RESULTS ?= results
REPORT_OUT ?= paper-tables
paper-tables: $(BUILD)/mmlora
	$(BUILD)/mmlora report --results $(RESULTS) --out $(REPORT_OUT) $(REPORT_ARGS)

# ---------------------------------------------------------------- CUDA (compiled whenever nvcc exists)
# NVCC_WERROR= (empty) keeps the warnings but does not fail on them (tests/gpu/run.sh on a GPU host whose compiler
# may warn where CI's does not); CI and `make` fail on any warning
NVCC_WERROR ?= --compiler-options -Werror -Werror all-warnings
NVCC_FLAGS := -O2 -std=c++17 -I. -Icore -Ikernels --compiler-options -Wall,-Wextra $(NVCC_WERROR) \
              -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=sm_80
# every CUDA object depends on the op interface and the backend's headers (the table is positional)
$(BUILD)/cuda/%.o: %.cu kernels/kernels.h $(wildcard kernels/cuda/*.h kernels/cuda/*.cuh)
	@mkdir -p $(dir $@)
	nvcc $(NVCC_FLAGS) -c $< -o $@
$(BUILD)/libmmlora_cuda.a: $(CU_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(if $(CU_OBJ),ar rcs $@ $^,@echo "no CUDA sources yet" && touch $@)
# the same backend as a shared library that build/mmlora dlopens at run time (--device cuda; util/backend.h):
# -fPIC objects, cudart/cuBLAS linked in, self-contained (its own copy of util/log.c), no link-time CUDA in mmlora
CU_PIC_OBJ := $(CU_SRC:%.cu=$(BUILD)/cuda-pic/%.o)
$(BUILD)/cuda-pic/%.o: %.cu kernels/kernels.h $(wildcard kernels/cuda/*.h kernels/cuda/*.cuh)
	@mkdir -p $(dir $@)
	nvcc $(NVCC_FLAGS) -Xcompiler -fPIC -c $< -o $@
$(BUILD)/cuda-pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@
$(BUILD)/libmmlora_cuda.so: $(CU_PIC_OBJ) $(BUILD)/cuda-pic/core/util/log.o
	$(CC) -shared -Wl,-Bsymbolic -Wl,--no-undefined $^ $(GPU_LIBS) -lm -o $@
# comm.cu once more as on a CUDA install without nccl.h (its own NCCL declarations): a GPU host may lack the header
$(BUILD)/cuda/comm_without_nccl_h.o: kernels/cuda/comm.cu kernels/kernels.h $(wildcard kernels/cuda/*.h)
	@mkdir -p $(dir $@)
	nvcc $(NVCC_FLAGS) -DMM_NO_NCCL_H -c $< -o $@
cuda: $(BUILD)/libmmlora_cuda.a $(if $(CU_OBJ),$(BUILD)/libmmlora_cuda.so $(BUILD)/cuda/comm_without_nccl_h.o)

# GPU-host programs (build here, run where a device exists: tests/gpu/run.sh).  The CUDA archive goes
# BEFORE libmmlora.a so its strong mm_kernels_cuda() is taken instead of the weak fallback in table.c.
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v nvcc 2>/dev/null))
GPU_LIBS  := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas -lcublasLt -lstdc++
PARITY_SRC := tests/gpu/parity.c tests/gpu/parity_rows.c tests/gpu/parity_sweep.c
$(BUILD)/gpu/parity: $(PARITY_SRC) tests/gpu/parity.h $(BUILD)/libmmlora_cuda.a $(BUILD)/libmmlora.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PARITY_SRC) $(BUILD)/libmmlora_cuda.a $(BUILD)/libmmlora.a $(LIBS) $(GPU_LIBS) -o $@
$(BUILD)/gpu/engine_parity: tests/gpu/engine_parity.c $(BUILD)/libmmlora_cuda.a $(BUILD)/libmmlora.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/libmmlora_cuda.a $(BUILD)/libmmlora.a $(LIBS) $(GPU_LIBS) -o $@
# the parity program against a CPU stand-in for the CUDA table (runs anywhere: checks the program itself)
$(BUILD)/gpu/engine_parity_cpu: tests/gpu/engine_parity.c tests/gpu/cpu_as_device.c $(BUILD)/libmmlora.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ $(LIBS) -o $@
gpu-engine-parity-selftest: $(BUILD)/gpu/engine_parity_cpu
	$(BUILD)/gpu/engine_parity_cpu
	@MMLORA_SELFTEST_PERTURB=1 $(BUILD)/gpu/engine_parity_cpu >$(BUILD)/gpu/engine_parity_perturbed.log; rc=$$?; \
	  if [ $$rc -eq 1 ]; then echo "perturbed stand-in: engine_parity failed as it must (rc 1, $$(tail -1 $(BUILD)/gpu/engine_parity_perturbed.log))"; \
	  else echo "perturbed stand-in: engine_parity returned $$rc, expected 1"; exit 1; fi
	@MMLORA_SELFTEST_PERTURB=sum $(BUILD)/gpu/engine_parity_cpu >$(BUILD)/gpu/engine_parity_jitter.log; rc=$$?; \
	  if [ $$rc -eq 0 ]; then echo "bf16 linears jittered by 1e-6 (a summation order): engine_parity passed as it must" \
	    "($$(tail -1 $(BUILD)/gpu/engine_parity_jitter.log))"; \
	  else echo "bf16 linears jittered by 1e-6: engine_parity returned $$rc, expected 0"; \
	    grep FAIL $(BUILD)/gpu/engine_parity_jitter.log; exit 1; fi
	@MMLORA_SELFTEST_PERTURB=guard $(BUILD)/gpu/engine_parity_cpu >$(BUILD)/gpu/engine_parity_guard.log; rc=$$?; \
	  if [ $$rc -eq 0 ]; then echo "guarded stand-in (device memory untouchable by the host): engine_parity passed"; \
	  else echo "guarded stand-in: engine_parity returned $$rc, expected 0"; tail -5 $(BUILD)/gpu/engine_parity_guard.log; exit 1; fi
$(BUILD)/gpu/gemm_bench: tests/gpu/gemm_bench.cu
	@mkdir -p $(dir $@)
	nvcc $(NVCC_FLAGS) $< -lcublas -o $@
$(BUILD)/gpu/ops_bench: tests/gpu/ops_bench.c $(BUILD)/libmmlora_cuda.a $(BUILD)/libmmlora.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/libmmlora_cuda.a $(BUILD)/libmmlora.a $(LIBS) $(GPU_LIBS) -o $@
# build/mmlora run --device cuda vs --device cpu at smoke scale (drives the CLI, which dlopens the .so)
$(BUILD)/gpu/run_parity: tests/gpu/run_parity.c tests/unit/run_fixture.h $(BUILD)/libmmlora.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libmmlora.a $(LIBS) -o $@
gpu-run-parity: $(BUILD)/gpu/run_parity $(BUILD)/mmlora $(if $(HAVE_NVCC),$(BUILD)/libmmlora_cuda.so)
# the same against the CPU stand-in (MMLORA_DEVICE_STANDIN=1: runs anywhere, must agree bit for bit)
gpu-run-parity-selftest: $(BUILD)/gpu/run_parity $(BUILD)/mmlora
	MMLORA_DEVICE_STANDIN=1 $(BUILD)/gpu/run_parity --tol 0 --resume mmlora lora-mix mmlora
	MMLORA_DEVICE_STANDIN=guard $(BUILD)/gpu/run_parity --tol 0 mola
# training / decoding throughput at StarCoderBase-1B shapes (tests/gpu/train_bench.c); the selftest runs the tiny
# shape on the CPU stand-in for the CUDA table (checks the program, its FLOP count and its table, not a speed)
$(BUILD)/gpu/train_bench: tests/gpu/train_bench.c tests/gpu/op_profile.c $(BUILD)/libmmlora_cuda.a $(BUILD)/libmmlora.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< tests/gpu/op_profile.c $(BUILD)/libmmlora_cuda.a $(BUILD)/libmmlora.a $(LIBS) $(GPU_LIBS) -o $@
$(BUILD)/gpu/train_bench_cpu: tests/gpu/train_bench.c tests/gpu/op_profile.c tests/gpu/cpu_as_device.c $(BUILD)/libmmlora.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ $(LIBS) -o $@
gpu-train-bench: $(BUILD)/gpu/train_bench
# (--check-flops: the ops count the GEMM FLOPs they execute, which must equal the printed formula)
gpu-train-bench-selftest: $(BUILD)/gpu/train_bench_cpu
	@set -o pipefail; $(BUILD)/gpu/train_bench_cpu --shape tiny --check-flops | tee $(BUILD)/gpu/train_bench_selftest.log
	@set -o pipefail; $(BUILD)/gpu/train_bench_cpu --shape tiny --check-flops --recompute --micro 4 --target 0 --no-decode \
	  --methods lora-mix,mmlora,mola,fpft-mix 2>/dev/null | tee -a $(BUILD)/gpu/train_bench_selftest.log | grep -E '^flop check'
	@set -o pipefail; $(BUILD)/gpu/train_bench_cpu --shape tiny --check-flops --dtype bf16 2>/dev/null \
	  | tee -a $(BUILD)/gpu/train_bench_selftest.log | grep -E '^flop check'
	@set -o pipefail; $(BUILD)/gpu/train_bench_cpu --shape tiny --check-flops --dtype bf16 --act-dtype bf16 --no-decode \
	  2>/dev/null | tee -a $(BUILD)/gpu/train_bench_selftest.log | grep -E '^flop check'
	@set -o pipefail; $(BUILD)/gpu/train_bench_cpu --shape tiny-llama --check-flops --methods lora-mix,mmlora,mola,fpft-mix \
	  --dtype fp32 --act-dtype bf16 --no-decode 2>/dev/null | tee -a $(BUILD)/gpu/train_bench_selftest.log | grep -E '^flop check'
	@set -o pipefail; $(BUILD)/gpu/train_bench_cpu --shape tiny --profile --methods mmlora --dtype bf16 --act-dtype bf16 \
	  --no-decode 2>/dev/null >$(BUILD)/gpu/train_bench_profile.log; \
	  if ! grep -qE '^\| op \| attention_fwd ' $(BUILD)/gpu/train_bench_profile.log || \
	     ! grep -qE '^\| op \| sum ' $(BUILD)/gpu/train_bench_profile.log; then \
	    echo "train_bench --profile: no op profile"; cat $(BUILD)/gpu/train_bench_profile.log; exit 1; fi
	@$(BUILD)/gpu/train_bench_cpu --shape tiny --dtype fp16 2>/dev/null; rc=$$?; \
	  if [ $$rc -ne 3 ]; then echo "train_bench --dtype fp16: exit $$rc, expected 3 (unknown dtype)"; exit 1; fi
	@n=$$(grep -cE '^\| (train|decode) ' $(BUILD)/gpu/train_bench_selftest.log); \
	  e=$$(grep -c '^flop check .*: equal$$' $(BUILD)/gpu/train_bench_selftest.log); \
	  b=$$(grep -cE '^\| train +\| [a-z-]+ +\| bf16 ' $(BUILD)/gpu/train_bench_selftest.log); \
	  a=$$(grep -cE '^\| train +\| [a-z-]+ +\| bf16\+a16 ' $(BUILD)/gpu/train_bench_selftest.log); \
	  if [ "$$n" -eq 18 ] && [ "$$e" -eq 14 ] && [ "$$b" -eq 2 ] && [ "$$a" -eq 2 ]; then \
	    echo "train_bench selftest passed: 18 table lines (4 bf16: training and decoding; 2 bf16 with bf16 activations; 4 LLaMA), FLOP formula equal to the ops' count in 14 configurations"; \
	  else echo "train_bench selftest FAILED: $$n table lines (expected 18), $$b bf16 training lines (expected 2), $$a bf16+a16 (expected 2), $$e FLOP checks equal (expected 14)"; exit 1; fi
.PHONY: gpu-parity gpu-engine-parity gpu-engine-parity-selftest gpu-bench gpu-min gpu-run-parity gpu-run-parity-selftest
.PHONY: gpu-train-bench gpu-train-bench-selftest gpu-script-emu
gpu-parity: $(BUILD)/gpu/parity
gpu-engine-parity: $(BUILD)/gpu/engine_parity
gpu-bench: $(BUILD)/gpu/gemm_bench $(BUILD)/gpu/ops_bench
# fallback for a GPU host without the full library's dependencies (cJSON, PCRE2, libcsv, OpenSSL): the GPU
# programs from the CPU kernels + util sources only (needs nvcc, cuBLAS and a CBLAS)
GPU_MIN_SRC := $(sort $(wildcard kernels/cpu/*.c)) core/util/log.c core/util/philox.c core/util/halffloat.c
gpu-min: $(BUILD)/libmmlora_cuda.a $(BUILD)/gpu/gemm_bench
	$(CC) $(CFLAGS) $(PARITY_SRC) $(GPU_MIN_SRC) -Wl,--whole-archive $(BUILD)/libmmlora_cuda.a -Wl,--no-whole-archive $(BLAS_LIBS) -lm $(filter -fopenmp,$(LIBS)) $(GPU_LIBS) -o $(BUILD)/gpu/parity
	$(CC) $(CFLAGS) tests/gpu/ops_bench.c $(GPU_MIN_SRC) -Wl,--whole-archive $(BUILD)/libmmlora_cuda.a -Wl,--no-whole-archive $(BLAS_LIBS) -lm $(filter -fopenmp,$(LIBS)) $(GPU_LIBS) -o $(BUILD)/gpu/ops_bench

# ---------------------------------------------------------------- the CUDA backend on the CPU emulator
# tests/cuda_emu/README.md: kernels/cuda/*.cu compiled by g++ against an emulated CUDA runtime and cuBLAS (every
# launch rewritten by launch.sed; threads as fibers, barriers and shuffles checked, device memory between guard
# pages), linked with the GPU programs: the CUDA code runs, and is checked against the CPU, on a machine without GPU.
EMU_DIR := tests/cuda_emu
EMU_CXX ?= g++
# -O2 -ffp-contract=fast -march=native: a*b+c fuses into an FMA where the CPU has one (GCC contracts from -O2 on), as
# nvcc's default (--fmad=true)
# does on the GPU; the kernels that promise bit-identical results use __fmul_rn/__fadd_rn against exactly that
# MM_CUDA_MAX_GRID_Y=3: the kernels that cap grid.y (expert.cu) loop over the rest, here at test sizes
EMU_CXXFLAGS := -std=c++17 -O2 -g -fPIC -ffp-contract=fast -march=native -Wall -Wextra -Werror -Wno-unknown-pragmas -D__CUDACC__ \
                -DMM_CUDA_MAX_GRID_Y=3 \
                -I$(EMU_DIR)/include -I. -Icore -Ikernels -Ikernels/cuda
EMU_HDRS := kernels/kernels.h $(wildcard kernels/cuda/*.h kernels/cuda/*.cuh $(EMU_DIR)/include/*.h $(EMU_DIR)/*.h)
EMU_CU_OBJ := $(CU_SRC:kernels/cuda/%.cu=$(BUILD)/emu/obj/%.o)
EMU_RT_OBJ := $(BUILD)/emu/obj/emu_runtime.o $(BUILD)/emu/obj/emu_cublas.o
.PRECIOUS: $(BUILD)/emu/src/%.cpp
EMU_GENERATE = @mkdir -p $(dir $@); { echo '\#line 1 "$<"'; sed -f $(EMU_DIR)/launch.sed $<; } >$@
$(BUILD)/emu/src/%.cpp: kernels/cuda/%.cu $(EMU_DIR)/launch.sed
	$(EMU_GENERATE)
$(BUILD)/emu/obj/%.o: $(BUILD)/emu/src/%.cpp $(EMU_HDRS)
	@mkdir -p $(dir $@)
	$(EMU_CXX) $(EMU_CXXFLAGS) $(if $(filter comm,$*),-DMM_NO_NCCL_H) -include cuda_runtime.h -c $< -o $@
$(BUILD)/emu/obj/emu_%.o: $(EMU_DIR)/emu_%.cpp $(EMU_HDRS)
	@mkdir -p $(dir $@)
	$(EMU_CXX) $(EMU_CXXFLAGS) -O2 -c $< -o $@
$(BUILD)/emu/libmmlora_cuda_emu.a: $(EMU_CU_OBJ) $(EMU_RT_OBJ)
	@rm -f $@
	ar rcs $@ $^
EMU_LIBS := $(BUILD)/emu/libmmlora_cuda_emu.a $(BUILD)/libmmlora.a $(LIBS) -lstdc++
$(BUILD)/emu/parity: $(PARITY_SRC) tests/gpu/parity.h $(BUILD)/emu/libmmlora_cuda_emu.a $(BUILD)/libmmlora.a
	$(CC) $(CFLAGS) $(PARITY_SRC) $(EMU_LIBS) -o $@
$(BUILD)/emu/engine_parity: tests/gpu/engine_parity.c $(BUILD)/emu/libmmlora_cuda_emu.a $(BUILD)/libmmlora.a
	$(CC) $(CFLAGS) $< $(EMU_LIBS) -o $@
$(BUILD)/emu/train_bench: tests/gpu/train_bench.c tests/gpu/op_profile.c $(BUILD)/emu/libmmlora_cuda_emu.a $(BUILD)/libmmlora.a
	$(CC) $(CFLAGS) $< tests/gpu/op_profile.c $(EMU_LIBS) -o $@
# the backend as the CLI loads it (MMLORA_CUDA_LIB=build/emu/libmmlora_cuda_emu.so, MMLORA_FAKE_GPU to pass the probe)
$(BUILD)/emu/libmmlora_cuda_emu.so: $(EMU_CU_OBJ) $(EMU_RT_OBJ) $(BUILD)/cuda-pic/core/util/log.o
	$(EMU_CXX) -shared -Wl,-Bsymbolic -Wl,--no-undefined $^ $(BLAS_LIBS) -lm -o $@
$(BUILD)/emu/src/emu_selftest.cpp: $(EMU_DIR)/emu_selftest.cu $(EMU_DIR)/launch.sed
	$(EMU_GENERATE)
$(BUILD)/emu/emu_selftest: $(BUILD)/emu/src/emu_selftest.cpp $(EMU_RT_OBJ) $(EMU_HDRS)
	$(EMU_CXX) $(EMU_CXXFLAGS) -I$(EMU_DIR) -include cuda_runtime.h $< $(EMU_RT_OBJ) $(BLAS_LIBS) -o $@
# the emulated backend built again with other flags: $(1) the build folder, $(2) the kernels' flags, $(3) the
# runtime's and the emulated cuBLAS's
define EMU_VARIANT_OBJECTS
$(BUILD)/$(1)/obj/%.o: $(BUILD)/emu/src/%.cpp $(EMU_HDRS)
	@mkdir -p $$(dir $$@)
	$(EMU_CXX) $(EMU_CXXFLAGS) $(2) $$(if $$(filter comm,$$*),-DMM_NO_NCCL_H) -include cuda_runtime.h -c $$< -o $$@
$(BUILD)/$(1)/obj/emu_%.o: $(EMU_DIR)/emu_%.cpp $(EMU_HDRS)
	@mkdir -p $$(dir $$@)
	$(EMU_CXX) $(EMU_CXXFLAGS) $(3) -c $$< -o $$@
endef
# the same under AddressSanitizer + UBSan (fibers annotated for ASan): op parity with every kernel, the emulated
# runtime and the host code of kernels/cuda checked for out-of-bounds, use-after-free and undefined behaviour
EMU_SAN_CU_OBJ := $(CU_SRC:kernels/cuda/%.cu=$(BUILD)/emu-san/obj/%.o)
EMU_SAN_RT_OBJ := $(BUILD)/emu-san/obj/emu_runtime.o $(BUILD)/emu-san/obj/emu_cublas.o
$(eval $(call EMU_VARIANT_OBJECTS,emu-san,$(SAN_FLAGS),$(SAN_FLAGS)))
$(BUILD)/emu-san/parity: $(PARITY_SRC) tests/gpu/parity.h $(EMU_SAN_CU_OBJ) $(EMU_SAN_RT_OBJ) $(SLIB_OBJ)
	$(CC) $(SAN_CFLAGS) $(PARITY_SRC) $(EMU_SAN_CU_OBJ) $(EMU_SAN_RT_OBJ) $(SLIB_OBJ) $(LIBS) -lstdc++ -o $@
# racecheck: the kernels under ThreadSanitizer, the emulator's fibers as TSan fibers with only CUDA's ordering
# (barriers, block and launch boundaries; tests/cuda_emu/README.md): two threads of a block touching the same memory
# without a barrier between is reported.  The runtime, the emulated cuBLAS and the CPU library stay uninstrumented.
TSAN_FLAGS := -fsanitize=thread -DMM_EMU_TSAN=1
EMU_TSAN_CU_OBJ := $(CU_SRC:kernels/cuda/%.cu=$(BUILD)/emu-tsan/obj/%.o)
EMU_TSAN_RT_OBJ := $(BUILD)/emu-tsan/obj/emu_runtime.o $(BUILD)/emu-tsan/obj/emu_cublas.o
$(eval $(call EMU_VARIANT_OBJECTS,emu-tsan,$(TSAN_FLAGS),-DMM_EMU_TSAN=1))
$(BUILD)/emu-tsan/parity: $(PARITY_SRC) tests/gpu/parity.h $(EMU_TSAN_CU_OBJ) $(EMU_TSAN_RT_OBJ) $(BUILD)/libmmlora.a
	$(CC) $(CFLAGS) -fsanitize=thread $(PARITY_SRC) $(EMU_TSAN_CU_OBJ) $(EMU_TSAN_RT_OBJ) $(BUILD)/libmmlora.a $(LIBS) -lstdc++ -o $@
$(BUILD)/emu-tsan/engine_parity: tests/gpu/engine_parity.c $(EMU_TSAN_CU_OBJ) $(EMU_TSAN_RT_OBJ) $(BUILD)/libmmlora.a
	$(CC) $(CFLAGS) -fsanitize=thread $< $(EMU_TSAN_CU_OBJ) $(EMU_TSAN_RT_OBJ) $(BUILD)/libmmlora.a $(LIBS) -lstdc++ -o $@
$(BUILD)/emu-tsan/emu_selftest: $(BUILD)/emu/src/emu_selftest.cpp $(EMU_TSAN_RT_OBJ) $(EMU_HDRS)
	$(EMU_CXX) $(EMU_CXXFLAGS) $(TSAN_FLAGS) -I$(EMU_DIR) -include cuda_runtime.h $< $(EMU_TSAN_RT_OBJ) $(BLAS_LIBS) -o $@
# one thread for OpenMP and OpenBLAS: their own synchronization is invisible to TSan
EMU_TSAN_ENV := TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# make test runs the selftest, 3 edge-case draws per op family (~20 s) and the experts' fused kernels over several
# chunks of A (draw 10 of the sweep's expert family at seed 1: in 511 > DOWN_CHUNK 256; the first draws have one
# chunk, and without its first barrier expert_down_fused_kernel races only from the second chunk on);
# RACECHECK_PARITY= (empty) runs the fixed op parity instead of the 3 draws (276 checks, ~2 min)
RACECHECK_PARITY ?= --sweep 3 --seed 1
emu-racecheck: $(BUILD)/emu-tsan/parity $(BUILD)/emu-tsan/emu_selftest
	$(call EMU_RUN,racecheck_selftest,$(EMU_TSAN_ENV) $(BUILD)/emu-tsan/emu_selftest)
	$(call EMU_RUN,racecheck_parity,$(EMU_TSAN_ENV) $(EMU_ENV) $(BUILD)/emu-tsan/parity $(RACECHECK_PARITY))
	$(call EMU_RUN,racecheck_expert_chunks,$(EMU_TSAN_ENV) $(EMU_ENV) $(BUILD)/emu-tsan/parity --sweep 11 --seed 1 \
	  --only expert --draw 10)
# NCCL for several processes on one host (shared memory), loaded through MMLORA_NCCL_LIB, and its test
$(BUILD)/emu/libnccl_emu.so: $(EMU_DIR)/emu_nccl.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O2 -g -fPIC -shared $< -o $@ -lpthread -lrt
$(BUILD)/emu/nccl_emu_test: $(EMU_DIR)/nccl_emu_test.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O2 -g $< -o $@ -ldl -lpthread -lrt
.PHONY: emu emu-test emu-racecheck
emu: $(BUILD)/emu/parity $(BUILD)/emu/engine_parity $(BUILD)/emu/emu_selftest $(BUILD)/emu/libmmlora_cuda_emu.so \
     $(BUILD)/emu/libnccl_emu.so $(BUILD)/emu/nccl_emu_test $(BUILD)/emu-san/parity $(BUILD)/emu/train_bench
EMU_ENV := MMLORA_NCCL_LIB=$(CURDIR)/$(BUILD)/emu/libnccl_emu.so
EMU_CLI_ENV := $(EMU_ENV) MMLORA_FAKE_GPU="CUDA emulator:8" MMLORA_CUDA_LIB=$(CURDIR)/$(BUILD)/emu/libmmlora_cuda_emu.so
# each program's output in build/emu/<name>.log; its last line on success, its failures and tail otherwise
EMU_RUN = @set -o pipefail; log=$(BUILD)/emu/$(1).log; if $(2) >$$log 2>&1; then tail -1 $$log; \
          else echo "FAILED: $(2) (log: $$log)"; grep -E '^FAIL' $$log | head -20; tail -5 $$log; exit 1; fi
emu-test: emu $(BUILD)/mmlora $(BUILD)/gpu/run_parity
	$(call EMU_RUN,selftest,$(BUILD)/emu/emu_selftest)
	$(call EMU_RUN,nccl,$(BUILD)/emu/nccl_emu_test $(BUILD)/emu/libnccl_emu.so)
	$(call EMU_RUN,parity_reverse,$(EMU_ENV) MMLORA_EMU_ORDER=reverse $(BUILD)/emu/parity)
	@$(MAKE) --no-print-directory emu-racecheck
	@$(MAKE) --no-print-directory gpu-script-emu
# tests/gpu/run.sh --emulator: the GPU host's script, every step and its final table, on the emulator with every
# block and thread in a shuffled order: op parity, the edge-case sweep, engine parity, run parity (three methods),
# resume after kill -9 and the run again in reverse order, the benchmarks at tiny shapes, op parity under ASan
RUN_SH_EMU_OUT := $(BUILD)/emu/run-sh
gpu-script-emu: emu $(BUILD)/mmlora $(BUILD)/gpu/run_parity
	@rm -rf $(RUN_SH_EMU_OUT); mkdir -p $(RUN_SH_EMU_OUT); log=$(RUN_SH_EMU_OUT)/run.out; \
	  OUT=$(RUN_SH_EMU_OUT) MMLORA_EMU_ORDER=shuffle RUN_PARITY_METHODS="lora-mix mmlora fpft-mix" \
	    bash tests/gpu/run.sh --emulator >$$log 2>&1; rc=$$?; \
	  c() { grep -cE "$$1" $$log; }; \
	  p=$$(c '^parity: +276 passed, 0 failed'); w=$$(c '^sweep: +2460 passed, 0 failed'); m=$$(c '^memcheck: rc 0 .*276 passed'); \
	  e=$$(c '^62 passed, 0 failed'); r=$$(c '^run parity passed: 3 of 3 methods agree'); \
	  k=$$(c '^\| (resume|same) .*\| ok$$'); f=$$(c '^flop check .*: equal$$'); t=$$(c '^\| train '); d=$$(c '^\| decode '); \
	  o=$$(c '^\| op \| sum '); \
	  if [ $$rc -eq 0 ] && [ "$$p$$w$$m$$e$$r$$k" = 111112 ] && [ $$f -eq 8 ] && [ $$t -eq 9 ] && [ $$d -eq 4 ] && [ $$o -eq 1 ]; then \
	    echo "tests/gpu/run.sh --emulator: exit 0 in $$(sed -n 's/^=* mmlora GPU run (\([0-9]*s\).*/\1/p' $$log), every step and its table"; \
	  else echo "tests/gpu/run.sh --emulator FAILED: exit $$rc; op parity $$p sweep $$w memcheck $$m engine $$e run $$r (expected 1 each)," \
	    "resume/same $$k (2), flop checks $$f (8), train lines $$t (9), decode $$d (4), op profile sum $$o (1); log: $$log"; \
	    tail -25 $$log; exit 1; fi

# ---------------------------------------------------------------- bench / fuzz
$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libmmlora.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/libmmlora.a $(LIBS) -o $@
bench: $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
	@for b in $^; do echo "== $$b"; $$b || exit 1; done

FUZZ_SRC := $(sort $(wildcard tests/fuzz/*.c))
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS := $(CSTD) $(WARN) $(INCS) -O1 -g -fsanitize=fuzzer,address,undefined -Wno-string-concatenation -Wno-unknown-pragmas $(MPI_CFLAGS)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $< $(LIB_SRC) $(filter-out -fopenmp,$(LIBS)) -o $@
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
	@set -o pipefail; for f in $^; do echo "== $$f ($(FUZZ_SECONDS)s)"; mkdir -p $(BUILD)/fuzz/corpus-$$(basename $$f); \
	  $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 $(BUILD)/fuzz/corpus-$$(basename $$f) tests/fuzz/seeds/$$(basename $$f) 2>&1 | tail -3 || exit 1; done

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(SLIB_OBJ:.o=.d) $(STEST_OBJ:.o=.d)

# ---------------------------------------------------------------- experiments (experiments/README.md)
# make rq1|rq2|rq3|rq4 [MODEL=tiny|starcoderbase|deepseekcoder] [DATASET=local|csn|xlcost] [SCALE=smoke|default|full]
#                     [SCHEDULER=local|slurm]
# Defaults: the embedded tiny model on the local corpus (built on demand), scale default, run here.
# SCHEDULER=slurm runs nothing: it writes a Slurm job array (one task per run) and prints how to submit it.
MODEL   ?= tiny
DATASET ?= local
SCALE   ?= default
SCHEDULER ?= local
MODEL_DIR_tiny          := models/tiny
MODEL_DIR_starcoderbase := models/starcoderbase-1b
MODEL_DIR_deepseekcoder := models/deepseekcoder-1.3b
MODEL_DIR ?= $(or $(MODEL_DIR_$(MODEL)),models/$(MODEL))
# smoke runs go to their own tree so that they never mix with real results in the tables
EXP_RESULTS ?= $(if $(filter smoke,$(SCALE)),results-smoke,results)
EXP_ARGS ?=
# DEVICE=cpu|cuda|auto: where every run trains and generates (default: auto, a GPU when one is usable);
# NPROC=N: every run data parallel over N processes (one per GPU), launched with $(MPIRUN)
# SET="k=v ...": --set for every run (e.g. SET="dtype=bf16 act_dtype=bf16" for StarCoderBase-1B on a 24 GB GPU)
DEVICE ?=
SET    ?=
NPROC  ?= 1
MPIRUN ?= mpirun --bind-to none
EXP_LAUNCH := $(if $(filter-out 1,$(NPROC)),$(MPIRUN) -np $(NPROC))
.PHONY: rq1 rq2 rq3 rq4 all-rq tiny
rq1 rq2 rq3 rq4: $(BUILD)/mmlora
	@$(EXP_LAUNCH) $(BUILD)/mmlora experiment --grid experiments/$@/grid.json --model $(MODEL_DIR) --dataset $(DATASET) \
	    --scale $(SCALE) --results $(EXP_RESULTS) --scheduler $(SCHEDULER) $(if $(DEVICE),--device $(DEVICE)) $(foreach s,$(SET),--set $(s)) $(EXP_ARGS)
all-rq: $(BUILD)/mmlora
	@for r in rq1 rq2 rq3 rq4; do $(MAKE) --no-print-directory $$r || exit 1; done

# The embedded tiny model (models/tiny/README.md): tokenizer + pretraining, all by mmlora itself.
TINY_STEPS ?= 600
tiny: $(BUILD)/mmlora
	@test -f data/raw/local/python/train.jsonl || $(BUILD)/mmlora corpus build --out data/raw/local
	@mkdir -p $(BUILD)/tiny
	python3 models/tiny-src/dump_train_text.py data/raw/local $(BUILD)/tiny/train_text.txt
	$(BUILD)/mmlora tokenizer train --vocab-size 4096 --pretokenizer starcoder \
	    --input $(BUILD)/tiny/train_text.txt --out $(BUILD)/tiny/tokenizer.json
	rm -rf models/tiny
	$(BUILD)/mmlora pretrain --model-config models/tiny-src/config.json --tokenizer $(BUILD)/tiny/tokenizer.json \
	    --data data/raw/local --out models/tiny --seed 1234 --steps $(TINY_STEPS) --epochs 2 --batch 32 --micro 16 \
	    --lr 2e-3 --warmup 100 --max-source 96 --max-target 24
	rm -f models/tiny/checkpoint.safetensors
