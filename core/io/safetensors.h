/* safetensors reader (mmap, single file or sharded index) and writer (atomic).
 * Format: ../shared/docs/models-spec.md §2.  Every error names the file and the tensor or key. */
#ifndef MMLORA_SAFETENSORS_H
#define MMLORA_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    MM_DT_BOOL, MM_DT_U8, MM_DT_I8, MM_DT_F8_E5M2, MM_DT_F8_E4M3, MM_DT_I16, MM_DT_U16, MM_DT_F16,
    MM_DT_BF16, MM_DT_I32, MM_DT_U32, MM_DT_F32, MM_DT_F64, MM_DT_I64, MM_DT_U64, MM_DT_COUNT
} mm_dtype;
const char *mm_dtype_name(mm_dtype dt);
size_t mm_dtype_size(mm_dtype dt);
/* "F32" -> MM_DT_F32; MM_DT_COUNT when the name is not a known dtype. */
mm_dtype mm_dtype_from_name(const char *name);

#define MM_MAX_DIMS 8
typedef struct {
    const char *name;
    mm_dtype dtype;
    int ndim;
    int64_t shape[MM_MAX_DIMS];
    int64_t numel;
    const void *data;       /* points into the mapping; may be unaligned */
    size_t nbytes;
    const char *file;       /* the file this tensor lives in (for messages) */
} mm_st_tensor;

typedef struct mm_safetensors mm_safetensors;

/* path: a .safetensors file, a model.safetensors.index.json, or a directory holding either. */
mm_safetensors *mm_st_open(const char *path);
/* Parse a safetensors image held in memory (validated like a file); `name` is used in messages.
 * The buffer is NOT copied: it must stay valid and unchanged until mm_st_close. */
mm_safetensors *mm_st_open_memory(const void *buf, size_t len, const char *name);
void mm_st_close(mm_safetensors *st);
int mm_st_count(const mm_safetensors *st);
const mm_st_tensor *mm_st_at(const mm_safetensors *st, int i);
const mm_st_tensor *mm_st_find(const mm_safetensors *st, const char *name); /* NULL if absent */
/* "__metadata__" value for key, or NULL. */
const char *mm_st_metadata(const mm_safetensors *st, const char *key);
/* Copy tensor `name` into dst as fp32 (F32, F16, BF16 converted).  expect_shape (ndim dims) must match
 * exactly; on mismatch/missing: -1 with "<file>: tensor '<name>' has shape [..], expected [..]".
 * ndim < 0 skips the shape check (dst must then hold numel floats). */
int mm_st_read_f32(const mm_safetensors *st, const char *name, float *dst, int ndim, const int64_t *expect_shape);

typedef struct mm_st_writer mm_st_writer;
mm_st_writer *mm_st_writer_new(void);
/* data is copied at save time, so it must stay valid until mm_st_writer_save returns. */
void mm_st_writer_add(mm_st_writer *w, const char *name, mm_dtype dtype, int ndim, const int64_t *shape,
                      const void *data);
void mm_st_writer_metadata(mm_st_writer *w, const char *key, const char *value);
/* Write to path atomically (path.tmp.<pid>, fsync, rename, fsync of the directory).  Layout is the one
 * Python safetensors writes: data ordered by dtype (U64, I64, F64, F32, ... BOOL, i.e. descending enum
 * order) then by name (bytewise), compact JSON header, "__metadata__" first (its keys sorted), header padded
 * with spaces so that 8 + N is a multiple of 8.  Byte-identical to Python for <= 1 metadata key (Python's
 * metadata key order is a hash order).  Errors recorded by add/metadata are reported here. */
int mm_st_writer_save(mm_st_writer *w, const char *path);
void mm_st_writer_free(mm_st_writer *w);

/* the F16/BF16 conversions (mm_bf16_to_f32, mm_f32_to_bf16, ...) live in util/halffloat.h */
#include "util/halffloat.h"
#endif
