/* build/mmlora: one binary, one subcommand per arrow of the data flow (docs/ARCHITECTURE.md). */
#include <stdio.h>
#include <string.h>
#include "cli/commands.h"
#include "train/dist.h"
#include "util/omp_policy.h"

typedef struct { const char *name; int (*fn)(int, char **); const char *help; } command;

static const command COMMANDS[] = {
    {"info", cmd_info, "model size, trainable parameters and % for a method (PEFT-style)"},
    {"tokenizer", cmd_tokenizer, "train | encode | decode a byte-level BPE tokenizer.json"},
    {"prepare", cmd_prepare, "tokenize a dataset into a memory-mapped training cache"},
    {"corpus", cmd_corpus, "build the local CodeSearchNet-style corpus from installed sources"},
    {"train", cmd_train, "fine-tune a model with a method (LoRA, full fine-tuning, ...)"},
    {"generate", cmd_generate, "greedy decoding of summaries for a test split"},
    {"run", cmd_run, "train -> generate -> score in one run directory"},
    {"pretrain", cmd_pretrain, "next-token pretraining from random initialization"},
    {"score", cmd_score, "BLEU (CodeXGLUE) and METEOR (NLTK) of predictions against gold"},
    {"stats", cmd_stats, "paired significance tests on per-sample scores"},
    {"report", cmd_report, "tables and figures beside the paper's numbers"},
    {"experiment", cmd_experiment, "run an experiment program (experiments/<rq>/grid.json) and print its table"},
    {"humaneval", cmd_humaneval, "human evaluation (Table VI): sample a blinded rating sheet, aggregate the ratings"},
};
enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static void usage(FILE *f) {
    fprintf(f, "usage: mmlora <command> [options]   (mmlora <command> --help for its options)\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s%s\n", COMMANDS[i].name, COMMANDS[i].help,
                COMMANDS[i].fn ? "" : "  [not in this build]");
}

int main(int argc, char **argv) {
    mm_omp_policy_reexec(argv); /* OMP_WAIT_POLICY=passive unless the user chose (util/omp_policy.h) */
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], COMMANDS[i].name) != 0) continue;
        if (!COMMANDS[i].fn) {
            fprintf(stderr, "mmlora: '%s' is not part of this build yet\n", argv[1]);
            return 2;
        }
        mm_dist_init(&argc, &argv); /* MPI data parallelism when started by mpirun */
        int rc = COMMANDS[i].fn(argc - 1, argv + 1);
        if (rc && mm_dist_size() > 1) mm_dist_abort(rc); /* never leave the other ranks waiting */
        mm_dist_finalize();
        return rc;
    }
    fprintf(stderr, "mmlora: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
