/* End-to-end runs (train -> generate -> score) of every method at smoke scale on a tiny world. */
#include <signal.h>
#include <sys/wait.h>
#include "peft/method.h"
#include "train/run.h"
#include "test_util.h"
#include "run_fixture.h"

static char g_root[256];

static void world(void) { cr_assert_eq(rf_world_create(g_root, sizeof g_root, "mmlora-run"), 0, "%s", mm_last_error()); }
static void teardown(void) { rf_world_remove(g_root); }

static void opts_for(mm_run_opts *o, const char *method, const char *out, const char **sets, int n) {
    cr_assert_eq(rf_opts(o, g_root, method, out, sets, n), 0, "%s", mm_last_error());
}

static double mean_loss(const char *log, int first) {
    FILE *f = fopen(log, "r");
    cr_assert(f, "%s missing", log);
    double v[512];
    int n = 0;
    char line[512];
    while (n < 512 && fgets(line, sizeof line, f)) {
        char *p = strstr(line, "\"loss\": ");
        if (p) v[n++] = atof(p + 8);
    }
    fclose(f);
    cr_assert(n >= 6, "only %d steps logged", n);
    double s = 0;
    for (int i = 0; i < 3; i++) s += first ? v[i] : v[n - 1 - i];
    return s / 3;
}

static void check_run_dir(const char *out, int experts, int lora_each) {
    const char *files[] = {"run.json", lora_each ? "train.go.jsonl" : "train.jsonl", "scores.json", "DONE", "predictions/ruby.txt", "gold/go.txt",
                           "scores/python.csv"};
    char p[1024];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        cr_expect(mm_file_exists(p), "%s missing", p);
    }
    snprintf(p, sizeof p, "%s/experts.json", out);
    cr_expect_eq(mm_file_exists(p), experts, "experts.json %s", experts ? "missing" : "unexpected");
    if (lora_each) return; /* a few steps per language at smoke scale: too short for a loss trend */
    snprintf(p, sizeof p, "%s/train.jsonl", out);
    double a = mean_loss(p, 1), b = mean_loss(p, 0);
    cr_expect(b < a, "%s: loss did not go down (%.4f -> %.4f)", out, a, b);
}

static void smoke(const char *method, const char **sets, int n, int experts) {
    mm_run_opts o;
    opts_for(&o, method, method, sets, n);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    check_run_dir(o.out_dir, experts, !strcmp(method, "lora-each"));
    /* a finished run is skipped */
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    /* ... but not when the same directory is asked for another configuration (another preset, another
     * version): that is an error naming the directory and the key, never a silent skip */
    if (strcmp(method, "lora-mix")) return;
    cr_assert_eq(mm_run_set(&o, "lr=0.5"), 0);
    cr_assert_neq(mm_run(&o, MM_PHASE_ALL), 0);
    cr_expect(strstr(mm_last_error(), "complete (DONE) but was made with another configuration") &&
                  strstr(mm_last_error(), "(key '") && strstr(mm_last_error(), o.out_dir),
              "%s", mm_last_error());
}

TestSuite(run, .init = world, .fini = teardown, .timeout = 400);

Test(run, lora_mix_smoke) { smoke("lora-mix", NULL, 0, 0); }
Test(run, fpft_mix_smoke) { smoke("fpft-mix", NULL, 0, 0); }
Test(run, mola_smoke) { const char *s[] = {"mola_experts=2,4"}; smoke("mola", s, 1, 0); }
Test(run, mmlora_smoke) { smoke("mmlora", NULL, 0, 1); }
static void ablation(const char *name, const char **sets, int n, int experts) {
    mm_run_opts o;
    opts_for(&o, "mmlora", name, sets, n);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s: %s", name, mm_last_error());
    check_run_dir(o.out_dir, experts, 0);
}
Test(run, mmlora_without_universal_expert) { const char *s[] = {"universal=off"}; ablation("no-universal", s, 1, 1); }
Test(run, mmlora_token_routers) { const char *s[] = {"router=token"}; ablation("token-router", s, 1, 0); }
Test(run, mmlora_without_expert_loss) {
    const char *s[] = {"diversity_loss=off", "balance_loss=off"};
    ablation("no-expert-loss", s, 2, 1);
}
Test(run, mmlora_six_experts_top3) { const char *s[] = {"experts=6", "top_k=3"}; ablation("e6k3", s, 2, 1); }
Test(run, mmlora_8sle) { const char *s[] = {"sle=8"}; ablation("8sle", s, 1, 1); }

/* LLaMA family with the DeepSeek-Coder tokenizer pipeline, end to end */
Test(run, llama_deepseek_pipeline_smoke) {
    char p[512];
    snprintf(p, sizeof p, "%s/llama", g_root);
    cr_assert_eq(rf_write_model_family(p, 1), 0, "%s", mm_last_error());
    mm_run_opts o;
    opts_for(&o, "mmlora", "llama-mmlora", NULL, 0);
    snprintf(o.model_dir, sizeof o.model_dir, "%s/llama", g_root);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    check_run_dir(o.out_dir, 1, 0);
}

Test(run, lora_each_trains_one_adapter_per_language) {
    smoke("lora-each", NULL, 0, 0);
    char p[1024];
    for (int l = 0; l < 6; l++) {
        snprintf(p, sizeof p, "%s/lora-each/adapter/%s/adapter_model.safetensors", g_root, RF_LANGS[l]);
        cr_expect(mm_file_exists(p), "%s missing", p);
    }
}

/* The CLI is killed with SIGKILL right after its step-5 checkpoint (test hook MMLORA_KILL_AT_STEP); the
 * same command again must finish with an adapter identical to an uninterrupted run.  The child is a
 * fresh process (fork + exec): OpenMP state does not survive a plain fork. */
Test(run, kill_9_and_rerun_gives_the_identical_adapter) {
    cr_assert(rf_train_killed_at(g_root, "mmlora", "killed", 5, NULL), "child was not killed");
    mm_run_opts k;
    const char *ck[] = {"ckpt_every=1"};
    opts_for(&k, "mmlora", "killed", ck, 1);
    cr_assert_eq(mm_run(&k, MM_PHASE_TRAIN), 0, "%s", mm_last_error());
    mm_run_opts o;
    opts_for(&o, "mmlora", "straight", NULL, 0);
    cr_assert_eq(mm_run(&o, MM_PHASE_TRAIN), 0, "%s", mm_last_error());
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/straight/adapter/adapter_model.safetensors", g_root);
    snprintf(b, sizeof b, "%s/killed/adapter/adapter_model.safetensors", g_root);
    size_t la, lb;
    char *x = mm_read_file(a, &la), *y = mm_read_file(b, &lb);
    cr_assert(x && y);
    cr_expect(la == lb && !memcmp(x, y, la), "resumed adapter differs from the uninterrupted one");
    free(x);
    free(y);
}

Test(run, bad_specs_fail_before_any_work) {
    mm_run_opts o;
    opts_for(&o, "mmlora", "bad", NULL, 0);
    cr_assert_eq(mm_run_set(&o, "top_k=9"), 0);
    cr_expect_eq(mm_run(&o, MM_PHASE_ALL), -1);
    char p[1024];
    snprintf(p, sizeof p, "%s/bad", g_root);
    struct stat st;
    cr_expect(stat(p, &st) != 0, "a run directory was created for an invalid spec");
    cr_expect_eq(mm_run_set(&o, "nonsense=1"), -1);
}
