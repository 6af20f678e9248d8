/* Model configuration read from a Hugging Face config.json (gpt_bigcode or llama).
 * Spec: ../shared/docs/models-spec.md §1. */
#ifndef MMLORA_CONFIG_H
#define MMLORA_CONFIG_H
#include <stddef.h>

typedef enum { MM_FAMILY_GPT_BIGCODE = 0, MM_FAMILY_LLAMA = 1 } mm_family;

typedef struct {
    mm_family family;
    int n_layer;
    int d_model;        /* n_embd / hidden_size */
    int n_head;
    int n_kv_head;      /* gpt_bigcode: 1 if multi_query else n_head; llama: num_key_value_heads */
    int head_dim;       /* d_model / n_head */
    int d_ff;           /* n_inner (null -> 4*d_model) / intermediate_size */
    int vocab_size;
    int max_pos;        /* n_positions / max_position_embeddings */
    float norm_eps;     /* layer_norm_epsilon / rms_norm_eps */
    int tie_embeddings; /* gpt_bigcode default 1, llama default 0 */
    float embd_pdrop, attn_pdrop, resid_pdrop; /* gpt_bigcode dropouts; llama: attention_dropout */
    float rope_theta;   /* llama */
    float rope_scale;   /* linear rope scaling factor, 1 if none */
    int bos_id, eos_id, pad_id; /* -1 when absent */
} mm_model_config;

/* path: config.json or a directory holding it.  Unknown model_type, unsupported activation or
 * rope_scaling type, or a key with a wrong type: -1, message names the file and the key. */
int mm_config_load(const char *path, mm_model_config *cfg);
/* Same, from config.json text in memory (need not be NUL-terminated); `name` is used in messages.
 * cfg is written only on success.  Token ids (bos/eos/pad) are -1 when absent or null; an
 * eos_token_id list gives its first element. */
int mm_config_parse(const char *json, size_t len, const char *name, mm_model_config *cfg);
/* Parameter count of the base model (tied weights once). */
long long mm_config_base_params(const mm_model_config *cfg);
#endif
