/* Fine-tuning methods as configurations of the adapted linear layer, with the paper's defaults
 * (§IV-C) and every ablation of RQ2/RQ3 as a switch (`--set key=value`):
 *   fpft-mix   all weights trainable
 *   lora-mix   LoRA r 32, alpha 64, dropout 0.1 on every linear layer of the blocks, all languages
 *   lora-each  the same adapter, one per language
 *   mola       per module E_l experts (r 8, alpha 16, dropout 0.1), a token router, top-2; E_l = 2/4/6/8
 *              for the four quarters of the layers, bottom to top
 *   mmlora     universal expert (r 8, alpha 16, gate 1) + M = 4 specialized experts (r 4, alpha 8), dropout
 *              0.1, the Global Language Router (Embedding 128 → 512 → ReLU/Dropout 0.1 → M), global top-K
 *              (K = 2), expert loss c_d·L_d + c_b·L_b with c_d = 0.3, c_b = 0.7
 *   one-shot   no training, no adapter: the base model prompted with 1 training example of the test
 *   few-shot   example's language (few-shot: 4, the paper's setting), `shots` overrides (train/run_icl.h)
 * Trainable-parameter counts as PEFT's print_trainable_parameters prints them. */
#ifndef MMLORA_METHOD_H
#define MMLORA_METHOD_H
#include "model/model.h"
#include "peft/adapter.h"

typedef enum {
    MM_METHOD_FPFT_MIX, MM_METHOD_LORA_MIX, MM_METHOD_LORA_EACH, MM_METHOD_MOLA, MM_METHOD_MMLORA,
    MM_METHOD_ONE_SHOT, MM_METHOD_FEW_SHOT /* in-context baselines: nothing trains */
} mm_method_kind;
#define MM_MAX_LAYER_LIST 128

typedef struct {
    mm_method_kind kind;
    char name[32];
    /* LoRA (lora-mix, lora-each) */
    int rank;
    float alpha, dropout;
    unsigned target_mask; /* over the model's targets; 0 = all */
    /* MoLA */
    int mola_rank, mola_top_k;
    float mola_alpha;
    int n_layer_experts;  /* 4: quarters bottom to top; otherwise one per layer */
    int layer_experts[MM_MAX_LAYER_LIST];
    /* MMLoRA */
    int experts, top_k, universal;
    int universal_rank, expert_rank;
    float universal_alpha, expert_alpha;
    int router_token;     /* ablation: per-module token routers instead of the global router */
    int router_emb, router_hidden;
    float router_dropout;
    float c_d, c_b;
    int diversity_loss, balance_loss;
    /* one-shot / few-shot: training examples in each prompt (0 for the trained methods) */
    int shots;
} mm_method_spec;

/* name: fpft-mix | lora-mix | lora-each | mola | mmlora | one-shot | few-shot, with the paper's defaults */
int mm_method_from_name(const char *name, mm_method_spec *s);
/* one-shot or few-shot: prompted, no adapter, nothing trainable */
int mm_method_in_context(const mm_method_spec *s);
/* one `key=value` override; unknown keys list the known ones */
int mm_method_set(mm_method_spec *s, const char *assignment);
/* contradictions (K > M, c_b outside [0, 1], ...) are errors before any work starts */
int mm_method_validate(const mm_method_spec *s);
/* experts of MoLA in layer l of an n-layer model */
int mm_mola_experts_at(const mm_method_spec *s, int layer, int n_layer);
/* trainable parameters of the method on model m (layout only is enough), n_lang languages; 0 in context */
long long mm_method_trainable(const mm_model *m, const mm_method_spec *s, int n_lang);
/* build the adapters (no work for fpft-mix, one-shot, few-shot); n_lang sizes the global router */
int mm_method_build(const mm_method_spec *s, const mm_model *m, int n_lang, uint64_t seed, mm_adapters *ad);
/* one line describing the configuration */
void mm_method_describe(const mm_method_spec *s, char *buf, size_t n);

/* PEFT's percentage, truncated (not rounded) to two decimals, e.g. "1.91" */
void mm_format_percent_trunc2(char *buf, size_t n, long long trainable, long long all);
/* 1234567 -> "1,234,567" */
void mm_format_thousands(char *buf, size_t n, long long v);
#endif
