/* Unicode text helpers with Python 3.11 semantics (str.isspace, \w, str.lower incl. Final_Sigma),
 * used so that tokenization matches CodeXGLUE's bleu.py and NLTK's METEOR code point for code point. */
#ifndef MMLORA_METRICS_UTEXT_H
#define MMLORA_METRICS_UTEXT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Strict UTF-8 check (as Python's decoder: no overlongs, no surrogates, <= U+10FFFF).
 * Returns true when valid; otherwise *bad_off (if non-NULL) is the offset of the first bad byte. */
bool mu_utf8_valid(const char *s, size_t n, size_t *bad_off);
/* Decodes n bytes into out (capacity >= n code points); invalid sequences become U+FFFD.
 * Returns the number of code points. */
size_t mu_utf8_decode(const char *s, size_t n, uint32_t *out);
/* Encodes one code point; returns bytes written (1..4). */
size_t mu_utf8_put(uint32_t cp, char *out);
/* Encodes n code points into out (capacity >= 4n + 1, NUL-terminated); returns the byte length. */
size_t mu_utf8_encode(const uint32_t *cp, size_t n, char *out);

bool mu_is_space(uint32_t cp);  /* Python str.isspace() */
bool mu_is_alnum(uint32_t cp);  /* Python str.isalnum(); \w is this or '_' */
/* Python str.lower() of the whole array (Final_Sigma context inside it). out capacity >= 3n.
 * Returns the output length. */
size_t mu_lower(const uint32_t *in, size_t n, uint32_t *out);
#endif
