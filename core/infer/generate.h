/* Batched greedy decoding with a KV cache.  Sequences are independent "rows" (sequence, position), so
 * prompts of different lengths need no padding and every sequence sees exactly the positions
 * 0, 1, 2, ... it would see alone (HF's left padding + cumsum positions give the same numbers).
 *
 * Runs on any op table: on a device table (k->device_memory) the weights, the adapters, the KV cache and
 * every activation live in the table's memory; per forward only the rows' (sequence, position, token,
 * cache slot) go up and one token id per finished row comes back (argmax on the table). */
#ifndef MMLORA_GENERATE_H
#define MMLORA_GENERATE_H
#include <stdint.h>
#include "kernels.h"
#include "model/engine.h"
#include "model/model.h"
#include "peft/adapter.h"

typedef struct {
    const mm_kernels *k;
    const mm_model *m;
    mm_adapters *ad;         /* may be NULL; attached to k for the generator's life on a device table */
    int max_seqs, max_len, max_rows;
    const float *params;     /* the model's fp32 weights in k's memory (m->params on a host table) */
    float *own_params;       /* the device copy the generator uploaded (NULL on a host table) */
    mm_weight_gaps gaps;     /* params' layout: packed without the bf16 matrices on a device table with bf16 */
    float *kcache, *vcache;  /* [L, max_seqs, max_len, Hkv·D] each */
    void *arena;             /* k's memory */
    float *rope_cos, *rope_sin, *up, *x, *ln, *qkv, *att, *tmp, *fc, *u, *scratch, *sel, *rowlogits;
    int32_t *seq, *pos, *tok, *slot, *rowsel, *next; /* k's memory, max_rows each */
    int32_t *h_rows;         /* host staging: seq | pos | tok | slot | rowsel | next, max_rows each */
    int32_t *next_tok;       /* host: each sequence's next token [max_seqs] */
    /* dtype bf16 (model/engine.h): bf16 copies (k's memory) of every layer's target weights and the LM head, read
     * by linear_fwd_w16 (the run's --set dtype=bf16: decoding reads half the weight bytes); NULL with fp32 */
    uint16_t *w16;
    size_t w16_layer, w16_toff[MM_MAX_TARGETS], w16_head, w16_n;
} mm_generator;

/* max_rows bounds the rows of one forward (the prefill processes every prompt token at once). */
int mm_generator_init(mm_generator *g, const mm_kernels *k, const mm_model *m, mm_adapters *ad, int max_seqs,
                      int max_len, int max_rows);
/* the same with the frozen linears' storage: MM_DTYPE_FP32 (= mm_generator_init) or MM_DTYPE_BF16 */
int mm_generator_init_dtype(mm_generator *g, const mm_kernels *k, const mm_model *m, mm_adapters *ad, int max_seqs,
                            int max_len, int max_rows, int dtype);
void mm_generator_free(mm_generator *g);
/* bytes mm_generator_init_dtype allocates in k's memory (KV cache, activations, the weights' copy on a device
 * table: without the matrices held in bf16 with dtype bf16, the bf16 copies with dtype bf16) */
size_t mm_generator_bytes(const mm_model *m, const mm_adapters *ad, int device_table, int max_seqs, int max_len,
                          int max_rows, int dtype);

/* Greedy continuation of n prompts (n <= max_seqs): at most max_new tokens each, stopping after eos
 * (eos < 0: never).  out[i] receives the generated ids, eos excluded; out_len[i] their count. */
int mm_generate_greedy(mm_generator *g, const int32_t *const *prompts, const int *prompt_len, int n, int max_new,
                       int eos, int32_t **out, int *out_len);
#endif
