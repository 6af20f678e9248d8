/* Hugging Face PEFT LoRA adapters on disk: adapter_config.json + adapter_model.safetensors
 * (models-spec.md §5).  Load for evaluation/golden tests, save so PeftModel.from_pretrained loads ours. */
#ifndef MMLORA_PEFT_IO_H
#define MMLORA_PEFT_IO_H
#include "peft/adapter.h"

/* Parse target_modules (list or single name) into a mask over the model's targets.  A target matches a
 * module when its full name equals it or ends with "." + target (PEFT's rule). */
int mm_peft_target_mask(const mm_model *m, const char **targets, int n_targets, unsigned *mask);
int mm_adapters_load_peft(mm_adapters *ad, const mm_model *m, const char *dir);
int mm_adapters_save_peft(const mm_adapters *ad, const mm_model *m, const char *dir, const char *base_model_name);
#endif
