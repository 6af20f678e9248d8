/* Hugging Face config.json loader for gpt_bigcode (StarCoderBase) and llama (DeepSeek-Coder).
 * Spec: ../shared/docs/models-spec.md §1.  Absent keys take the defaults of transformers'
 * GPTBigCodeConfig / LlamaConfig, except token ids, which are -1 when absent or null. */
#include "model/config.h"
#include "util/log.h"
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CFG_MAX_BYTES (16u << 20)

typedef struct {
    const char *file;
    const cJSON *root;
} ctx;

/* Integer key: absent (or null when null_ok) -> def; otherwise an integral number in [lo, hi]. */
static int get_int(const ctx *c, const char *key, int def, int lo, int hi, int null_ok, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (!v || (null_ok && cJSON_IsNull(v))) { *out = def; return 0; }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return mm_fail("%s: key '%s' must be an integer", c->file, key);
    if (v->valuedouble < lo || v->valuedouble > hi)
        return mm_fail("%s: key '%s' is %.17g, expected %d..%d", c->file, key, v->valuedouble, lo, hi);
    *out = (int)v->valuedouble;
    return 0;
}

static int get_float(const ctx *c, const char *key, double def, double lo, double hi, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (!v) { *out = (float)def; return 0; }
    if (!cJSON_IsNumber(v)) return mm_fail("%s: key '%s' must be a number", c->file, key);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return mm_fail("%s: key '%s' is %.17g, expected %g..%g", c->file, key, v->valuedouble, lo, hi);
    *out = (float)v->valuedouble;
    return 0;
}

static int get_bool(const ctx *c, const char *key, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (!v) { *out = def; return 0; }
    if (!cJSON_IsBool(v)) return mm_fail("%s: key '%s' must be true or false", c->file, key);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

static int get_str(const ctx *c, const char *key, const char *def, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (!v) { *out = def; return 0; }
    if (!cJSON_IsString(v)) return mm_fail("%s: key '%s' must be a string", c->file, key);
    *out = v->valuestring;
    return 0;
}

/* Token id: absent/null -> -1; a list (eos_token_id may be one) -> its first element. */
static int get_token(const ctx *c, const char *key, int vocab, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    *out = -1;
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsArray(v)) {
        if (!v->child) return 0;
        v = v->child;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble >= vocab)
        return mm_fail("%s: key '%s' must be a token id in 0..%d", c->file, key, vocab - 1);
    *out = (int)v->valuedouble;
    return 0;
}

static int load_gpt_bigcode(const ctx *c, mm_model_config *m) {
    const char *act = "";
    int mq, n_inner;
    m->family = MM_FAMILY_GPT_BIGCODE;
    if (get_int(c, "vocab_size", 50257, 1, 1 << 30, 0, &m->vocab_size) ||
        get_int(c, "n_positions", 1024, 1, 1 << 30, 0, &m->max_pos) ||
        get_int(c, "n_embd", 768, 1, 1 << 20, 0, &m->d_model) ||
        get_int(c, "n_layer", 12, 1, 4096, 0, &m->n_layer) ||
        get_int(c, "n_head", 12, 1, 1 << 16, 0, &m->n_head) ||
        get_int(c, "n_inner", 0, 1, 1 << 24, 1, &n_inner) ||
        get_str(c, "activation_function", "gelu_pytorch_tanh", &act) ||
        get_float(c, "resid_pdrop", 0.1, 0, 1, &m->resid_pdrop) ||
        get_float(c, "embd_pdrop", 0.1, 0, 1, &m->embd_pdrop) ||
        get_float(c, "attn_pdrop", 0.1, 0, 1, &m->attn_pdrop) ||
        get_float(c, "layer_norm_epsilon", 1e-5, 0, 1, &m->norm_eps) ||
        get_bool(c, "multi_query", 1, &mq) ||
        get_bool(c, "tie_word_embeddings", 1, &m->tie_embeddings))
        return -1;
    /* gelu_new / gelu_fast are the same tanh formula as gelu_pytorch_tanh (they differ only by fp32
     * rounding of intermediate steps); "gelu" (erf) and anything else is a different function. */
    if (strcmp(act, "gelu_pytorch_tanh") != 0 && strcmp(act, "gelu_new") != 0 && strcmp(act, "gelu_fast") != 0)
        return mm_fail("%s: key 'activation_function' is '%s'; supported: gelu_pytorch_tanh, gelu_new, gelu_fast",
                       c->file, act);
    int sa, sm;
    if (get_bool(c, "scale_attn_weights", 1, &sa) || get_bool(c, "add_cross_attention", 0, &sm)) return -1;
    if (!sa) return mm_fail("%s: key 'scale_attn_weights' false is not supported", c->file);
    if (sm) return mm_fail("%s: key 'add_cross_attention' true is not supported", c->file);
    m->d_ff = n_inner ? n_inner : 4 * m->d_model;
    m->n_kv_head = mq ? 1 : m->n_head;
    if (m->d_model % m->n_head != 0)
        return mm_fail("%s: key 'n_embd' (%d) is not a multiple of 'n_head' (%d)", c->file, m->d_model, m->n_head);
    m->head_dim = m->d_model / m->n_head;
    m->rope_theta = 0;
    m->rope_scale = 1;
    return 0;
}

static int load_rope(const ctx *c, mm_model_config *m) {
    const char *key = "rope_scaling";
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (!rs || cJSON_IsNull(rs)) { key = "rope_parameters"; rs = cJSON_GetObjectItemCaseSensitive(c->root, key); }
    m->rope_scale = 1;
    if (!rs || cJSON_IsNull(rs)) return 0;
    if (!cJSON_IsObject(rs)) return mm_fail("%s: key '%s' must be an object or null", c->file, key);
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!ty) ty = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (ty && !cJSON_IsString(ty)) return mm_fail("%s: key '%s.rope_type' must be a string", c->file, key);
    const char *type = ty ? ty->valuestring : "default";
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(rs, "rope_theta");
    if (th) { /* transformers >= 5 keeps rope_theta inside rope_parameters */
        if (!cJSON_IsNumber(th) || !(th->valuedouble > 0))
            return mm_fail("%s: key '%s.rope_theta' must be a positive number", c->file, key);
        m->rope_theta = (float)th->valuedouble;
    }
    if (strcmp(type, "default") == 0) return 0;
    if (strcmp(type, "linear") != 0)
        return mm_fail("%s: key '%s' has type '%s'; supported: linear (or null)", c->file, key, type);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(rs, "factor");
    if (!cJSON_IsNumber(f) || !(f->valuedouble >= 1.0) || f->valuedouble > 1e6)
        return mm_fail("%s: key '%s.factor' must be a number >= 1", c->file, key);
    m->rope_scale = (float)f->valuedouble;
    return 0;
}

static int load_llama(const ctx *c, mm_model_config *m) {
    const char *act = "";
    int ab, mb, tp, hd;
    m->family = MM_FAMILY_LLAMA;
    if (get_int(c, "vocab_size", 32000, 1, 1 << 30, 0, &m->vocab_size) ||
        get_int(c, "hidden_size", 4096, 1, 1 << 20, 0, &m->d_model) ||
        get_int(c, "intermediate_size", 11008, 1, 1 << 24, 0, &m->d_ff) ||
        get_int(c, "num_hidden_layers", 32, 1, 4096, 0, &m->n_layer) ||
        get_int(c, "num_attention_heads", 32, 1, 1 << 16, 0, &m->n_head))
        return -1;
    if (get_int(c, "num_key_value_heads", m->n_head, 1, 1 << 16, 1, &m->n_kv_head) ||
        get_str(c, "hidden_act", "silu", &act) ||
        get_int(c, "max_position_embeddings", 2048, 1, 1 << 30, 0, &m->max_pos) ||
        get_float(c, "rms_norm_eps", 1e-6, 0, 1, &m->norm_eps) ||
        get_int(c, "pretraining_tp", 1, 1, 1 << 16, 1, &tp) ||
        get_bool(c, "tie_word_embeddings", 0, &m->tie_embeddings) ||
        get_float(c, "rope_theta", 10000.0, 1e-30, 1e30, &m->rope_theta) ||
        get_bool(c, "attention_bias", 0, &ab) || get_bool(c, "mlp_bias", 0, &mb) ||
        get_float(c, "attention_dropout", 0.0, 0, 1, &m->attn_pdrop) ||
        get_int(c, "head_dim", 0, 1, 1 << 16, 1, &hd))
        return -1;
    if (strcmp(act, "silu") != 0) return mm_fail("%s: key 'hidden_act' is '%s'; supported: silu", c->file, act);
    if (ab) return mm_fail("%s: key 'attention_bias' true is not supported", c->file);
    if (mb) return mm_fail("%s: key 'mlp_bias' true is not supported", c->file);
    if (m->d_model % m->n_head != 0)
        return mm_fail("%s: key 'hidden_size' (%d) is not a multiple of 'num_attention_heads' (%d)", c->file,
                       m->d_model, m->n_head);
    m->head_dim = m->d_model / m->n_head;
    if (hd && hd != m->head_dim)
        return mm_fail("%s: key 'head_dim' is %d but hidden_size / num_attention_heads is %d (unsupported)",
                       c->file, hd, m->head_dim);
    if (m->n_head % m->n_kv_head != 0)
        return mm_fail("%s: key 'num_key_value_heads' (%d) does not divide num_attention_heads (%d)", c->file,
                       m->n_kv_head, m->n_head);
    if (m->head_dim % 2) return mm_fail("%s: key 'num_attention_heads' gives an odd head_dim %d", c->file, m->head_dim);
    m->embd_pdrop = m->resid_pdrop = 0;
    return load_rope(c, m);
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Python's json keeps the last of duplicated keys, cJSON the first: reject them as ambiguous. */
static int check_dups(const char *file, const char *where, const cJSON *obj) {
    int n = cJSON_GetArraySize(obj), k = 0, rc = 0;
    const char **names = mm_xmalloc(sizeof(char *) * (size_t)(n ? n : 1));
    for (const cJSON *e = obj->child; e; e = e->next) names[k++] = e->string;
    qsort(names, (size_t)n, sizeof(char *), cmp_cstr);
    for (int i = 1; i < n && !rc; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            rc = mm_fail("%s: key '%s%s' appears more than once", file, where, names[i]);
    free(names);
    return rc;
}

int mm_config_parse(const char *json, size_t len, const char *name, mm_model_config *cfg) {
    if (!name) name = "config.json";
    cJSON *root = json ? cJSON_ParseWithLength(json, len) : NULL;
    if (!root) return mm_fail("%s: not valid JSON", name);
    int rc = -1;
    ctx c = {name, root};
    mm_model_config m;
    memset(&m, 0, sizeof m);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsObject(root)) { mm_fail("%s: top level is not a JSON object", name); goto out; }
    if (check_dups(name, "", root) != 0) goto out;
    for (const cJSON *e = root->child; e; e = e->next)
        if (cJSON_IsObject(e) && (strcmp(e->string, "rope_scaling") == 0 || strcmp(e->string, "rope_parameters") == 0)) {
            char where[32];
            snprintf(where, sizeof where, "%s.", e->string);
            if (check_dups(name, where, e) != 0) goto out;
        }
    if (!mt) { mm_fail("%s: key 'model_type' missing; supported: gpt_bigcode, llama", name); goto out; }
    if (!cJSON_IsString(mt)) { mm_fail("%s: key 'model_type' must be a string", name); goto out; }
    if (strcmp(mt->valuestring, "gpt_bigcode") == 0) rc = load_gpt_bigcode(&c, &m);
    else if (strcmp(mt->valuestring, "llama") == 0) rc = load_llama(&c, &m);
    else {
        mm_fail("%s: key 'model_type' is '%s'; supported: gpt_bigcode, llama", name, mt->valuestring);
        goto out;
    }
    if (rc == 0 && (get_token(&c, "bos_token_id", m.vocab_size, &m.bos_id) ||
                    get_token(&c, "eos_token_id", m.vocab_size, &m.eos_id) ||
                    get_token(&c, "pad_token_id", m.vocab_size, &m.pad_id)))
        rc = -1;
    if (rc == 0) *cfg = m;
out:
    cJSON_Delete(root);
    return rc;
}

int mm_config_load(const char *path, mm_model_config *cfg) {
    struct stat sb;
    char *p = NULL;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        size_t pl = strlen(path) + 16;
        p = mm_xmalloc(pl);
        snprintf(p, pl, "%s/config.json", path);
        path = p;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) { int rc = mm_fail("%s: cannot open: %s", path, strerror(errno)); free(p); return rc; }
    size_t cap = 1 << 16, n = 0, r;
    char *buf = mm_xmalloc(cap);
    while ((r = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += r;
        if (n >= CFG_MAX_BYTES) break;
        if (n == cap) buf = mm_xrealloc(buf, cap *= 2);
    }
    int err = ferror(fp);
    fclose(fp);
    int rc;
    if (err) rc = mm_fail("%s: read error", path);
    else if (n >= CFG_MAX_BYTES) rc = mm_fail("%s: larger than %u bytes; not a config.json", path, CFG_MAX_BYTES);
    else rc = mm_config_parse(buf, n, path, cfg);
    free(buf);
    free(p);
    return rc;
}

long long mm_config_base_params(const mm_model_config *c) {
    long long d = c->d_model, ff = c->d_ff, V = c->vocab_size, hd = c->head_dim;
    long long q = (long long)c->n_head * hd, kv = (long long)c->n_kv_head * hd;
    long long layer, rest;
    if (c->family == MM_FAMILY_GPT_BIGCODE) {
        layer = d * (q + 2 * kv) + (q + 2 * kv) /* c_attn */ + q * d + d /* attn.c_proj */ +
                d * ff + ff /* c_fc */ + ff * d + d /* mlp.c_proj */ + 4 * d /* ln_1, ln_2 */;
        rest = V * d + (long long)c->max_pos * d + 2 * d; /* wte, wpe, ln_f */
    } else {
        layer = d * q + 2 * d * kv + q * d /* q, k, v, o */ + 3 * d * ff /* gate, up, down */ + 2 * d;
        rest = V * d + d; /* embed_tokens, norm */
    }
    if (!c->tie_embeddings) rest += V * d; /* lm_head */
    return layer * c->n_layer + rest;
}
