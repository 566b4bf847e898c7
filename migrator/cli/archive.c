/* archive.c — `migrator archive`: the file-level copy's pax archive of a
 * directory tree on stdout, or unpacked from stdin (lib/fsarchive), for
 * tests, benchmarks and hand work in the rescue shell. */
#include "cli.h"
#include "../lib/fileio.h"
#include "../lib/fsarchive.h"
#include "../lib/json.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
	fputs("Usage: migrator archive -c|--create DIR [-J] >ARCHIVE\n"
	      "       migrator archive -x|--extract DIR [-J] <ARCHIVE\n\n"
	      "The pax archive a file-level copy (send --mode=file) carries: --create\n"
	      "writes the tree under DIR (one filesystem: mount points are not crossed)\n"
	      "to stdout with owners, modes, nanosecond times, extended attributes\n"
	      "(SELinux labels, capabilities), POSIX ACLs, hard links, holes, device\n"
	      "nodes and FIFOs; sockets are skipped and counted. --extract restores such\n"
	      "an archive from stdin into the existing directory DIR and refuses any\n"
	      "entry that would land outside it (absolute, '..', through a symlink).\n\n"
	      "Options:\n"
	      "  -c, --create DIR    archive DIR to stdout\n"
	      "  -x, --extract DIR   restore stdin into DIR\n"
	      "  -J, --json          the counts as JSON on stderr at the end\n"
	      "  -h, --help          this help\n\n"
	      "Exit status: 0 success; 1 a file could not be read or restored, or an\n"
	      "entry was refused; 2 usage error.\n", stdout);
}

static int out_fd(void *ud, const void *buf, size_t len)
{
	return mig_write_all(*(int *)ud, buf, len);
}

struct in { int fd; char buf[1 << 16]; };

static ssize_t in_fd(void *ud, const void **ret)
{
	struct in *in = ud;

	for (;;) {
		ssize_t n = read(in->fd, in->buf, sizeof(in->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		*ret = in->buf;
		return n;
	}
}

int cmd_archive(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "create", required_argument, NULL, 'c' },
		{ "extract", required_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *create = NULL, *extract = NULL;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "c:x:Jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': create = optarg; break;
		case 'x': extract = optarg; break;
		case 'J': json = true; break;
		case 'h': usage(); return 0;
		default: return cli_usage_error("archive: bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("archive: unexpected argument '%s'", argv[optind]);
	if (!create == !extract)
		return cli_usage_error("archive: give one of --create DIR or --extract DIR");
	if (create && isatty(STDOUT_FILENO))
		return cli_usage_error("archive: will not write an archive to a terminal");

	struct mig_archive_stats st = { 0 };
	char why[4400];
	int r;
	if (create) {
		int fd = STDOUT_FILENO;
		r = mig_archive_pack(create, out_fd, &fd, NULL, &st, why, sizeof(why));
	} else {
		struct in *in = malloc(sizeof(*in));
		if (!in) {
			cli_error("archive", -ENOMEM);
			return 1;
		}
		in->fd = STDIN_FILENO;
		r = mig_archive_unpack(extract, in_fd, in, NULL, &st, why, sizeof(why));
		free(in);
	}
	if (r < 0) {
		if (why[0])
			cli_errorx("archive: %s", why);
		else
			cli_error("archive", r);
		return 1;
	}
	if (json) {
		struct json_writer *w = json_new(stderr, false);
		json_object_begin(w, NULL);
		json_uint(w, "entries", st.entries);
		json_uint(w, "files", st.files);
		json_uint(w, "data_bytes", st.data_bytes);
		json_uint(w, "archive_bytes", st.archive_bytes);
		json_uint(w, "sockets_skipped", st.sockets_skipped);
		json_object_end(w);
		json_finish(w);
	}
	return 0;
}
