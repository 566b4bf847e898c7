/* relayout-apply.c — see relayout.h: writing a plan onto a target disk.
 *
 * Order: every check (target.c's, and the plan against the device) with the
 * target held open O_EXCL, so nothing can mount it meanwhile; then the
 * partition table as the plan's sfdisk script through libfdisk (as sfdisk
 * does: fdisk_script_read_file + fdisk_apply_script); then each filesystem
 * by exec of its mkfs on a read-write loop device over the partition's
 * bytes (the same path for block devices and image files, no wait for
 * partition nodes, no udev). */
#include "relayout.h"
#include "fileio.h"
#include "fsmount.h"
#include "inventory.h"
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libfdisk.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOOL_OUTPUT_MAX 4096
#define MAX_ARGS 32

static int refuse(int err, char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return err;
}

/* Runs argv (argv[0] looked up in PATH), stdin /dev/null, stdout and stderr
 * collected (the first TOOL_OUTPUT_MAX bytes) into out. Returns the exit
 * status (>= 0; 127 when it could not be run), or -errno. */
static int run_tool(char *const argv[], char *out, size_t outlen)
{
	int pfd[2], status;
	size_t len = 0;

	out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char tmp[1024];
		ssize_t n = read(pfd[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t take = (size_t)n < outlen - 1 - len ? (size_t)n : outlen - 1 - len;
		memcpy(out + len, tmp, take);
		len += take;
	}
	out[len] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The last non-empty line of a tool's output, for why[]. */
static const char *last_line(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	char *nl = strrchr(s, '\n');
	return nl ? nl + 1 : s;
}

static bool is_ext(const char *t)
{
	return t && (!strcmp(t, "ext2") || !strcmp(t, "ext3") || !strcmp(t, "ext4"));
}

/* Builds the mkfs command line for one partition into argv (strings in
 * bufs). Returns the argument count, 0 when nothing is to be made. */
static int mkfs_argv(const struct mig_plan_part *pp, const char *dev, char *argv[MAX_ARGS],
		     char bufs[8][320])
{
	const struct mig_layout_fs *fs = &pp->part.fs;
	int n = 0;

	if (pp->method == MIG_COPY_RECREATE && fs->type && !strcmp(fs->type, "swap")) {
		argv[n++] = "mkswap";
		argv[n++] = "-f";
		if (fs->uuid) {
			argv[n++] = "-U";
			argv[n++] = fs->uuid;
		}
		if (fs->label) {
			argv[n++] = "-L";
			argv[n++] = fs->label;
		}
	} else if (pp->method == MIG_COPY_FILES && is_ext(fs->type)) {
		argv[n++] = "mke2fs";
		argv[n++] = "-F";
		argv[n++] = "-q";
		argv[n++] = "-t";
		argv[n++] = fs->type;
		if (fs->features) {
			snprintf(bufs[0], sizeof(bufs[0]), "none%s%s", *fs->features ? "," : "", fs->features);
			argv[n++] = "-O";
			argv[n++] = bufs[0];
		}
		if (pp->block_size) {
			snprintf(bufs[1], sizeof(bufs[1]), "%u", pp->block_size);
			argv[n++] = "-b";
			argv[n++] = bufs[1];
		}
		if (fs->inode_size) {
			snprintf(bufs[2], sizeof(bufs[2]), "%u", fs->inode_size);
			argv[n++] = "-I";
			argv[n++] = bufs[2];
		}
		if (pp->inode_count) {
			snprintf(bufs[3], sizeof(bufs[3]), "%" PRIu64, pp->inode_count);
			argv[n++] = "-N";
			argv[n++] = bufs[3];
		}
		snprintf(bufs[4], sizeof(bufs[4]), "%u.%u", fs->reserved_permille / 10, fs->reserved_permille % 10);
		argv[n++] = "-m";
		argv[n++] = bufs[4];
		if (fs->uuid) {
			argv[n++] = "-U";
			argv[n++] = fs->uuid;
		}
		if (fs->label) {
			argv[n++] = "-L";
			argv[n++] = fs->label;
		}
	} else if (pp->method == MIG_COPY_FILES && fs->type && !strcmp(fs->type, "xfs")) {
		const char *f = fs->features ? fs->features : "";
		bool crc = strstr(f, "crc") != NULL;
#define HAS(x) (strstr(f, x) != NULL)
		argv[n++] = "mkfs.xfs";
		argv[n++] = "-f";
		argv[n++] = "-q";
		if (crc)
			snprintf(bufs[0], sizeof(bufs[0]), "crc=1,finobt=%d,rmapbt=%d,reflink=%d,bigtime=%d,inobtcount=%d%s%s",
				 HAS("finobt"), HAS("rmapbt"), HAS("reflink"), HAS("bigtime"), HAS("inobtcount"),
				 fs->uuid ? ",uuid=" : "", fs->uuid ? fs->uuid : "");
		else
			snprintf(bufs[0], sizeof(bufs[0]), "crc=0%s%s", fs->uuid ? ",uuid=" : "", fs->uuid ? fs->uuid : "");
		argv[n++] = "-m";
		argv[n++] = bufs[0];
		snprintf(bufs[1], sizeof(bufs[1]), "ftype=%d", HAS("ftype"));
		argv[n++] = "-n";
		argv[n++] = bufs[1];
#undef HAS
		if (pp->block_size) {
			snprintf(bufs[2], sizeof(bufs[2]), "size=%u", pp->block_size);
			argv[n++] = "-b";
			argv[n++] = bufs[2];
		}
		if (fs->inode_size) {
			snprintf(bufs[3], sizeof(bufs[3]), "size=%u", fs->inode_size);
			argv[n++] = "-i";
			argv[n++] = bufs[3];
		}
		if (fs->label) {
			argv[n++] = "-L";
			argv[n++] = fs->label;
		}
	} else {
		return 0;
	}
	argv[n++] = (char *)dev;
	argv[n] = NULL;
	return n;
}

/* Whether name is an executable on PATH (as execvp would find it). */
static bool on_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name) < (int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

static int make_fs(const struct mig_plan_part *pp, const char *target, char *why, size_t whylen)
{
	char *argv[MAX_ARGS], bufs[8][320], loop[64], out[TOOL_OUTPUT_MAX];
	int fd, r;

	if (!mkfs_argv(pp, "", argv, bufs))
		return 0;
	fd = mig_loop_attach(target, pp->start, pp->size, true, loop, sizeof(loop));
	if (fd < 0)
		return refuse(fd, why, whylen, "partition %u: cannot attach a loop device: %s",
			      pp->partno, strerror(-fd));
	mkfs_argv(pp, loop, argv, bufs);
	r = run_tool(argv, out, sizeof(out));
	close(fd);   /* AUTOCLEAR detaches it */
	if (r < 0)
		return refuse(r, why, whylen, "partition %u: cannot run %s: %s", pp->partno, argv[0], strerror(-r));
	if (r != 0)
		return refuse(-EIO, why, whylen, "partition %u: %s failed (exit %d): %s", pp->partno,
			      argv[0], r, last_line(out));
	return 0;
}

static int fdisk_quiet(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data)
{
	(void)cxt; (void)ask; (void)data;
	return 0;
}

static int write_table(const struct mig_plan *p, const char *target, bool is_file, char *why, size_t whylen)
{
	struct fdisk_context *cxt = fdisk_new_context();
	struct fdisk_script *dp = NULL;
	char *text = NULL;
	FILE *f = NULL;
	int r;

	if (!cxt)
		return -ENOMEM;
	fdisk_set_ask(cxt, fdisk_quiet, NULL);
	r = mig_plan_sfdisk_script(p, &text);
	if (r < 0) {
		refuse(r, why, whylen, "cannot write the partition table script (a name with a quote?)");
		goto out;
	}
	if (is_file && p->target_sector != 512)
		fdisk_save_user_sector_size(cxt, p->target_sector, p->target_sector);
	r = fdisk_assign_device(cxt, target, 0);
	if (r < 0) {
		refuse(r, why, whylen, "libfdisk cannot open %s: %s", target, strerror(-r));
		goto out;
	}
	/* Old signatures where the new table goes are wiped (sfdisk --wipe). */
	fdisk_enable_wipe(cxt, 1);
	dp = fdisk_new_script(cxt);
	f = fmemopen(text, strlen(text), "r");
	if (!dp || !f) {
		r = -ENOMEM;
		goto out;
	}
	r = fdisk_script_read_file(dp, f);
	if (r == 0)
		r = fdisk_apply_script(cxt, dp);
	if (r == 0)
		r = fdisk_write_disklabel(cxt);
	if (r < 0) {
		refuse(r < 0 ? r : -EIO, why, whylen, "cannot write the partition table on %s: %s",
		       target, strerror(-r));
		goto out;
	}
	r = fdisk_deassign_device(cxt, 0);   /* fsyncs */
	if (r < 0)
		refuse(r, why, whylen, "cannot sync the partition table on %s: %s", target, strerror(-r));
out:
	if (f)
		fclose(f);
	fdisk_unref_script(dp);
	fdisk_unref_context(cxt);
	free(text);
	return r;
}

/* Saves the first and the last MiB of the target into dir when it holds a
 * partition table (the areas of an MBR, a GPT and its backup). */
static int backup_table(const struct mig_target *t, const char *dir, char *why, size_t whylen)
{
	struct mig_disk *d = NULL;
	const char *base = strrchr(t->path, '/');
	uint64_t n = t->size < MIG_PLAN_ALIGN ? t->size : MIG_PLAN_ALIGN;
	uint64_t offs[2] = { 0, t->size - n };
	char *buf = NULL, path[4096];
	int r;

	r = mig_disk_probe(t->path, &d);
	if (r < 0 || !d->pttype) {
		mig_disk_free(d);
		return 0;       /* nothing to save */
	}
	mig_disk_free(d);
	base = base ? base + 1 : t->path;
	if (!(buf = malloc(n)))
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		r = mig_pread_all(t->fd_buffered, buf, n, offs[i]);
		if (r == 0 && snprintf(path, sizeof(path), "%s/migrator-%s-0x%08" PRIx64 ".bak", dir, base, offs[i]) >=
		    (int)sizeof(path))
			r = -ENAMETOOLONG;
		if (r == 0)
			r = mig_write_file_atomic(path, buf, n, 0600);
		if (r < 0) {
			refuse(r, why, whylen, "cannot save the partition table of %s to %s: %s", t->path, dir,
			       strerror(-r));
			break;
		}
	}
	free(buf);
	return r;
}

/* The checks before the first write; on success *ret holds the target,
 * open (O_EXCL for a block device) until the caller closes it. */
static int precheck(const struct mig_plan *p, const char *target_dev,
		    const struct mig_plan_apply_opts *o, struct mig_target **ret, char *why, size_t whylen)
{
	struct mig_target_opts to = {
		.need_size = p->target_size, .allow_overwrite = o->allow_overwrite,
		.forbidden = o->forbidden, .nforbidden = o->nforbidden,
	};
	struct mig_target *t = NULL;
	char *script = NULL;
	int r;

	why[0] = '\0';
	r = mig_plan_sfdisk_script(p, &script);
	free(script);
	if (r < 0)
		return refuse(r, why, whylen, "a partition name or attribute holds a quote or backslash");
	for (size_t i = 0; i < p->nparts; i++) {
		char *argv[MAX_ARGS], bufs[8][320];
		if (mkfs_argv(&p->parts[i], "", argv, bufs) && !on_path(argv[0]))
			return refuse(-ENOENT, why, whylen, "partition %u needs %s, which is not on PATH",
				      p->parts[i].partno, argv[0]);
	}
	if (!ret)
		return 0;
	r = mig_target_open(target_dev, &to, &t, why, whylen);
	if (r < 0)
		return r;
	if (t->sector != p->target_sector) {
		r = refuse(-EINVAL, why, whylen, "%s has %u-byte sectors; the plan was made for %u",
			   target_dev, t->sector, p->target_sector);
		goto fail;
	}
	if (t->size > p->target_size + (64ull << 20) && !t->created) {
		/* A plan for a much smaller disk would leave most of this one
		 * unused: make the plan for this disk instead. */
		r = refuse(-EINVAL, why, whylen, "%s has %" PRIu64 " bytes; the plan was made for %" PRIu64,
			   target_dev, t->size, p->target_size);
		goto fail;
	}
	*ret = t;
	return 0;
fail:
	if (t->created)
		unlink(target_dev);
	mig_target_close(t);
	return r;
}

int mig_plan_check(const struct mig_plan *p, const char *target_dev,
		   const struct mig_plan_apply_opts *opts, char *why, size_t whylen)
{
	static const struct mig_plan_apply_opts defaults;
	struct mig_target *t = NULL;
	struct stat st;
	bool exists = stat(target_dev, &st) == 0;
	int r = precheck(p, target_dev, opts ? opts : &defaults, exists ? &t : NULL, why, whylen);

	if (r == 0 && t) {
		/* Only looked at: no sync, no table re-read needed, but
		 * mig_target_close is the one way to let go of it. */
		r = mig_target_close(t);
		if (r < 0)
			refuse(r, why, whylen, "%s: %s", target_dev, strerror(-r));
	}
	return r;
}

int mig_plan_apply(const struct mig_plan *p, const char *target_dev,
		   const struct mig_plan_apply_opts *opts, char *why, size_t whylen)
{
	static const struct mig_plan_apply_opts defaults;
	const struct mig_plan_apply_opts *o = opts ? opts : &defaults;
	struct mig_target *t = NULL;
	int r;

	r = precheck(p, target_dev, o, &t, why, whylen);
	if (r < 0)
		return r;
	if (o->backup_dir) {
		r = backup_table(t, o->backup_dir, why, whylen);
		if (r < 0)
			goto out;
	}
	r = write_table(p, target_dev, !t->is_blockdev, why, whylen);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < p->nparts && r == 0; i++) {
		const struct mig_plan_part *pp = &p->parts[i];
		if (pp->skipped) {
			/* An empty partition: no old signature may show through
			 * (a stale UUID would be a duplicate). */
			uint64_t n = pp->size < 2 * MIG_PLAN_ALIGN ? pp->size : MIG_PLAN_ALIGN;
			r = mig_target_zero(t, pp->start, n);
			if (r == 0)
				r = mig_target_zero(t, pp->start + pp->size - n, n);
			if (r < 0)
				refuse(r, why, whylen, "partition %u: cannot clear it: %s", pp->partno, strerror(-r));
		} else {
			r = make_fs(pp, target_dev, why, whylen);
		}
	}
out:
	/* Closing syncs and has the kernel re-read a block device's table. */
	{
		int k = mig_target_close(t);
		if (r == 0 && k < 0)
			r = refuse(k, why, whylen, "cannot sync %s: %s", target_dev, strerror(-k));
	}
	return r;
}

int mig_plan_part_dev(const char *disk, uint32_t partno, char *buf, size_t buflen)
{
	struct stat st;
	char *name;

	if (stat(disk, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode))
		return -ENOTBLK;
	name = fdisk_partname(disk, partno);
	if (!name)
		return -ENOMEM;
	if (strlen(name) >= buflen) {
		free(name);
		return -ENAMETOOLONG;
	}
	strcpy(buf, name);
	free(name);
	if (stat(buf, &st) < 0)
		return -errno;
	return S_ISBLK(st.st_mode) ? 0 : -ENOTBLK;
}
