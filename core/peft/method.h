/* Fine-tuning methods as configurations of the adapted linear layer, with the paper's defaults
 * (§IV-C): LoRA-Mix r 32, alpha 64, dropout 0.1 on every linear layer of the blocks; FPFT-Mix: all
 * weights.  Trainable-parameter counts as PEFT's print_trainable_parameters prints them. */
#ifndef MMLORA_METHOD_H
#define MMLORA_METHOD_H
#include "model/model.h"

typedef enum { MM_METHOD_FPFT_MIX, MM_METHOD_LORA_MIX, MM_METHOD_LORA_EACH } mm_method_kind;

typedef struct {
    mm_method_kind kind;
    char name[32];
    int rank;
    float alpha, dropout;
    unsigned target_mask; /* over the model's targets; 0 = all */
} mm_method_spec;

/* name: fpft-mix | lora-mix | lora-each. Unknown names: -1 listing the known ones. */
int mm_method_from_name(const char *name, mm_method_spec *s);
/* trainable parameters of the method on model m (layout only is enough) */
long long mm_method_trainable(const mm_model *m, const mm_method_spec *s);
/* PEFT's percentage, truncated (not rounded) to two decimals, e.g. "1.91" */
void mm_format_percent_trunc2(char *buf, size_t n, long long trainable, long long all);
/* 1234567 -> "1,234,567" */
void mm_format_thousands(char *buf, size_t n, long long v);
#endif
