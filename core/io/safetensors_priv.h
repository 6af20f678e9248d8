/* Internal helpers shared by safetensors.c and safetensors_write.c (not part of the API). */
#ifndef MMLORA_SAFETENSORS_PRIV_H
#define MMLORA_SAFETENSORS_PRIV_H
#include <stddef.h>
/* Offset of the first byte that breaks strict UTF-8 (as Rust's str::from_utf8: no overlongs,
 * no surrogates, <= U+10FFFF), or (size_t)-1 if s[0..n) is valid. */
size_t mm_st_utf8_invalid_at(const unsigned char *s, size_t n);
#endif
