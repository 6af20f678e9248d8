/* NLTK's PorterStemmer() in its default NLTK_EXTENSIONS mode (nltk/stem/porter.py, unchanged
 * from NLTK 3.6 to 3.10), working on Unicode code points: every code point other than a e i o u
 * (and y after a vowel) is a consonant. */
#ifndef MMLORA_METRICS_PORTER_H
#define MMLORA_METRICS_PORTER_H
#include <stddef.h>
#include <stdint.h>

/* Stems w[0..n) in place (after Python str.lower()); w needs capacity >= 3n + 8.
 * Returns the new length. */
size_t mm_porter_stem_cp(uint32_t *w, size_t n);
/* UTF-8 convenience: returns a malloc'd stem of the NUL-terminated word. */
char *mm_porter_stem(const char *word);
#endif
