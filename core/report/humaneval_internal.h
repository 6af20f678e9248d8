/* Private parts of the human-evaluation kit (humaneval*.c). */
#ifndef MMLORA_REPORT_HUMANEVAL_INTERNAL_H
#define MMLORA_REPORT_HUMANEVAL_INTERNAL_H
#include <stddef.h>
#include "report/humaneval.h"

/* The code snippet of a test example, recovered from the run's token cache (run.json "cache":
 * test.bin gives the example's language and 1-based line in the raw file) and the raw dataset file
 * (CodeSearchNet / local: the record's "code" field, with its newlines; else ' '.join(code_tokens);
 * XLCoST: the code line, Python layout restored).  The raw record's summary must equal the reference,
 * else the code is not trusted.  Failures are not errors: NULL and a reason in why. */
typedef struct he_code he_code;
he_code *mm_he_code_open(const char *run_dir, const char *raw, char *why, size_t cap);
char *mm_he_code_get(he_code *c, const char *lang, const char *id, const char *ref, char *why, size_t cap);
void mm_he_code_close(he_code *c);

/* Table VI's methods in the paper's order (CSV ids of paper-tables/paper/table6_human.csv) */
extern const char *const MM_HE_PAPER_ORDER[];
/* "mmlora" -> "MMLoRA"; prompted-LLM labels ("gpt-4 (one-shot)") unchanged */
const char *mm_he_display(const char *label);
/* 1 for a prompted LLM label (not ranked with the fine-tuned methods) */
int mm_he_is_llm(const char *label);

/* uniform integer in [0, n) from Philox (seed, step, index) on the human-evaluation stream */
uint64_t mm_he_rand(uint64_t seed, uint32_t step, uint64_t index, uint64_t n);
#endif
