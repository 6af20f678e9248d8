/* mmlora pretrain: next-token training of a small model from random initialization on the local corpus
 * (the code + summary sequences exactly as `prepare` builds them, loss on every token).  Writes a
 * loadable model directory: config.json, model.safetensors, tokenizer.json, README.md.  Resumable:
 * <out>/checkpoint.safetensors is written every --ckpt-every steps (mm_trainer_save). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cJSON.h>
#include "data/cache.h"
#include "data/dataset.h"
#include "data/prepare_model.h"
#include "io/tokenizer.h"
#include "model/engine.h"
#include "train/batches.h"
#include "train/trainer.h"
#include "util/fileio.h"
#include "util/log.h"

typedef struct {
    const char *model_config, *tokenizer, *data, *out, *cache_root;
    long steps;
    uint64_t seed;
    int batch, micro, seq_src, seq_tgt, warmup, ckpt_every, epochs;
    long valid_n;
    float lr;
} pt_opts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(FILE *f) {
    fprintf(f, "usage: mmlora pretrain --model-config JSON --tokenizer FILE --data data/raw/local --out DIR\n"
               "                       [--steps N] [--epochs E] [--seed S] [--batch 32] [--micro 16] [--lr 2e-3]\n"
               "                       [--warmup 100] [--max-source 96] [--max-target 24] [--ckpt-every 100]\n"
               "                       [--valid N] [--cache data/cache]\n"
               "Next-token pretraining from random init on the local corpus train split (code + summary as\n"
               "`prepare` builds them, loss on all tokens).  --steps 0 (default): --epochs passes over the data.\n"
               "Resumes from DIR/checkpoint.safetensors; writes config.json, model.safetensors, tokenizer.json, README.md.\n");
}

/* mm_batches_next with the loss on every real token (not only the summary) */
static int all_tokens_next(void *ctx, uint64_t micro, int32_t *tokens, float *weights, int32_t *langs, int B, int *T) {
    int rows = mm_batches_next(ctx, micro, tokens, weights, langs, B, T);
    for (int r = 0; r < rows; r++) {
        float *w = weights + (size_t)r * *T;
        int last = -1;
        for (int p = 0; p < *T; p++)
            if (w[p] > 0) last = p;
        for (int p = 0; p <= last; p++) w[p] = 1.0f;
    }
    return rows;
}

/* config.json: the given architecture with vocab/eos/bos from the tokenizer */
static int write_config(const pt_opts *o, mm_tokenizer *tok) {
    size_t len;
    char *txt = mm_read_file(o->model_config, &len);
    if (!txt) return -1;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    if (!j) return mm_fail("%s: not valid JSON", o->model_config);
    int V = mm_tokenizer_vocab_size(tok), eos = mm_tokenizer_token_to_id(tok, "<|endoftext|>");
    if (eos < 0) { cJSON_Delete(j); return mm_fail("%s: no <|endoftext|> token", o->tokenizer); }
    cJSON_DeleteItemFromObject(j, "vocab_size");
    cJSON_DeleteItemFromObject(j, "eos_token_id");
    cJSON_DeleteItemFromObject(j, "bos_token_id");
    cJSON_AddNumberToObject(j, "vocab_size", V);
    cJSON_AddNumberToObject(j, "bos_token_id", eos);
    cJSON_AddNumberToObject(j, "eos_token_id", eos);
    char *s = cJSON_Print(j), path[2048];
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/config.json", o->out);
    int rc = mm_write_file_atomic(path, s, strlen(s));
    free(s);
    return rc;
}

static double valid_loss(mm_engine *e, const mm_cache *c, long max_n, int32_t pad, double *n_tok) {
    size_t n = mm_cache_count(c);
    if (max_n > 0 && (size_t)max_n < n) n = (size_t)max_n;
    int32_t *tk = mm_xmalloc(sizeof(int32_t) * (size_t)e->B * e->T);
    float *w = mm_xmalloc(sizeof(float) * (size_t)e->B * e->T);
    double sum = 0, ws = 0;
    e->train = 0;
    for (size_t i0 = 0; i0 < n; i0 += (size_t)e->B) {
        int B = (int)(n - i0 < (size_t)e->B ? n - i0 : (size_t)e->B), T = 2;
        mm_cache_example ex[256];
        for (int b = 0; b < B; b++) {
            mm_cache_get(c, i0 + b, &ex[b]);
            if (ex[b].n_tok > T) T = ex[b].n_tok;
        }
        if (T > e->T) T = e->T;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < T; p++) {
                tk[b * T + p] = p < ex[b].n_tok ? ex[b].ids[p] : pad;
                w[b * T + p] = p < ex[b].n_tok ? 1.0f : 0.0f;
            }
        double s;
        mm_engine_forward(e, tk, B, T);
        sum += mm_engine_head(e, tk, w, B, T, 1.0f, 0, &s);
        ws += s;
    }
    free(tk);
    free(w);
    *n_tok = ws;
    return ws > 0 ? sum / ws : 0;
}

static int write_readme(const pt_opts *o, const mm_model *m, const mm_cache *train, const mm_cache *valid, int steps,
                        double vloss, double vtok, double train_loss, double seconds, int threads) {
    char path[2048];
    snprintf(path, sizeof path, "%s/README.md", o->out);
    FILE *f = fopen(path, "w");
    if (!f) return mm_fail("%s: cannot write", path);
    const mm_cache_header *h = mm_cache_header_get(train);
    uint64_t toks = 0;
    for (int l = 0; l < h->n_langs; l++) toks += h->lang[l].n_tokens;
    fprintf(f, "# tiny: a small GPTBigCode model pretrained by mmlora itself\n\n"
               "Produced entirely by this repository (no downloaded weights): a byte-level BPE tokenizer trained\n"
               "on the code and summaries of the local corpus TRAIN split, and a %d-layer GPTBigCode model\n"
               "(n_embd %d, %d heads, multi-query, n_inner %d, vocab %d) trained from random initialization\n"
               "on next-token prediction over the same split. It knows only this corpus; it is a test bed for\n"
               "the experiment drivers on CPU, not a substitute for StarCoderBase/DeepSeek-Coder.\n\n",
            m->cfg.n_layer, m->cfg.d_model, m->cfg.n_head, m->cfg.d_ff, m->cfg.vocab_size);
    fprintf(f, "## Numbers\n\n| | |\n|---|---|\n| parameters | %zu |\n| training sequences (train split) | %zu |\n"
               "| training tokens per epoch | %llu |\n| validation sequences / tokens | %zu / %.0f |\n"
               "| optimizer steps x sequences | %d x %d |\n| seed | %llu |\n| final training loss (last step) | %.4f |\n"
               "| final validation loss (valid split, all tokens, nats/token) | %.4f |\n"
               "| wall clock of this invocation | %.1f s on %d threads |\n\n",
            m->n_params, mm_cache_count(train), (unsigned long long)toks, mm_cache_count(valid), vtok, steps, o->batch,
            (unsigned long long)o->seed, train_loss, vloss, seconds, threads);
    fprintf(f, "Sequences: code tokens (<= %d BPE tokens) + \"\\n\" + summary (<= %d tokens) + <|endoftext|>, as\n"
               "`mmlora prepare --dataset local` builds them; loss on every token. AdamW lr %g, linear warm-up %d\n"
               "then linear decay, batch %d (micro-batches of %d), dropout 0.\n\n",
            o->seq_src, o->seq_tgt, o->lr, o->warmup, o->batch, o->micro);
    fprintf(f, "## Reproduce (`make tiny`)\n\n```sh\nmake deps && make\nbuild/mmlora corpus build --out data/raw/local\n"
               "python3 models/tiny-src/dump_train_text.py data/raw/local build/tiny/train_text.txt\n"
               "build/mmlora tokenizer train --vocab-size 4096 --pretokenizer starcoder \\\n"
               "    --input build/tiny/train_text.txt --out build/tiny/tokenizer.json\n"
               "build/mmlora pretrain --model-config models/tiny-src/config.json --tokenizer build/tiny/tokenizer.json \\\n"
               "    --data %s --out %s --seed %llu --steps %ld --epochs %d --batch %d --micro %d --lr %g --warmup %d \\\n"
               "    --max-source %d --max-target %d\n```\n",
            o->data, o->out, (unsigned long long)o->seed, o->steps, o->epochs, o->batch, o->micro, o->lr, o->warmup,
            o->seq_src, o->seq_tgt);
    fclose(f);
    return 0;
}

static int pretrain(const pt_opts *o) {
    if (mm_mkdirs(o->out)) return -1;
    mm_tokenizer *tok = mm_tokenizer_load(o->tokenizer);
    if (!tok) return -1;
    size_t len;
    char *tj = mm_read_file(o->tokenizer, &len), path[2048];
    snprintf(path, sizeof path, "%s/tokenizer.json", o->out);
    int rc = !tj || (strcmp(o->tokenizer, path) && mm_write_file_atomic(path, tj, len));
    free(tj);
    if (rc || write_config(o, tok)) { mm_tokenizer_free(tok); return -1; }
    mm_model_config cfg;
    mm_model m;
    memset(&m, 0, sizeof m);
    if (mm_config_load(o->out, &cfg) || mm_model_init(&m, &cfg)) { mm_tokenizer_free(tok); return -1; }
    mm_model_init_random(&m, o->seed);
    /* the caches: --data is RAW/local */
    char raw[1024];
    snprintf(raw, sizeof raw, "%s", o->data);
    char *rawdir = dirname(raw);
    mm_prepare_opts po;
    memset(&po, 0, sizeof po);
    po.load.kind = (mm_dataset_kind)mm_dataset_parse("local");
    po.load.raw = rawdir;
    po.cache_root = o->cache_root;
    po.spec.max_source = o->seq_src;
    po.spec.max_target = o->seq_tgt;
    po.fraction = 1.0;
    po.seed = 42;
    po.split_mask = 3; /* train + valid */
    po.progress = isatty(2) ? 1 : 2;
    mm_prepare_result pr;
    mm_cache *train = NULL, *valid = NULL;
    mm_engine e;
    mm_trainer tr;
    mm_batches bt;
    int have_e = 0, have_tr = 0, have_bt = 0;
    rc = -1;
    if (mm_prepare_bind_model(&po, o->out, tok, "\\n") || mm_prepare_run(&po, &pr)) goto out;
    snprintf(path, sizeof path, "%s/train.bin", pr.dir);
    if (!(train = mm_cache_open(path))) goto out;
    snprintf(path, sizeof path, "%s/valid.bin", pr.dir);
    if (!(valid = mm_cache_open(path))) goto out;
    const int32_t eos = mm_cache_header_get(train)->eos_id;
    const int n_sep = mm_cache_header_get(train)->n_sep;
    const int T = o->seq_src + n_sep + o->seq_tgt + 1;
    if (T > cfg.max_pos) { mm_fail("sequence length %d exceeds n_positions %d", T, cfg.max_pos); goto out; }
    if (mm_batches_init(&bt, train, -1, 0, o->epochs, o->micro, o->seed, eos)) goto out;
    have_bt = 1;
    if (mm_engine_init(&e, &mm_kernels_cpu, &m, NULL, 1, o->micro, T)) goto out;
    have_e = 1;
    mm_train_config tc;
    mm_train_config_defaults(&tc);
    tc.lr = o->lr;
    tc.warmup_steps = o->warmup;
    tc.weight_decay = 0.01f;
    tc.clip_norm = 1.0f;
    tc.accum = o->batch / o->micro;
    tc.seed = o->seed;
    int total = (int)((mm_batches_total_micro(&bt) + tc.accum - 1) / tc.accum);
    if (o->steps > 0 && o->steps < total) total = (int)o->steps;
    tc.total_steps = total;
    if (mm_trainer_init(&tr, &e, &tc)) goto out;
    have_tr = 1;
    char ckpt[2048];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o->out);
    if (mm_file_exists(ckpt)) {
        if (mm_trainer_load(&tr, ckpt)) goto out;
        mm_info("pretrain: resuming from %s at step %d of %d", ckpt, tr.step, total);
    }
    mm_info("pretrain: %zu parameters, %zu train sequences x %d epoch(s), %d steps of %d, lr %g, seed %llu",
            m.n_params, bt.n, o->epochs, total, o->batch, o->lr, (unsigned long long)o->seed);
    double t0 = now_s(), last = 0;
    const int start = tr.step, tty = isatty(2);
    while (tr.step < total) {
        int st = mm_trainer_step(&tr, all_tokens_next, &bt);
        if (st < 0) goto out;
        if (st == 0) break;
        double t = now_s(), el = t - t0;
        if (tty || t - last >= 10 || tr.step == total) {
            last = t;
            double eta = el / (tr.step - start) * (total - tr.step);
            fprintf(stderr, "%spretrain step %d/%d loss %.4f lr %.2e %.0f tok/s ETA %02d:%02d%s", tty ? "\r" : "",
                    tr.step, total, tr.last_loss, tr.last_lr, tr.last_tokens * (tr.step - start) / (el > 0 ? el : 1),
                    (int)(eta / 60), (int)eta % 60, tty ? "  " : "\n");
        }
        if (tr.step % o->ckpt_every == 0 && tr.step < total && mm_trainer_save(&tr, ckpt, NULL)) goto out;
    }
    if (tty) fputc('\n', stderr);
    if (mm_trainer_save(&tr, ckpt, NULL)) goto out;
    double train_loss = tr.last_loss, vtok = 0;
    double vloss = valid_loss(&e, valid, o->valid_n, eos, &vtok);
    mm_info("pretrain: %d steps, %.1f s; validation loss %.4f over %.0f tokens", tr.step, now_s() - t0, vloss, vtok);
    snprintf(path, sizeof path, "%s/model.safetensors", o->out);
    if (mm_model_save(&m, path)) goto out;
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    rc = write_readme(o, &m, train, valid, tr.step, vloss, vtok, train_loss, now_s() - t0, threads);
out:
    if (have_tr) mm_trainer_free(&tr);
    if (have_e) mm_engine_free(&e);
    if (have_bt) mm_batches_free(&bt);
    if (train) mm_cache_close(train);
    if (valid) mm_cache_close(valid);
    mm_model_free(&m);
    mm_tokenizer_free(tok);
    return rc;
}

int cmd_pretrain(int argc, char **argv) {
    pt_opts o = {.cache_root = "data/cache", .seed = 1234, .batch = 32, .micro = 16, .seq_src = 96, .seq_tgt = 24,
                 .warmup = 100, .ckpt_every = 100, .epochs = 1, .valid_n = 0, .lr = 2e-3f};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!v) { fprintf(stderr, "mmlora: error: pretrain: option '%s' needs a value\n", a); return 2; }
        i++;
        if (!strcmp(a, "--model-config")) o.model_config = v;
        else if (!strcmp(a, "--tokenizer")) o.tokenizer = v;
        else if (!strcmp(a, "--data")) o.data = v;
        else if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--cache")) o.cache_root = v;
        else if (!strcmp(a, "--steps")) o.steps = atol(v);
        else if (!strcmp(a, "--epochs")) o.epochs = atoi(v);
        else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--batch")) o.batch = atoi(v);
        else if (!strcmp(a, "--micro")) o.micro = atoi(v);
        else if (!strcmp(a, "--lr")) o.lr = strtof(v, NULL);
        else if (!strcmp(a, "--warmup")) o.warmup = atoi(v);
        else if (!strcmp(a, "--max-source")) o.seq_src = atoi(v);
        else if (!strcmp(a, "--max-target")) o.seq_tgt = atoi(v);
        else if (!strcmp(a, "--ckpt-every")) o.ckpt_every = atoi(v);
        else if (!strcmp(a, "--valid")) o.valid_n = atol(v);
        else { fprintf(stderr, "mmlora: error: pretrain: unknown option '%s'\n", a); usage(stderr); return 2; }
    }
    if (!o.model_config || !o.tokenizer || !o.data || !o.out) { usage(stderr); return 2; }
    if (o.micro < 1 || o.batch < o.micro || o.batch % o.micro || o.epochs < 1 || o.ckpt_every < 1 || o.micro > 256) {
        fprintf(stderr, "mmlora: error: pretrain: --batch must be a multiple of --micro (1..256), --epochs/--ckpt-every >= 1\n");
        return 2;
    }
    if (pretrain(&o)) {
        fprintf(stderr, "mmlora: error: pretrain: %s\n", mm_last_error());
        return 1;
    }
    return 0;
}
