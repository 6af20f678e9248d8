/* mmlora score: CodeXGLUE BLEU and NLTK METEOR of predictions against gold (metrics/score.h). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/meteor.h"
#include "metrics/samples_csv.h"
#include "metrics/score.h"
#include "util/log.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: mmlora score --gold GOLD --pred PRED [--per-sample OUT.csv] [--json OUT.json]\n"
            "                    [--wordnet DIR] [--morphy39] [--threads N]\n\n"
            "Files are CodeXGLUE code-to-text format, one 'idx<TAB>text' per line. Prints\n"
            "  BLEU: <CodeXGLUE smoothed sentence BLEU-4, mean x100>\n"
            "  METEOR: <NLTK meteor_score([ref.split()], hyp.split()), mean x100>\n"
            "as Python repr() would. Pairing follows CodeXGLUE's bleu.py: only gold ids present in PRED\n"
            "are scored (in gold order), repeated gold ids are multiple references, a later duplicate\n"
            "PRED id wins, PRED lines are str.strip()'d, GOLD lines need exactly one TAB.\n\n"
            "  --per-sample F  CSV 'id,bleu,meteor', one row per scored id, scores in [0,1] (%%.17g)\n"
            "  --json F        corpus scores and counts as JSON\n"
            "  --wordnet DIR   WordNet 3.0 dict dir (default $WORDNET_DIR or /usr/share/wordnet,\n"
            "                  Debian package wordnet-base)\n"
            "  --morphy39      NLTK >= 3.9 WordNet morphy (default: NLTK 3.8 behaviour)\n"
            "  --threads N     worker threads (default: OpenMP default)\n");
}

static int fail(const char *msg) {
    fprintf(stderr, "mmlora: error: %s\n", msg);
    return 1;
}

int cmd_score(int argc, char **argv) {
    const char *gold = NULL, *pred = NULL, *csv = NULL, *json = NULL, *wndir = NULL;
    int morphy39 = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--gold") && has) gold = argv[++i];
        else if (!strcmp(a, "--pred") && has) pred = argv[++i];
        else if (!strcmp(a, "--per-sample") && has) csv = argv[++i];
        else if (!strcmp(a, "--json") && has) json = argv[++i];
        else if (!strcmp(a, "--wordnet") && has) wndir = argv[++i];
        else if (!strcmp(a, "--threads") && has) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--morphy39")) morphy39 = 1;
        else {
            fprintf(stderr, "mmlora: error: score: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!gold || !pred) {
        fprintf(stderr, "mmlora: error: score: --gold and --pred are required\n");
        usage(stderr);
        return 2;
    }
    mm_clear_error();
    mm_score_set set;
    if (mm_score_read(gold, pred, &set)) return fail(mm_last_error());
    mm_meteor *m = mm_meteor_new(wndir, morphy39);
    if (!m) { mm_score_set_free(&set); return fail(mm_last_error()); }
    if (set.pred_unmatched || set.gold_unmatched_lines)
        mm_warn("score: %zu PRED id(s) without gold and %zu GOLD line(s) without prediction were ignored "
                "(as CodeXGLUE's bleu.py does)", set.pred_unmatched, set.gold_unmatched_lines);
    double *b = mm_xmalloc((set.n + 1) * sizeof *b), *mt = mm_xmalloc((set.n + 1) * sizeof *mt);
    mm_score_items(set.items, set.n, m, b, mt, threads);
    double cb = mm_corpus_mean100(b, set.n), cm = mm_corpus_mean100(mt, set.n);
    char s1[32], s2[32];
    printf("BLEU: %s\nMETEOR: %s\n", mm_fmt_repr(cb, s1), mm_fmt_repr(cm, s2));
    fprintf(stderr, "Total: %zu\n", set.n);
    int rc = 0;
    if (csv) {
        const char **ids = mm_xmalloc((set.n + 1) * sizeof *ids);
        size_t *lens = mm_xmalloc((set.n + 1) * sizeof *lens);
        for (size_t i = 0; i < set.n; i++) { ids[i] = set.items[i].id; lens[i] = set.items[i].id_len; }
        if (mm_samples_write(csv, ids, lens, set.n, b, mt)) rc = fail(mm_last_error());
        free(ids); free(lens);
    }
    if (!rc && json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "bleu", cb);
        cJSON_AddNumberToObject(o, "meteor", cm);
        cJSON_AddNumberToObject(o, "n", (double)set.n);
        cJSON_AddStringToObject(o, "gold", gold);
        cJSON_AddStringToObject(o, "pred", pred);
        cJSON_AddNumberToObject(o, "pred_ids_without_gold", (double)set.pred_unmatched);
        cJSON_AddNumberToObject(o, "gold_lines_without_pred", (double)set.gold_unmatched_lines);
        cJSON_AddStringToObject(o, "bleu_reference", "CodeXGLUE code-to-text bleu.py (smoothed sentence BLEU-4, mean x100)");
        cJSON_AddStringToObject(o, "meteor_reference", morphy39 ? "NLTK meteor_score, NLTK >= 3.9 morphy, WordNet 3.0"
                                                                : "NLTK 3.8 meteor_score, WordNet 3.0");
        char *txt = cJSON_Print(o);
        FILE *f = fopen(json, "wb");
        if (!f || fputs(txt, f) < 0 || fputc('\n', f) < 0) rc = fail("cannot write the --json file");
        if (f && fclose(f) != 0 && !rc) rc = fail("cannot write the --json file");
        free(txt);
        cJSON_Delete(o);
    }
    free(b); free(mt);
    mm_meteor_free(m);
    mm_score_set_free(&set);
    return rc;
}
