/* XLCoST summarization reader.
 *   program level: <raw>/xlcost/generation/pair_data_tok_full_desc/<Lang>-desc/{train,val,test}-<Lang>-desc-tok.{<ext>,txt}
 *   snippet level: <raw>/xlcost/generation/pair_data_tok_1_comment/<Lang>-comment/{split}-<Lang>-comment-tok.{<ext>,txt}
 * Line i of the code file pairs with line i of the .txt file (both strip()ped, as XLCoST's run.py).
 * Python layout tokens: XLCoST's own summarization baseline feeds the tokenized line unchanged
 * (NEW_LINE / INDENT / DEDENT stay as words) -- MM_XLCOST_PY_TOKENS, the default.  With
 * MM_XLCOST_PY_RESTORE the layout is rebuilt (NEW_LINE -> newline, INDENT/DEDENT -> 4-space levels),
 * which is what the tokens stand for and what a code LLM saw in pretraining. */
#ifndef MMLORA_DATA_XLCOST_H
#define MMLORA_DATA_XLCOST_H
#include "data/dataset.h"

enum { MM_XLCOST_PROGRAM = 0, MM_XLCOST_SNIPPET = 1 };
enum { MM_XLCOST_PY_TOKENS = 0, MM_XLCOST_PY_RESTORE = 1 };

/* Paths of the code / text files for (level, lang id, split) under raw. */
void mm_xlcost_paths(const char *raw, int level, int lang, int split, char *code, char *text, size_t cap);

/* Rebuilds Python layout from a tokenized line; malloc'd. */
char *mm_xlcost_python_restore(const char *line);

/* Reads one (lang, split) pair of files, appending examples.  Lines beyond the shorter file, invalid
 * UTF-8 and empty pairs are skipped into bad (an error under strict).  Returns the number appended,
 * or -1 (mm_fail) when a file cannot be read. */
long mm_xlcost_read(const char *raw, int level, int lang, int split, int py_layout, int strict,
                    mm_example_set *out, mm_bad_report *bad);
#endif
