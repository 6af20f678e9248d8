/* Read-only WordNet 3.0 access as NLTK's WordNetCorpusReader uses it for METEOR:
 * synsets(w) over POS n, v, a, r with _morphy (NLTK <= 3.8 recursive rules by default,
 * NLTK >= 3.9 single pass as an option) and the lemma names of those synsets.
 * Data are Debian's wordnet-base dict files (default /usr/share/wordnet; WORDNET_DIR overrides),
 * mmap'd; the index and exception lists are hashed in memory at load time. */
#ifndef MMLORA_METRICS_WORDNET_H
#define MMLORA_METRICS_WORDNET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mm_wordnet mm_wordnet;

#define MM_WORDNET_DEFAULT_DIR "/usr/share/wordnet"

/* dir NULL: $WORDNET_DIR, else /usr/share/wordnet. NULL + mm_fail() message (naming the
 * directory, the missing file and the package wordnet-base) on error. Thread-safe to use after. */
mm_wordnet *mm_wordnet_open(const char *dir);
void mm_wordnet_close(mm_wordnet *wn);

/* A set of lemma names (strings owned by the set). */
typedef struct { char **items; size_t n, cap; uint32_t *slots; size_t nslots; } mm_strset;
void mm_strset_free(mm_strset *s);
bool mm_strset_has(const mm_strset *s, const char *w, size_t len);

/* SYN(w) \ {w}: names of all lemmas (without '_', syntactic marker removed) of
 * wordnet.synsets(w). morphy39 selects NLTK >= 3.9 _morphy. out is reset first. */
void mm_wordnet_synonyms(const mm_wordnet *wn, const char *w, size_t len, bool morphy39, mm_strset *out);
/* _morphy(form, pos) (pos one of "nvar"); result forms appended to out. */
void mm_wordnet_morphy(const mm_wordnet *wn, const char *form, char pos, bool morphy39, mm_strset *out);
#endif
