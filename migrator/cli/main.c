/* main.c — the migrator CLI: global options and subcommand dispatch.
 * The same static binary is the rescue system's PID 1 when called as "init". */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MIGRATOR_WITH_INIT
#include "../../init/init.h"
#endif

const char *program_name = "migrator";

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} commands[] = {
	{ "inventory", cmd_inventory, "list disks, partitions, filesystems and boot facts" },
	{ "send", cmd_send, "copy disks to a receiver, an image or stream file, or a disk" },
	{ "receive", cmd_receive, "write the disks a sender streams (HTTPS or a .mig file)" },
	{ "usedmap", cmd_usedmap, "show what send --used-only would skip (free ext2/3/4 blocks)" },
	{ "verify", cmd_verify, "check, read-only, that a disk set will boot" },
	{ "layout", cmd_layout, "show a disk's layout for a file-level copy, plan or write a target's" },
	{ "patch", cmd_patch, "make a migrated system bootable on its target (fstab, GRUB, network)" },
};

static void usage(FILE *out)
{
	fputs("Usage: migrator [--version] [--help] COMMAND [OPTIONS] [ARGS]\n\n"
	      "Bootable rescue environment and offline server migrator.\n\nCommands:\n", out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun 'migrator COMMAND --help' for a command's options.\n\n"
	      "Exit status: 0 success, 1 failure (a device unreadable or an error found),\n"
	      "2 usage error.\n", out);
}

static const char *describe(int err)
{
	switch (err) {
	case -EISDIR: return "is a directory, not a disk or disk image";
	case -ENODATA: return "is empty or smaller than one 512-byte sector";
	case -ENOTBLK: return "is neither a block device nor a disk image file";
	case -ENOMEDIUM: return "no medium (size 0)";
	default: return strerror(-err);
	}
}

void cli_error(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", program_name, what, describe(err));
}

void cli_errorx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", program_name);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const char *base = argv[0] ? strrchr(argv[0], '/') : NULL;

	base = base ? base + 1 : argv[0] ? argv[0] : "";
#ifdef MIGRATOR_WITH_INIT
	if (strcmp(base, "init") == 0)
		return init_main(argc, argv);
#endif
	if (argc < 2)
		return cli_usage_error("no command given");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("migrator %s\n", MIGRATOR_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	return cli_usage_error("unknown command '%s'", argv[1]);
}
