/* layout.c — `migrator layout`: a disk's layout as the file-level copy sees
 * it, the plan for a target of another size, and (with --apply) writing
 * that plan's partition table and empty filesystems onto a target. */
#include "cli.h"
#include "copyutil.h"
#include "../lib/fileio.h"
#include "../lib/human.h"
#include "../lib/json.h"
#include "../lib/layout.h"
#include "../lib/relayout.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
	fputs("Usage: migrator layout [-J|--json] DISK|IMAGE\n"
	      "       migrator layout --plan --target-size BYTES [--target-sector N] [OPTIONS] DISK|IMAGE\n"
	      "       migrator layout --apply TARGET [--allow-overwrite] [OPTIONS] DISK|IMAGE\n\n"
	      "Shows the layout a file-level copy (send --mode=file) carries: the partition\n"
	      "table, each filesystem with its creation parameters and used bytes, and how\n"
	      "each partition is copied (files, raw, recreate, none). With --plan, where\n"
	      "each partition goes on a target of another size (docs/file-copy.md); with\n"
	      "--apply, writes that plan's partition table and empty filesystems onto\n"
	      "TARGET (a disk or an image file) after every check passed. DISK is only read.\n\n"
	      "Options:\n"
	      "  -J, --json               JSON output\n"
	      "  -f, --from-json FILE     read the layout from FILE (as -J wrote it), not a disk\n"
	      "  -p, --plan               plan for a target of --target-size bytes\n"
	      "  -s, --target-size BYTES  e.g. 40G; suffixes K, M, G, T (powers of 1024)\n"
	      "  -S, --target-sector N    the target's logical sector size (default 512)\n"
	      "  -a, --apply TARGET       plan for TARGET's size and write it there (with\n"
	      "                           --target-size: a new image file of that size)\n"
	      "      --allow-overwrite    TARGET may hold a partition table or filesystems\n"
	      "      --backup-dir DIR     first save the first and last MiB of a TARGET that\n"
	      "                           holds a partition table into DIR\n"
	      "  -g, --grow PARTNO        the partition that grows or takes what remains\n"
	      "      --skip-unknown       keep partitions the copy cannot carry, empty\n"
	      "      --new-uuids          fresh filesystem UUIDs\n"
	      "  -h, --help               this help\n\n"
	      "Exit status: 0 success; 1 the disk could not be read, or the plan was\n"
	      "refused (too small, ...) or could not be written; 2 usage error.\n", stdout);
}

static void print_layout(const struct mig_layout *l)
{
	char h[32], u[32];

	mig_human_bytes(l->size, h, sizeof(h));
	printf("%s: %s, %s (%" PRIu64 " bytes), %u-byte sectors, id %s\n", l->source, l->pttype, h,
	       l->size, l->sector, l->ptuuid ? l->ptuuid : "-");
	printf("%-5s %-9s %12s %10s %-6s %-10s %s\n", "PART", "METHOD", "START", "SIZE", "FS", "USED", "UUID / LABEL");
	for (size_t i = 0; i < l->nparts; i++) {
		const struct mig_layout_part *p = &l->parts[i];
		mig_human_bytes(p->size, h, sizeof(h));
		if (p->fs.used_known)
			mig_human_bytes(p->fs.used, u, sizeof(u));
		else
			snprintf(u, sizeof(u), "(whole)");
		printf("%-5u %-9s %12" PRIu64 " %10s %-6s %-10s %s%s%s\n", p->partno, mig_copy_method_name(p->method),
		       p->start, h, p->fs.type ? p->fs.type : "-", u, p->fs.uuid ? p->fs.uuid : "-",
		       p->fs.label ? " " : "", p->fs.label ? p->fs.label : "");
	}
}

static void print_plan(const struct mig_plan *p)
{
	char h[32], s[32], n[32], u[32];

	mig_human_bytes(p->target_size, h, sizeof(h));
	mig_human_bytes(p->needed_bytes, n, sizeof(n));
	mig_human_bytes(p->used_bytes, u, sizeof(u));
	printf("target: %s (%" PRIu64 " bytes), %u-byte sectors; %s in use, the plan needs at least %s\n",
	       h, p->target_size, p->target_sector, u, n);
	printf("%-5s %-9s %-6s %10s -> %-10s %12s %s\n", "PART", "METHOD", "FS", "OLD SIZE", "NEW SIZE", "START", "");
	for (size_t i = 0; i < p->nparts; i++) {
		const struct mig_plan_part *pp = &p->parts[i];
		mig_human_bytes(pp->src_size, s, sizeof(s));
		mig_human_bytes(pp->size, h, sizeof(h));
		printf("%-5u %-9s %-6s %10s -> %-10s %12" PRIu64 " %s\n", pp->partno, mig_copy_method_name(pp->method),
		       pp->part.fs.type ? pp->part.fs.type : "-", s, h, pp->start,
		       pp->skipped ? "skipped" : pp->grown ? "grown" : pp->shrunk ? "shrunk" : "");
	}
}

static int target_geometry(const char *path, uint64_t *ret_size, uint32_t *ret_sector)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
	} else if (S_ISBLK(st.st_mode)) {
		int ssz = 512;
		if (ioctl(fd, BLKGETSIZE64, ret_size) < 0)
			r = -errno;
		if (ioctl(fd, BLKSSZGET, &ssz) == 0)
			*ret_sector = (uint32_t)ssz;
	} else if (S_ISREG(st.st_mode)) {
		*ret_size = (uint64_t)st.st_size;
		*ret_sector = 512;
	} else {
		r = -ENOTBLK;
	}
	close(fd);
	return r;
}

enum { OPT_ALLOW = 256, OPT_SKIP, OPT_NEWUUIDS, OPT_BACKUP };

int cmd_layout(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "from-json", required_argument, NULL, 'f' },
		{ "plan", no_argument, NULL, 'p' },
		{ "target-size", required_argument, NULL, 's' },
		{ "target-sector", required_argument, NULL, 'S' },
		{ "apply", required_argument, NULL, 'a' },
		{ "allow-overwrite", no_argument, NULL, OPT_ALLOW },
		{ "backup-dir", required_argument, NULL, OPT_BACKUP },
		{ "grow", required_argument, NULL, 'g' },
		{ "skip-unknown", no_argument, NULL, OPT_SKIP },
		{ "new-uuids", no_argument, NULL, OPT_NEWUUIDS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mig_plan_opts po = { 0 };
	struct mig_plan_apply_opts ao = { 0 };
	const char *from = NULL, *apply = NULL;
	bool json = false, plan = false;
	uint64_t tsize = 0, v;
	uint32_t tsector = 512;
	struct mig_layout *l = NULL;
	struct mig_plan *p = NULL;
	char why[512];
	int opt, r, rc = 1;

	while ((opt = getopt_long(argc, argv, "Jf:ps:S:a:g:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'J': json = true; break;
		case 'f': from = optarg; break;
		case 'p': plan = true; break;
		case 's':
			if (parse_bytes(optarg, &tsize) < 0 || tsize == 0)
				return cli_usage_error("--target-size '%s' is not a size (e.g. 40G)", optarg);
			break;
		case 'S':
			if (parse_bytes(optarg, &v) < 0 || (v != 512 && v != 1024 && v != 2048 && v != 4096))
				return cli_usage_error("--target-sector '%s': 512, 1024, 2048 or 4096", optarg);
			tsector = (uint32_t)v;
			break;
		case 'a': apply = optarg; break;
		case OPT_ALLOW: ao.allow_overwrite = true; break;
		case OPT_BACKUP: ao.backup_dir = optarg; break;
		case 'g':
			if (parse_bytes(optarg, &v) < 0 || v < 1 || v > MIG_LAYOUT_MAX_PARTS * 4)
				return cli_usage_error("--grow '%s' is not a partition number", optarg);
			po.grow_partno = (uint32_t)v;
			break;
		case OPT_SKIP: po.skip_unknown = true; break;
		case OPT_NEWUUIDS: po.new_uuids = true; break;
		case 'h': usage(); return 0;
		default: return cli_usage_error("unknown option");
		}
	}
	if (from ? optind != argc : optind != argc - 1)
		return cli_usage_error(from ? "--from-json takes no DISK" : "one DISK or IMAGE is needed");
	if (plan && apply)
		return cli_usage_error("--plan and --apply exclude each other (--apply plans for its target)");
	if (plan && !tsize)
		return cli_usage_error("--plan needs --target-size");
	if (!plan && !apply && (tsize || po.grow_partno || po.skip_unknown || po.new_uuids))
		return cli_usage_error("--target-size, --grow, --skip-unknown and --new-uuids go with --plan or --apply");
	if ((ao.allow_overwrite || ao.backup_dir) && !apply)
		return cli_usage_error("--allow-overwrite and --backup-dir go with --apply");

	if (from) {
		char *text;
		size_t len;
		r = mig_read_file(from, MIG_LAYOUT_MAX_JSON, &text, &len);
		if (r < 0) {
			cli_error(from, r);
			return 1;
		}
		r = mig_layout_from_json(text, len, &l);
		free(text);
		if (r < 0) {
			cli_errorx("%s: not a layout: %s", from,
				   r == -E2BIG ? "past a limit (size, partitions, strings or nesting)"
					       : r == -EINVAL ? "bad JSON or a value out of range" : strerror(-r));
			return 1;
		}
	} else {
		r = mig_layout_probe(argv[optind], &l);
		if (r == -ENOMEDIUM) {
			cli_errorx("%s: no partition table (a filesystem on the whole disk is not handled)", argv[optind]);
			return 1;
		}
		if (r == -EOPNOTSUPP) {
			cli_errorx("%s: a partition table other than GPT or MBR", argv[optind]);
			return 1;
		}
		if (r < 0) {
			cli_error(argv[optind], r);
			return 1;
		}
	}

	if (apply) {
		if (!from) {
			struct stat a, b;
			if (stat(apply, &a) == 0 && stat(argv[optind], &b) == 0 &&
			    ((S_ISBLK(a.st_mode) && a.st_rdev == b.st_rdev) ||
			     (a.st_dev == b.st_dev && a.st_ino == b.st_ino))) {
				cli_errorx("%s is the source disk", apply);
				goto out;
			}
		}
		struct stat st;
		if (tsize && stat(apply, &st) == 0) {
			cli_errorx("%s exists: --target-size with --apply only creates a new image file", apply);
			goto out;
		}
		r = tsize ? 0 : target_geometry(apply, &tsize, &tsector);
		if (r < 0) {
			cli_error(apply, r);
			goto out;
		}
	}
	if (plan || apply) {
		r = mig_plan_make(l, tsize, tsector, &po, &p, why, sizeof(why));
		if (r < 0) {
			cli_errorx("cannot plan: %s", why);
			goto out;
		}
	}
	if (apply) {
		r = mig_plan_apply(p, apply, &ao, why, sizeof(why));
		if (r < 0) {
			cli_errorx("%s", why[0] ? why : strerror(-r));
			goto out;
		}
	}
	if (json) {
		struct json_writer *w = json_new(stdout, true);
		if (!w)
			goto out;
		if (p)
			mig_plan_to_json(p, w, NULL);
		else
			mig_layout_to_json(l, w, NULL);
		r = json_finish(w);
		if (r < 0) {
			cli_error("writing JSON", r);
			goto out;
		}
	} else if (p) {
		print_plan(p);
		if (apply)
			printf("written to %s\n", apply);
	} else {
		print_layout(l);
	}
	rc = 0;
out:
	mig_plan_free(p);
	mig_layout_free(l);
	return rc;
}
