/* config.h — what the rescue system was asked to do: the kernel command line,
 * migrator.conf, and the shell-like splitting of migrator.args.
 *
 * Pure functions on text: no I/O, no printing. Problems are reported through
 * the caller's warn callback and the offending item is skipped, so a typo
 * never turns an unattended run into something the operator did not ask for
 * (an invalid migrator.exit keeps the safe default, "shell").
 *
 * Key names (docs/kernel-cmdline.md is the user-facing reference):
 *   kernel command line   migrator.KEY=VALUE   (and the standard ip=, console=)
 *   migrator.conf         KEY=VALUE            ("migrator." prefix accepted too)
 * KEY is one of mode, args, exit, config, debug, ip (migrator.conf only); any
 * other KEY becomes an option "--KEY=VALUE" (or "--KEY") of the job's command.
 */
#ifndef MIGRATOR_INIT_CONFIG_H
#define MIGRATOR_INIT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CMDLINE_MAX      65536  /* bytes of /proc/cmdline we accept */
#define CMDLINE_ITEMS_MAX 512   /* words on the kernel command line */
#define CONF_FILE_MAX    65536  /* bytes of a migrator.conf / user-data */
#define CONF_LINE_MAX    4096   /* one migrator.conf line */
#define CONF_KEY_MAX     64     /* one key name, without "migrator." */
#define CONF_VALUE_MAX   4096   /* one value */
#define CONF_OPTS_MAX    64     /* pass-through --options */
#define CONF_IP_MAX      8      /* ip= entries */
#define ARGS_WORDS_MAX   256    /* words in migrator.args */

/* Called once per problem found; msg is a complete sentence without newline. */
typedef void (*config_warn_fn)(void *data, const char *msg);

/* One word of the kernel command line, split as the kernel's next_arg() does:
 * key is everything before the first '=', value everything after it (NULL
 * when there is no '='), with the kernel's quote removal applied. */
struct cmdline_item {
	char *key;
	char *value;
};

struct cmdline {
	struct cmdline_item *v;
	size_t n;
};

/* Splits a kernel command line (the text of /proc/cmdline). Double quotes
 * protect spaces: migrator.args="-t /dev/vda" gives the value -t /dev/vda.
 * Returns 0 and fills *ret (free with cmdline_free), -ENOMEM, or -E2BIG when
 * there are more than CMDLINE_ITEMS_MAX words or the text is longer than
 * CMDLINE_MAX. */
int cmdline_parse(const char *text, struct cmdline *ret);
void cmdline_free(struct cmdline *c);

/* Value of the last item named key (the kernel's rule: the last one wins).
 * Returns NULL when absent; *ret_found (may be NULL) tells "key" from absent
 * when the item has no '='. The pointer belongs to c. */
const char *cmdline_get(const struct cmdline *c, const char *key, bool *ret_found);

enum exit_action {
	EXIT_SHELL = 0,         /* default: stay up with a shell */
	EXIT_POWEROFF,
	EXIT_REBOOT,
};

struct config_opt {
	char *key;              /* without "--", '_' already turned into '-' */
	char *value;            /* NULL: a flag ("--key") */
};

/* One layer of configuration. Every string is owned by the struct; NULL
 * means "not set in this layer", so layers can be merged. */
struct init_config {
	char *mode;             /* migrator subcommand, or "shell" */
	char *args;             /* unsplit; see config_split_args */
	char *config;           /* "metadata", "drive", "none" or a path */
	char *debug;            /* MIGRATOR_DEBUG for the job */
	bool exit_set;
	enum exit_action exit;
	char *ip[CONF_IP_MAX];  /* ip= values (kernel syntax), in order */
	size_t n_ip;
	struct config_opt opts[CONF_OPTS_MAX];
	size_t n_opts;
};

void config_free(struct init_config *c);

/* Takes the migrator.* keys (and ip=) of a parsed command line into *cfg
 * (which must be zeroed or hold an earlier layer: later values replace).
 * Returns 0 or -ENOMEM; invalid items are reported through warn. */
int config_from_cmdline(struct init_config *cfg, const struct cmdline *c,
			config_warn_fn warn, void *data);

/* Parses migrator.conf text (len bytes, need not be NUL-terminated): lines
 * "key = value", '#' comments, blank lines; a value wrapped in one pair of
 * matching quotes loses them. "config" is refused here (only the kernel
 * command line chooses where configuration comes from). Returns 0, -ENOMEM,
 * or -EINVAL for text that is not a configuration file at all (NUL bytes or
 * longer than CONF_FILE_MAX); bad lines are warned about and skipped. */
int config_from_conf(struct init_config *cfg, const char *text, size_t len,
		     const char *origin, config_warn_fn warn, void *data);

/* Lays src over dst: every item src sets replaces dst's, options with the
 * same key replace, new options are appended; ip= lists replace as a whole.
 * Returns 0 or -ENOMEM (dst then holds a partial merge, still freeable). */
int config_merge(struct init_config *dst, const struct init_config *src);

/* "poweroff", "reboot", "shell". */
const char *exit_action_name(enum exit_action a);

/* Splits migrator.args like a POSIX shell without expansion: blanks separate
 * words; '...' is literal; "..." keeps \\ \" \$ \` escapes; a backslash
 * outside quotes escapes the next character. No globbing, no $variables.
 * Returns 0 and a NULL-terminated vector in *ret_argv (free with
 * config_argv_free) and its length in *ret_argc; -EINVAL for an unterminated
 * quote or trailing backslash; -E2BIG beyond ARGS_WORDS_MAX words or
 * CONF_VALUE_MAX bytes; -ENOMEM. */
int config_split_args(const char *s, char ***ret_argv, size_t *ret_argc);
void config_argv_free(char **argv);

/* The job's command line: binary, mode, "--key=value"/"--key" for every
 * pass-through option in order, then the words of args. Returns 0 and a
 * NULL-terminated vector (free with config_argv_free); -EINVAL when mode is
 * unset or args cannot be split (*ret_why then says why); -E2BIG; -ENOMEM. */
int config_job_argv(const struct init_config *cfg, const char *binary, char ***ret_argv,
		    const char **ret_why);

/* True when an option of that name carries a secret (its name contains
 * token, password, passwd, passphrase, secret, credential or auth): logs show
 * "--token=***" instead of the value. */
bool config_key_secret(const char *key);

/* Pure: the command line rebuilt for the log, with the values of secret
 * migrator.* keys replaced by "***" (and values with blanks re-quoted). */
void cmdline_format_redacted(const struct cmdline *c, char *buf, size_t n);

/* True when s is a valid key: [a-z0-9][a-z0-9_-]*, at most CONF_KEY_MAX. */
bool config_key_valid(const char *s);

#endif
