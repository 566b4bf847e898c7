/* usedmap.c — `migrator usedmap`: what `send --used-only` would skip on a
 * disk, the CLI front of lib/usedmap. */
#include "cli.h"
#include "../lib/json.h"
#include "../lib/usedmap.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
	fputs("Usage: migrator usedmap [-J|--json] [-r|--ranges] DEVICE|IMAGE\n\n"
	      "Shows which bytes of a disk `send --used-only` would skip: the blocks that\n"
	      "ext2/ext3/ext4 and XFS filesystems mark free. Everything else counts as\n"
	      "used, and so does a filesystem that needs e2fsck or log recovery first\n"
	      "(the reason is shown), and any XFS allocation group that looks damaged.\n"
	      "The disk is opened read-only.\n\n"
	      "Options:\n"
	      "  -J, --json     JSON output, with every free range\n"
	      "  -r, --ranges   list the free ranges in the human output too\n"
	      "  -h, --help     this help\n\n"
	      "Exit status: 0 success (refused filesystems included); 1 the disk could\n"
	      "not be opened or read; 2 usage error.\n", stdout);
}

/* The size of an image file or a block device. */
static int open_disk(const char *path, int *ret_fd, uint64_t *ret_size)
{
	struct stat st;
	uint64_t size;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			goto fail;
	} else {
		close(fd);
		return -ENOTBLK;
	}
	if (size < 512) {
		close(fd);
		return -ENODATA;
	}
	*ret_fd = fd;
	*ret_size = size;
	return 0;
fail:;
	int r = -errno;
	close(fd);
	return r;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static void print_human(const struct mig_usedmap *m, const char *path, bool ranges)
{
	uint64_t size = mig_usedmap_disk_size(m), free_b = mig_usedmap_free_bytes(m);
	size_t n;
	const struct mig_usedmap_area *a = mig_usedmap_areas(m, &n);

	printf("%s: %llu bytes, %llu free (%.1f%%), %llu to send\n", path,
	       (unsigned long long)size, (unsigned long long)free_b, pct(free_b, size),
	       (unsigned long long)(size - free_b));
	for (size_t i = 0; i < n; i++) {
		if (a[i].partno)
			printf("  partition %zu", a[i].partno);
		else
			printf("  whole disk");
		printf("  %s  %s", a[i].fstype[0] ? a[i].fstype : "-", mig_usedmap_status_name(a[i].status));
		if (a[i].status == MIG_USEDMAP_MAPPED)
			printf("  %llu of %llu bytes free", (unsigned long long)a[i].free_bytes,
			       (unsigned long long)a[i].size);
		if (a[i].reason[0])
			printf(": %s", a[i].reason);
		putchar('\n');
	}
	if (mig_usedmap_min_range(m))
		printf("  (free ranges under %llu bytes counted as used)\n",
		       (unsigned long long)mig_usedmap_min_range(m));
	if (ranges) {
		uint64_t off = 0, o, l;

		while (mig_usedmap_next_free(m, off, size, &o, &l) == 0) {
			printf("  free %llu +%llu\n", (unsigned long long)o, (unsigned long long)l);
			off = o + l;
		}
	}
}

static int write_json(const struct mig_usedmap *m, const char *path)
{
	struct json_writer *w = json_new(stdout, true);
	uint64_t size = mig_usedmap_disk_size(m), off = 0, o, l;
	size_t n;
	const struct mig_usedmap_area *a = mig_usedmap_areas(m, &n);

	if (!w)
		return -ENOMEM;
	json_object_begin(w, NULL);
	json_string(w, "path", path);
	json_uint(w, "size", size);
	json_uint(w, "free", mig_usedmap_free_bytes(m));
	json_uint(w, "used", size - mig_usedmap_free_bytes(m));
	json_uint(w, "min-range", mig_usedmap_min_range(m));
	json_array_begin(w, "areas");
	for (size_t i = 0; i < n; i++) {
		json_object_begin(w, NULL);
		if (a[i].partno)
			json_uint(w, "partn", a[i].partno);
		else
			json_null(w, "partn");
		json_uint(w, "start", a[i].offset);
		json_uint(w, "size", a[i].size);
		json_string(w, "fstype", a[i].fstype[0] ? a[i].fstype : NULL);
		json_string(w, "status", mig_usedmap_status_name(a[i].status));
		json_string(w, "reason", a[i].reason[0] ? a[i].reason : NULL);
		json_uint(w, "free", a[i].free_bytes);
		if (a[i].status != MIG_USEDMAP_OTHER && !strcmp(a[i].fstype, "xfs")) {
			const struct mig_xfs_info *x = &a[i].xfs;

			json_uint(w, "block-size", x->block_size);
			json_uint(w, "blocks", x->dblocks);
			json_uint(w, "free-blocks", x->free_blocks);
			json_uint(w, "sb-free-blocks", x->sb_free_blocks);
			json_uint(w, "agf-free-blocks", x->agf_free_blocks);
			json_uint(w, "ags", x->agcount);
			json_uint(w, "ags-distrusted", x->ags_distrusted);
			json_uint(w, "log-head", x->log_head);
		} else if (a[i].status != MIG_USEDMAP_OTHER) {
			const struct mig_extfs_info *e = &a[i].ext;

			json_uint(w, "block-size", e->block_size);
			json_uint(w, "blocks", e->blocks_count);
			json_uint(w, "free-blocks", e->free_blocks);
			json_uint(w, "sb-free-blocks", e->sb_free_blocks);
			json_uint(w, "groups", e->groups);
			json_uint(w, "groups-uninit", e->groups_uninit);
			json_uint(w, "groups-distrusted", e->groups_distrusted);
		}
		json_object_end(w);
	}
	json_array_end(w);
	json_array_begin(w, "free-ranges");
	while (mig_usedmap_next_free(m, off, size, &o, &l) == 0) {
		json_object_begin(w, NULL);
		json_uint(w, "offset", o);
		json_uint(w, "length", l);
		json_object_end(w);
		off = o + l;
	}
	json_array_end(w);
	json_object_end(w);
	return json_finish(w);
}

int cmd_usedmap(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "ranges", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mig_usedmap *m = NULL;
	bool json = false, ranges = false;
	uint64_t size = 0;
	int c, r, fd = -1;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "Jrh", longopts, NULL)) != -1) {
		switch (c) {
		case 'J': json = true; break;
		case 'r': ranges = true; break;
		case 'h': usage(); return 0;
		default: return cli_usage_error("usedmap: unrecognized option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("usedmap: expects exactly one disk or image");
	const char *path = argv[optind];

	if ((r = open_disk(path, &fd, &size)) < 0) {
		cli_error(path, r);
		return 1;
	}
	r = mig_usedmap_build(fd, size, &m);
	close(fd);
	if (r < 0) {
		cli_error(path, r);
		return 1;
	}
	if (json) {
		if ((r = write_json(m, path)) < 0) {
			cli_error("writing JSON", r);
			mig_usedmap_free(m);
			return 1;
		}
	} else {
		print_human(m, path, ranges);
	}
	mig_usedmap_free(m);
	return 0;
}
