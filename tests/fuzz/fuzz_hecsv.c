/* libFuzzer target: the human-evaluation CSV reader (report/hecsv.c), which reads sheets that raters filled
 * by hand in spreadsheets.  Any input: no crash, no leak; an accepted table is written back with
 * mm_hecsv_field and must read back to the same cells.  Seeds: tests/fuzz/seeds/fuzz_hecsv/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "report/hecsv.h"
#include "util/fileio.h"
#include "util/log.h"

static void row_out(mm_sbuf *b, char **cells, int n) {
    for (int c = 0; c < n; c++) {
        if (c) mm_sb_puts(b, ",");
        if (!cells[c][0]) mm_sb_puts(b, "\"\""); /* an empty single-field record would be a blank line */
        else mm_hecsv_field(b, cells[c]);
    }
    mm_sb_puts(b, "\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64], path2[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz-hecsv-%d.csv", (int)getpid());
        snprintf(path2, sizeof path2, "/tmp/fuzz-hecsv-%d-b.csv", (int)getpid());
        mm_set_verbosity(0);
    }
    if (memchr(data, 0, size)) return 0; /* cells are C strings */
    if (mm_write_file_atomic(path, (const char *)data, size)) abort();
    mm_hecsv t;
    if (mm_hecsv_read(path, &t) != 0) return 0;
    mm_sbuf b = {0};
    mm_sb_puts(&b, "");
    row_out(&b, t.head, t.ncol);
    for (int r = 0; r < t.nrow; r++) row_out(&b, t.cell[r], t.ncol);
    if (mm_sb_write(&b, path2)) abort();
    mm_hecsv u;
    if (mm_hecsv_read(path2, &u) != 0) abort();
    if (u.ncol != t.ncol || u.nrow != t.nrow) abort();
    for (int c = 0; c < t.ncol; c++)
        if (strcmp(u.head[c], t.head[c])) abort();
    for (int r = 0; r < t.nrow; r++)
        for (int c = 0; c < t.ncol; c++)
            if (strcmp(u.cell[r][c], t.cell[r][c])) abort();
    mm_hecsv_free(&u);
    mm_hecsv_free(&t);
    mm_sb_free(&b);
    return 0;
}
