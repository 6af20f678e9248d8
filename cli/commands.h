/* Subcommands of build/mmlora.  Each lives in cli/cmd_<name>.c and returns the process exit code.
 * Declared weak so that a partial build still links; main() reports a missing one clearly. */
#ifndef MMLORA_CLI_COMMANDS_H
#define MMLORA_CLI_COMMANDS_H
#define MM_CMD(name) int cmd_##name(int argc, char **argv) __attribute__((weak))
MM_CMD(info);
MM_CMD(tokenizer);
MM_CMD(score);
MM_CMD(stats);
MM_CMD(prepare);
MM_CMD(corpus);
MM_CMD(train);
MM_CMD(generate);
MM_CMD(run);
MM_CMD(pretrain);
MM_CMD(report);
MM_CMD(experiment);
MM_CMD(humaneval);
#undef MM_CMD
#endif
