/* A self-contained tiny world for end-to-end runs in the tests: a random GPTBigCode whose vocabulary is
 * the tokenizer fixture's, and a synthetic CodeSearchNet-format dataset of six languages with a
 * learnable mapping from code to summary. */
#ifndef MMLORA_RUN_FIXTURE_H
#define MMLORA_RUN_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "io/tokenizer.h"
#include "model/model.h"
#include "peft/method.h"
#include "train/run.h"
#include "util/fileio.h"
#include "util/log.h"

static const char *RF_LANGS[6] = {"go", "java", "javascript", "php", "python", "ruby"};
static const char *RF_WORDS[16] = {"name", "value", "size", "count", "path", "user", "list", "index",
                                   "key", "file", "time", "data", "node", "text", "item", "port"};

/* writes raw/codesearchnet/<lang>/{train,valid,test}.jsonl under root; ruby is scarce on purpose */
static int rf_write_dataset(const char *root) {
    char path[1024];
    for (int l = 0; l < 6; l++) {
        snprintf(path, sizeof path, "%s/raw/codesearchnet/%s", root, RF_LANGS[l]);
        if (mm_mkdirs(path)) return -1;
        const char *splits[3] = {"train", "valid", "test"};
        const int counts[3] = {l == 5 ? 12 : 40, 4, 8};
        for (int s = 0; s < 3; s++) {
            snprintf(path, sizeof path, "%s/raw/codesearchnet/%s/%s.jsonl", root, RF_LANGS[l], splits[s]);
            FILE *f = fopen(path, "w");
            if (!f) return -1;
            for (int i = 0; i < counts[s]; i++) {
                const char *w = RF_WORDS[(i * 7 + l + s * 3) % 16], *v = RF_WORDS[(i * 3 + 5) % 16];
                fprintf(f,
                        "{\"language\": \"%s\", \"code_tokens\": [\"def\", \"get_%s\", \"(\", \"self\", \",\", \"%s\", \")\", "
                        "\":\", \"return\", \"self\", \".\", \"%s\", \"[\", \"%s\", \"]\"], "
                        "\"docstring_tokens\": [\"Return\", \"the\", \"%s\", \"of\", \"the\", \"%s\", \".\"], \"partition\": \"%s\"}\n",
                        RF_LANGS[l], w, v, w, v, w, v, splits[s]);
            }
            fclose(f);
        }
    }
    return 0;
}

/* model directory: config.json, model.safetensors (random), tokenizer.json (fixture copy); llama != 0
 * gives a LLaMA-family model with the DeepSeek-Coder tokenizer pipeline */
static int rf_write_model_family(const char *dir, int llama) {
    if (mm_mkdirs(dir)) return -1;
    size_t len;
    char *tok = mm_read_file(llama ? "tests/fixtures/tokenizer/ds.json" : "tests/fixtures/tokenizer/st.json", &len);
    if (!tok) return -1;
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int rc = mm_write_file_atomic(path, tok, len);
    free(tok);
    if (rc) return -1;
    mm_tokenizer *t = mm_tokenizer_load(path);
    if (!t) return -1;
    int V = mm_tokenizer_vocab_size(t);
    int eos = mm_tokenizer_token_to_id(t, llama ? "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>"
                                                : "<|endoftext|>");
    int bos = llama ? mm_tokenizer_token_to_id(t, "<\xef\xbd\x9c" "begin\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>") : eos;
    mm_tokenizer_free(t);
    char cfg[1024];
    int n = llama ? snprintf(cfg, sizeof cfg,
                     "{\"model_type\": \"llama\", \"num_hidden_layers\": 2, \"hidden_size\": 32, \"intermediate_size\": 64,\n"
                     " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": %d, \"max_position_embeddings\": 256,\n"
                     " \"rms_norm_eps\": 1e-06, \"rope_theta\": 100000.0, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 4.0},\n"
                     " \"hidden_act\": \"silu\", \"tie_word_embeddings\": false, \"bos_token_id\": %d, \"eos_token_id\": %d}\n",
                     V, bos, eos) : snprintf(cfg, sizeof cfg,
                     "{\"model_type\": \"gpt_bigcode\", \"n_layer\": 2, \"n_embd\": 32, \"n_head\": 4, \"n_inner\": 64,\n"
                     " \"vocab_size\": %d, \"n_positions\": 128, \"multi_query\": true, \"activation_function\": "
                     "\"gelu_pytorch_tanh\",\n \"layer_norm_epsilon\": 1e-05, \"resid_pdrop\": 0.1, \"embd_pdrop\": 0.1, "
                     "\"attn_pdrop\": 0.1,\n \"bos_token_id\": %d, \"eos_token_id\": %d, \"tie_word_embeddings\": true}\n",
                     V, eos, eos);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (mm_write_file_atomic(path, cfg, (size_t)n)) return -1;
    mm_model_config c;
    mm_model m;
    if (mm_config_load(dir, &c) || mm_model_init(&m, &c)) return -1;
    mm_model_init_random(&m, 7);
    (void)bos;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    rc = mm_model_save(&m, path);
    mm_model_free(&m);
    return rc;
}
static int rf_write_model(const char *dir) { return rf_write_model_family(dir, 0); }

/* a fresh world /tmp/<prefix>-XXXXXX holding raw/ (the dataset) and model/; 0 or -1 */
static int rf_world_create(char *root, size_t n, const char *prefix) {
    snprintf(root, n, "/tmp/%s-XXXXXX", prefix);
    if (!mkdtemp(root)) return mm_fail("mkdtemp %s failed", root);
    char p[600];
    if (rf_write_dataset(root)) return -1;
    snprintf(p, sizeof p, "%s/model", root);
    return rf_write_model(p);
}
/* `build/mmlora train --method <method>` on the world at smoke scale with a checkpoint every step, into
 * <root>/<out>, [--device <device>], in a fresh process (fork + exec: OpenMP state does not survive a plain
 * fork) that kills itself with SIGKILL right after its step-<step> checkpoint (test hook MMLORA_KILL_AT_STEP).
 * Returns 1 when the child died of SIGKILL. */
static inline int rf_train_killed_at(const char *root, const char *method, const char *out, int step, const char *device) {
    char model[512], raw[512], cache[512], dir[512], at[16];
    snprintf(model, sizeof model, "%s/model", root);
    snprintf(raw, sizeof raw, "%s/raw", root);
    snprintf(cache, sizeof cache, "%s/cache", root);
    snprintf(dir, sizeof dir, "%s/%s", root, out);
    snprintf(at, sizeof at, "%d", step);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("MMLORA_KILL_AT_STEP", at, 1);
        execl("build/mmlora", "mmlora", "train", "--method", method, "--model", model, "--dataset", "csn", "--raw", raw,
              "--cache", cache, "--out", dir, "--set", "scale=smoke", "--set", "ckpt_every=1",
              device ? "--device" : (char *)NULL, device, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* Options of a smoke-scale run of `method` on the world at root (its model, CodeSearchNet-format data and
 * cache) into root/out, then each "key=value" of sets[0..n) in order; 0, or -1 with mm_fail. */
static inline int rf_opts(mm_run_opts *o, const char *root, const char *method, const char *out,
                          const char *const *sets, int n) {
    mm_run_defaults(o);
    if (mm_method_from_name(method, &o->method)) return -1;
    snprintf(o->model_dir, sizeof o->model_dir, "%s/model", root);
    snprintf(o->raw_dir, sizeof o->raw_dir, "%s/raw", root);
    snprintf(o->cache_root, sizeof o->cache_root, "%s/cache", root);
    snprintf(o->out_dir, sizeof o->out_dir, "%s/%s", root, out);
    snprintf(o->dataset, sizeof o->dataset, "csn");
    if (mm_run_set(o, "scale=smoke")) return -1;
    for (int i = 0; i < n; i++)
        if (mm_run_set(o, sets[i])) return -1;
    return 0;
}

/* the environment that runs `build/mmlora --device cuda` on the CPU emulator of the CUDA backend (tests/cuda_emu:
 * the .so built by `make emu`, its emulated NCCL, a fake GPU for the driver probe) into buf, as shell assignments;
 * NULL when the emulator is not built */
static inline const char *rf_emu_env(char *buf, size_t n) {
    char cwd[512];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    char lib[700], nccl[700];
    snprintf(lib, sizeof lib, "%s/build/emu/libmmlora_cuda_emu.so", cwd);
    snprintf(nccl, sizeof nccl, "%s/build/emu/libnccl_emu.so", cwd);
    if (access(lib, F_OK) || access(nccl, F_OK)) return NULL;
    snprintf(buf, n, "MMLORA_FAKE_GPU='CUDA emulator:8' MMLORA_CUDA_LIB=%s MMLORA_NCCL_LIB=%s MMLORA_EMU_NCCL_TIMEOUT_S=60",
             lib, nccl);
    return buf;
}

static void rf_world_remove(const char *root) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd)) {}
}
#endif
