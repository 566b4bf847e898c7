/* target.c — see target.h. */
#include "target.h"
#include "fileio.h"
#include "human.h"
#include "inventory.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int refuse(int err, char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return err;
}

/* Lists what libblkid and libfdisk find on path ("gpt, ext4 on part 2")
 * into buf; returns the number of things found, or -errno. Also reports
 * whether path holds our rescue medium. */
static int existing_content(const char *path, char *buf, size_t n, bool *ret_rescue)
{
	struct mig_disk *d;
	size_t used = 0, found = 0;
	int r;

	buf[0] = '\0';
	r = mig_disk_probe(path, &d);
	if (r < 0)
		return r;
	*ret_rescue = d->rescue_medium;
#define ADD(...) do { if (used < n) used += (size_t)snprintf(buf + used, n - used, __VA_ARGS__); found++; } while (0)
	if (d->pttype)
		ADD("%s%s partition table", found ? ", " : "", d->pttype);
	for (size_t i = 0; i < d->fs.nsignatures; i++)
		ADD("%s%s", found ? ", " : "", d->fs.signatures[i]);
	if (!d->fs.nsignatures && d->fs.type)
		ADD("%s%s", found ? ", " : "", d->fs.type);
	for (size_t i = 0; i < d->nparts; i++)
		if (d->parts[i].fs.type)
			ADD("%s%s on partition %zu", found ? ", " : "", d->parts[i].fs.type, d->parts[i].partno);
#undef ADD
	mig_disk_free(d);
	return (int)found;
}

static int open_existing(struct mig_target *t, const struct mig_target_opts *o,
			 const struct stat *st, char *why, size_t whylen)
{
	char have[32], need[32], what[512];
	bool rescue = false;
	int found;

	if (S_ISBLK(st->st_mode)) {
		t->is_blockdev = true;
		t->rdev = st->st_rdev;
		for (size_t i = 0; i < o->nforbidden; i++)
			if (o->forbidden[i] == st->st_rdev)
				return refuse(-EINVAL, why, whylen, "%s is a source disk of this copy", t->path);
	} else if (!S_ISREG(st->st_mode)) {
		return refuse(-EINVAL, why, whylen, "%s is neither a block device nor a regular file", t->path);
	}

	found = existing_content(t->path, what, sizeof(what), &rescue);
	if (found < 0 && found != -ENODATA)
		return refuse(found, why, whylen, "cannot read %s: %s", t->path, strerror(-found));
	if (rescue)
		return refuse(-EBUSY, why, whylen, "%s holds the rescue system migrator runs from", t->path);

	/* O_EXCL on a block device fails with EBUSY while anything (a mount,
	 * LVM, MD, another migrator) holds it or one of its partitions. */
	int flags = O_RDWR | O_CLOEXEC | O_NOCTTY | (t->is_blockdev ? O_EXCL : 0);
	t->fd_buffered = open(t->path, flags);
	if (t->fd_buffered < 0) {
		int e = errno;
		if (e == EBUSY)
			return refuse(-EBUSY, why, whylen, "%s is in use (mounted, or held by LVM, MD or another process)", t->path);
		return refuse(-e, why, whylen, "cannot open %s for writing: %s", t->path, strerror(e));
	}
	if (t->is_blockdev) {
		uint64_t size;
		int ssz = 512;
		if (ioctl(t->fd_buffered, BLKGETSIZE64, &size) < 0)
			return refuse(-errno, why, whylen, "%s: cannot read its size: %s", t->path, strerror(errno));
		if (ioctl(t->fd_buffered, BLKSSZGET, &ssz) < 0)
			ssz = 512;
		t->size = size;
		t->sector = (uint32_t)ssz;
	} else {
		t->size = (uint64_t)st->st_size;
		t->sector = 512;
	}
	if (t->size < o->need_size) {
		mig_human_bytes(t->size, have, sizeof(have));
		mig_human_bytes(o->need_size, need, sizeof(need));
		return refuse(-ENOSPC, why, whylen,
			      "%s is too small: %s (%ju bytes), the source disk is %s (%ju bytes)",
			      t->path, have, (uintmax_t)t->size, need, (uintmax_t)o->need_size);
	}
	if (found > 0 && !o->allow_overwrite && !o->resuming)
		return refuse(-EEXIST, why, whylen,
			      "%s is not empty (%s); pass --allow-overwrite to replace it", t->path, what);
	return 0;
}

int mig_target_open(const char *path, const struct mig_target_opts *o,
		    struct mig_target **ret, char *why, size_t whylen)
{
	struct mig_target *t;
	struct stat st;
	int r;

	why[0] = '\0';
	t = calloc(1, sizeof(*t));
	if (!t || !(t->path = strdup(path))) {
		free(t);
		return -ENOMEM;
	}
	t->fd = t->fd_buffered = -1;

	if (stat(path, &st) < 0 && errno == ENOENT) {
		/* A new image file of the source's size, sparse. */
		t->fd_buffered = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
		if (t->fd_buffered < 0) {
			r = refuse(-errno, why, whylen, "cannot create %s: %s", path, strerror(errno));
			goto fail;
		}
		t->created = true;
		if (ftruncate(t->fd_buffered, (off_t)o->need_size) < 0) {
			r = refuse(-errno, why, whylen, "cannot size %s: %s", path, strerror(errno));
			goto fail;
		}
		t->size = o->need_size;
		t->sector = 512;
	} else {
		if (stat(path, &st) < 0) {
			r = refuse(-errno, why, whylen, "cannot open %s: %s", path, strerror(errno));
			goto fail;
		}
		r = open_existing(t, o, &st, why, whylen);
		if (r < 0)
			goto fail;
	}

	/* O_DIRECT: large aligned writes bypass the page cache. Files on tmpfs
	 * refuse it; that is fine. */
	t->fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_DIRECT);
	t->direct = t->fd >= 0;
	if (!t->direct)
		t->fd = t->fd_buffered;
	*ret = t;
	return 0;
fail:
	if (t->created)
		unlink(path);
	mig_target_close(t);
	return r;
}

static bool aligned(const struct mig_target *t, const void *buf, size_t len, uint64_t off)
{
	uint32_t a = t->sector < 4096 ? 4096 : t->sector;
	return ((uintptr_t)buf % a) == 0 && len % t->sector == 0 && off % t->sector == 0;
}

static int write_now(struct mig_target *t, const void *buf, size_t len, uint64_t off)
{
	if (off > t->size || len > t->size - off)
		return -ENOSPC;
	if (t->direct && aligned(t, buf, len, off)) {
		int r = mig_pwrite_all(t->fd, buf, len, off);
		if (r != -EINVAL)
			return r;
		/* The device or filesystem wants another alignment: buffered from now on. */
		t->direct = false;
	}
	return mig_pwrite_all(t->fd_buffered, buf, len, off);
}

static void *writer_main(void *arg)
{
	struct mig_target *t = arg;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->pending && !t->quit)
			pthread_cond_wait(&t->cv, &t->mu);
		if (!t->pending && t->quit)
			break;
		const void *buf = t->pbuf;
		size_t len = t->plen;
		uint64_t off = t->poff;
		pthread_mutex_unlock(&t->mu);
		int r = write_now(t, buf, len, off);
		pthread_mutex_lock(&t->mu);
		if (r < 0 && !t->err) {
			t->err = r;
			t->err_off = off;
		}
		t->pending = false;
		pthread_cond_broadcast(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int mig_target_flush(struct mig_target *t, uint64_t *ret_off)
{
	int r;

	if (!t->writer_started)
		return 0;
	pthread_mutex_lock(&t->mu);
	while (t->pending)
		pthread_cond_wait(&t->cv, &t->mu);
	r = t->err;
	if (r < 0 && ret_off)
		*ret_off = t->err_off;
	pthread_mutex_unlock(&t->mu);
	return r;
}

int mig_target_write_async(struct mig_target *t, const void *buf, size_t len, uint64_t off)
{
	int r;

	if (off > t->size || len > t->size - off)
		return -ENOSPC;
	if (!t->writer_started) {
		pthread_mutex_init(&t->mu, NULL);
		pthread_cond_init(&t->cv, NULL);
		if (pthread_create(&t->writer, NULL, writer_main, t) != 0) {
			pthread_mutex_destroy(&t->mu);
			pthread_cond_destroy(&t->cv);
			return write_now(t, buf, len, off);
		}
		t->writer_started = true;
	}
	r = mig_target_flush(t, NULL);
	if (r < 0)
		return r;
	pthread_mutex_lock(&t->mu);
	t->pbuf = buf;
	t->plen = len;
	t->poff = off;
	t->pending = true;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int mig_target_write(struct mig_target *t, const void *buf, size_t len, uint64_t off)
{
	int r = mig_target_flush(t, NULL);
	return r < 0 ? r : write_now(t, buf, len, off);
}

static int write_zeros(struct mig_target *t, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[1 << 16] __attribute__((aligned(4096)));

	while (len > 0) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		int r = mig_pwrite_all(t->fd_buffered, zeros, n, off);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

int mig_target_zero(struct mig_target *t, uint64_t off, uint64_t len)
{
	int r = mig_target_flush(t, NULL);
	if (r < 0)
		return r;
	if (off > t->size || len > t->size - off)
		return -ENOSPC;
	if (t->is_blockdev) {
		uint64_t range[2] = { off, len };
		if (ioctl(t->fd_buffered, BLKZEROOUT, range) == 0)
			return 0;
		return write_zeros(t, off, len);
	}
	if (fallocate(t->fd_buffered, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	return write_zeros(t, off, len);
}

int mig_target_discard(struct mig_target *t, uint64_t off, uint64_t len)
{
	if (off > t->size || len > t->size - off)
		return -ENOSPC;
	if (t->is_blockdev)
		return 0;
	return mig_target_zero(t, off, len);
}

int mig_target_sync(struct mig_target *t)
{
	int r = mig_target_flush(t, NULL);
	if (r < 0)
		return r;
	if (fdatasync(t->fd_buffered) < 0)
		return -errno;
	if (t->fd != t->fd_buffered && fdatasync(t->fd) < 0)
		return -errno;
	return 0;
}

int mig_target_close(struct mig_target *t)
{
	int r = 0;

	if (!t)
		return 0;
	if (t->writer_started) {
		r = mig_target_flush(t, NULL);
		pthread_mutex_lock(&t->mu);
		t->quit = true;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		pthread_join(t->writer, NULL);
		pthread_mutex_destroy(&t->mu);
		pthread_cond_destroy(&t->cv);
		t->writer_started = false;
	}
	if (t->fd_buffered >= 0) {
		int k = mig_target_sync(t);
		if (r == 0)
			r = k;
		if (t->is_blockdev)
			(void)ioctl(t->fd_buffered, BLKRRPART);   /* EBUSY/EINVAL: no partitions to re-read */
	}
	if (t->fd >= 0 && t->fd != t->fd_buffered)
		close(t->fd);
	if (t->fd_buffered >= 0 && close(t->fd_buffered) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	free(t->path);
	free(t);
	return r;
}
