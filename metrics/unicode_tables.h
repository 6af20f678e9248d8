/* Python 3.11 (Unicode 14.0) character tables used by the metrics; generated data in unicode_tables.c. */
#ifndef MMLORA_METRICS_UNICODE_TABLES_H
#define MMLORA_METRICS_UNICODE_TABLES_H
#include <stddef.h>
#include <stdint.h>

typedef struct { uint32_t cp; uint8_t n; uint32_t lo[3]; } mu_lower_entry;

extern const uint32_t mu_word_ranges[][2];
extern const size_t mu_word_ranges_n;
extern const uint32_t mu_space_ranges[][2];
extern const size_t mu_space_ranges_n;
extern const uint32_t mu_ign_ranges[][2];
extern const size_t mu_ign_ranges_n;
extern const uint32_t mu_cased_ranges[][2];
extern const size_t mu_cased_ranges_n;
extern const mu_lower_entry mu_lower_table[];
extern const size_t mu_lower_table_n;
#endif
