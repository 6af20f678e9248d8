/* CPU data parallelism: `mpirun -np 2 build/mmlora train` gives the same adapter as one process with the
 * same global batch (to fp32 rounding of the gradient sums).  LoRA-Mix: MMLoRA's router parameters with
 * near-zero gradients let AdamW amplify the different summation order into visible differences. */
#include <math.h>
#include "io/safetensors.h"
#include "test_util.h"
#include "run_fixture.h"

static char g_dir[256];

static void world(void) { cr_assert_eq(rf_world_create(g_dir, sizeof g_dir, "mmlora-dist"), 0, "%s", mm_last_error()); }
static void teardown(void) { rf_world_remove(g_dir); }

static int train_with(const char *launcher, const char *out, const char *extra) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "%s build/mmlora train --method lora-mix --model %s/model --dataset csn --raw %s/raw --cache %s/cache "
             "--out %s/%s --set scale=smoke %s > %s/%s.log 2>&1",
             launcher, g_dir, g_dir, g_dir, g_dir, out, extra, g_dir, out);
    return system(cmd);
}
static int train(const char *launcher, const char *out) { return train_with(launcher, out, ""); }

/* every tensor of out_b's adapter within tol (relative, 0 = bit-identical) of out_a's */
static void same_adapter(const char *out_a, const char *out_b, double tol) {
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/%s/adapter/adapter_model.safetensors", g_dir, out_a);
    snprintf(b, sizeof b, "%s/%s/adapter/adapter_model.safetensors", g_dir, out_b);
    mm_safetensors *x = mm_st_open(a), *y = mm_st_open(b);
    cr_assert(x && y, "%s", mm_last_error());
    cr_assert_eq(mm_st_count(x), mm_st_count(y));
    for (int i = 0; i < mm_st_count(x); i++) {
        const mm_st_tensor *tx = mm_st_at(x, i), *ty = mm_st_find(y, tx->name);
        cr_assert(ty && tx->numel == ty->numel, "%s", tx->name);
        if (tol > 0) EXPECT_CLOSE(tx->name, (const float *)ty->data, (const float *)tx->data, (size_t)tx->numel, tol);
        else cr_expect_eq(memcmp(tx->data, ty->data, (size_t)tx->numel * sizeof(float)), 0, "%s: %s differs from %s",
                          tx->name, out_b, out_a);
    }
    mm_st_close(x);
    mm_st_close(y);
}

/* the log of the run into out (train_with's redirection); the caller frees it */
static char *read_log(const char *out) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.log", g_dir, out);
    size_t n;
    char *log = mm_read_file(path, &n);
    cr_assert(log, "%s missing", path);
    return log;
}

#define need_mpirun()                                                                                  \
    do {                                                                                               \
        if (system("command -v mpirun > /dev/null 2>&1") != 0)                                         \
            cr_skip_test("mpirun not installed (make deps installs openmpi-bin)");                     \
    } while (0)

TestSuite(dist, .init = world, .fini = teardown, .timeout = 300);

Test(dist, two_ranks_equal_one_process) {
    need_mpirun();
    cr_assert_eq(train("", "single"), 0, "single-process run failed (see %s/single.log)", g_dir);
    cr_assert_eq(train("OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -x OMP_NUM_THREADS -np 2",
                       "dp"), 0, "mpirun run failed (see %s/dp.log)", g_dir);
    same_adapter("single", "dp", 1e-5);
}

/* Data parallel with a device table: each rank trains on the stand-in device table (MMLORA_DEVICE_STANDIN=1,
 * --device cuda), whose device collectives sum over MPI through the same bootstrap NCCL uses (rank 0's id
 * broadcast, collective init, agreement); with MMLORA_DEVICE_COMM=off, and when one rank's init fails
 * (MMLORA_COMM_FAIL_RANK=1), every rank takes host staging instead.  All three give the CPU data-parallel
 * adapter bit for bit, and each log says which path it took. */
Test(dist, two_ranks_on_a_device_table_equal_two_cpu_ranks) {
    need_mpirun();
    const char *mpi = "OMP_NUM_THREADS=1 MMLORA_DEVICE_STANDIN=1 mpirun --allow-run-as-root --oversubscribe --mca btl "
                      "self,vader -x OMP_NUM_THREADS -x MMLORA_DEVICE_STANDIN -x MMLORA_DEVICE_COMM -x MMLORA_COMM_FAIL_RANK -np 2";
    char launcher[1024];
    cr_assert_eq(train_with(mpi, "dp_cpu", "--set device=cpu"), 0, "mpirun run failed (see %s/dp_cpu.log)", g_dir);
    struct { const char *env, *out, *want, *also; } runs[] = {
        {"", "dp_comm", "gradients are summed in device memory with mpi (stand-in) (2 ranks)", NULL},
        {"MMLORA_DEVICE_COMM=off", "dp_stage", "gradients go through host staging", "MMLORA_DEVICE_COMM=off"},
        {"MMLORA_COMM_FAIL_RANK=1", "dp_fallback", "gradients go through host staging", "init refused on rank 1"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        snprintf(launcher, sizeof launcher, "%s %s", runs[i].env, mpi);
        cr_assert_eq(train_with(launcher, runs[i].out, "--set device=cuda"), 0, "mpirun run failed (see %s/%s.log)",
                     g_dir, runs[i].out);
        char *log = read_log(runs[i].out);
        cr_expect(strstr(log, "cpu-standin"), "%s: not on the stand-in device table:\n%s", runs[i].out, log);
        cr_expect(strstr(log, runs[i].want), "%s: no '%s' in the log:\n%s", runs[i].out, runs[i].want, log);
        cr_expect(!runs[i].also || strstr(log, runs[i].also), "%s: no '%s' in the log:\n%s", runs[i].out,
                  runs[i].also, log);
        free(log);
        same_adapter("dp_cpu", runs[i].out, 0);
    }
}

/* A rank that stops responding or fails: the job ends with a message naming the cause, never a hang
 * (the suite's 300 s timeout would catch one). */
/* watchdog: seconds a collective may wait (short for the hung rank; generous for the failing one, whose
 * abort must come from the failure itself, not from a watchdog firing on a slow machine) */
static int faulty(const char *fault, int watchdog, const char *out) {
    char launcher[512];
    snprintf(launcher, sizeof launcher,
             "MMLORA_FAULT=%s MMLORA_DIST_TIMEOUT=%d OMP_NUM_THREADS=1 timeout 120 mpirun --allow-run-as-root "
             "--oversubscribe --mca btl self,vader -x OMP_NUM_THREADS -x MMLORA_FAULT -x MMLORA_DIST_TIMEOUT -np 2",
             fault, watchdog);
    return train(launcher, out);
}

Test(dist, a_hung_rank_stops_the_job_with_a_message) {
    need_mpirun();
    int rc = faulty("1:3:hang", 4, "hang");
    char *log = read_log("hang");
    cr_expect_neq(rc, 0);
    cr_expect_neq(WEXITSTATUS(rc), 124, "mpirun was still running after 120 s: the watchdog did not fire");
    cr_expect(strstr(log, "rank 0 of 2 waited") && strstr(log, "without the other ranks"), "%s", log);
    free(log);
}

Test(dist, a_failing_rank_aborts_the_others) {
    need_mpirun();
    int rc = faulty("1:3:error", 60, "error");
    char *log = read_log("error");
    cr_expect_neq(rc, 0);
    cr_expect_neq(WEXITSTATUS(rc), 124, "mpirun was still running after 120 s");
    cr_expect(strstr(log, "rank 1 fails at step 3") && strstr(log, "rank 1 of 2 failed"), "%s", log);
    free(log);
}

/* Data parallel on GPUs, NCCL included, on the CPU emulator of the CUDA backend (tests/cuda_emu: the real
 * kernels/cuda code, NCCL emulated across processes): two ranks each on an emulated GPU, gradients summed in
 * device memory by ncclAllReduce, give the adapter of one process on one emulated GPU with the same global batch;
 * a rank that hangs makes the job stop with a message.  Needs `make emu` (make test builds it first). */
#ifdef MMLORA_SANITIZE
#define MMLORA_SANITIZE_BUILD 1
#else
#define MMLORA_SANITIZE_BUILD 0
#endif
#define need_emulator(env)                                                                                    \
    do {                                                                                                      \
        need_mpirun();                                                                                        \
        if (MMLORA_SANITIZE_BUILD) cr_skip_test("the emulator runs build/mmlora (not sanitized): optimized suite only"); \
        if (!rf_emu_env((env), sizeof(env))) cr_skip_test("build/emu/libmmlora_cuda_emu.so not built (make emu)"); \
    } while (0)
#define EMU_MPI "mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -x OMP_NUM_THREADS " \
                "-x MMLORA_FAKE_GPU -x MMLORA_CUDA_LIB -x MMLORA_NCCL_LIB -x MMLORA_EMU_NCCL_TIMEOUT_S"

Test(dist, two_ranks_on_emulated_gpus_sum_with_nccl) {
    char env[2048], launcher[3072];
    need_emulator(env);
    snprintf(launcher, sizeof launcher, "%s", env);
    cr_assert_eq(train_with(launcher, "emu1", "--set device=cuda"), 0, "emulated run failed (see %s/emu1.log)", g_dir);
    snprintf(launcher, sizeof launcher, "%s OMP_NUM_THREADS=1 %s -np 2", env, EMU_MPI);
    cr_assert_eq(train_with(launcher, "emu2", "--set device=cuda"), 0, "mpirun run failed (see %s/emu2.log)", g_dir);
    char *log = read_log("emu2");
    cr_expect(strstr(log, "training on cuda:CUDA emulator"), "not on the emulated GPU:\n%s", log);
    cr_expect(strstr(log, "gradients are summed in device memory with nccl (2 ranks)"), "not through NCCL:\n%s", log);
    free(log);
    same_adapter("emu1", "emu2", 1e-5);
}

Test(dist, a_hung_rank_on_emulated_gpus_stops_the_job) {
    char env[2048], launcher[3072];
    need_emulator(env);
    snprintf(launcher, sizeof launcher, "%s MMLORA_FAULT=1:3:hang MMLORA_DIST_TIMEOUT=4 OMP_NUM_THREADS=1 timeout 120 %s "
             "-x MMLORA_FAULT -x MMLORA_DIST_TIMEOUT -np 2", env, EMU_MPI);
    int rc = train_with(launcher, "emu_hang", "--set device=cuda");
    char *log = read_log("emu_hang");
    cr_expect_neq(rc, 0);
    cr_expect_neq(WEXITSTATUS(rc), 124, "mpirun was still running after 120 s: the watchdog did not fire");
    cr_expect(strstr(log, "with nccl (2 ranks)"), "not through NCCL:\n%s", log);
    cr_expect(strstr(log, "rank 0 of 2 waited") && strstr(log, "without the other ranks"), "%s", log);
    free(log);
}
