/* cli.h — what the subcommands of the migrator CLI share.
 *
 * Exit codes (documented in README.md and `migrator --help`):
 *   0  success
 *   1  failure: a device could not be read, or a finding of severity "error"
 *   2  usage error
 */
#ifndef MIGRATOR_CLI_H
#define MIGRATOR_CLI_H

#include <stdbool.h>

#define EXIT_USAGE 2

extern const char *program_name;

/* "migrator: <what>: <strerror(-err)>" on stderr, with clearer words for the
 * errno values the library uses for bad input (-EISDIR, -ENODATA, ...). */
void cli_error(const char *what, int err);
void cli_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One specific message and the pointer to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cmd_inventory(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_receive(int argc, char **argv);
int cmd_usedmap(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_patch(int argc, char **argv);
int cmd_layout(int argc, char **argv);

#endif
