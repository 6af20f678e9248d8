/* CodeSearchNet (CodeXGLUE code-to-text) reader: <raw>/codesearchnet/<lang>/{train,valid,test}.jsonl,
 * one json.dumps(record) per line.  Model input = ' '.join(code_tokens), target =
 * ' '.join(docstring_tokens), both whitespace-collapsed exactly as CodeXGLUE's run.py does.
 * The same reader serves the local corpus (<raw>/local/<lang>/...), which uses the same records. */
#ifndef MMLORA_DATA_CSN_H
#define MMLORA_DATA_CSN_H
#include <stddef.h>
#include "data/dataset.h"

/* Parses one line.  0 and malloc'd src and tgt, or -1 with *reason set (static text): invalid UTF-8,
 * malformed JSON, missing field, wrong type, empty code/summary. */
int mm_csn_parse_line(const char *line, size_t len, char **src, char **tgt, const char **reason);

/* Reads a jsonl file, appending its examples (language id lang) to out.  Bad lines are skipped and
 * recorded in bad; with strict, the first bad line is an error naming file, line and reason.
 * Returns the number of examples appended, or -1 (mm_fail) if the file cannot be read. */
long mm_csn_read(const char *path, int lang, int strict, mm_example_set *out, mm_bad_report *bad);
#endif
