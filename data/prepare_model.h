/* Binds prepare's sequence spec to a model directory: its tokenizer (encode, sha256), the separator
 * (C escapes allowed, e.g. "\\n") and the eos id (config.json eos_token_id, else the tokenizer's
 * <|endoftext|> or DeepSeek's end-of-sentence token). */
#ifndef MMLORA_DATA_PREPARE_MODEL_H
#define MMLORA_DATA_PREPARE_MODEL_H
#include "data/prepare.h"

/* tok must outlive o.  -1 + mm_fail on error. */
int mm_prepare_bind_model(mm_prepare_opts *o, const char *model_dir, mm_tokenizer *tok, const char *sep_escaped);
#endif
