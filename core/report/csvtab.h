/* A small CSV table (libcsv): a header row and string cells, as read from the CSV files of paper-tables/paper/. */
#ifndef MMLORA_REPORT_CSVTAB_H
#define MMLORA_REPORT_CSVTAB_H

typedef struct {
    int ncol, nrow;
    char **head;   /* ncol names */
    char ***cell;  /* nrow rows of ncol strings */
} mm_csvtab;

/* Every row must have as many fields as the header; errors name the file and the line. */
int mm_csvtab_read(const char *path, mm_csvtab *t);
void mm_csvtab_free(mm_csvtab *t);
/* index of a header name, -1 if absent */
int mm_csvtab_col(const mm_csvtab *t, const char *name);
#endif
