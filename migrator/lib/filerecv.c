/* filerecv.c — see filerecv.h. */
#include "filerecv.h"
#include "digest.h"
#include "fileio.h"
#include "fsarchive.h"
#include "fsmount.h"
#include "layout.h"
#include "relayout.h"
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DISKS 64

struct fdisk_state {
	char *target;
	struct mig_layout *layout;
	struct mig_plan *plan;
	int fd;                         /* after apply: raw writes, final sync */
	bool *done;                     /* per plan part */
};

/* The partition being received. */
struct active {
	bool on;
	uint32_t disk, partno;
	size_t pi;                      /* index in the plan */
	uint64_t next;                  /* the next offset expected */
	struct mig_digest dg;
	/* files: the unpack thread and the two buffers it reads from */
	struct mig_fsmount *m;
	pthread_t thr;
	bool thr_on;
	uint8_t *buf[2];
	size_t len[2];
	bool full[2];
	int widx, ridx, held;
	bool eof, quit, unpack_done;
	int unpack_result;
	char unpack_why[1024];
	struct mig_archive_stats ast;
};

struct mig_frecv {
	struct mig_frecv_opts o;
	struct fdisk_state d[MAX_DISKS];
	size_t nd;
	bool applied;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct active a;
	struct mig_frecv_stats st;      /* totals of finished partitions + the active one */
	struct mig_frecv_stats base;
};

static int say(int err, char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int say(int err, char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return err;
}

int mig_frecv_new(const struct mig_frecv_opts *o, struct mig_frecv **ret)
{
	struct mig_frecv *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->o = *o;
	if (!f->o.chunk_size || f->o.chunk_size > MIG_STREAM_MAX_CHUNK)
		f->o.chunk_size = MIG_STREAM_MAX_CHUNK;
	for (int i = 0; i < 2; i++)
		if (!(f->a.buf[i] = malloc(f->o.chunk_size))) {
			mig_frecv_free(f);
			return -ENOMEM;
		}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	*ret = f;
	return 0;
}

/* Ends the unpack thread (quit: at once), unmounts. Returns the unpack's
 * result (0 when it finished cleanly). */
static int stop_active(struct mig_frecv *f, bool quit)
{
	struct active *a = &f->a;
	int r = 0;

	if (a->thr_on) {
		pthread_mutex_lock(&f->mu);
		if (quit)
			a->quit = true;
		else
			a->eof = true;
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
		pthread_join(a->thr, NULL);
		a->thr_on = false;
		r = a->unpack_result;
	}
	if (a->m) {
		int k = mig_fsmount_close(a->m);
		a->m = NULL;
		if (r == 0 && k < 0) {
			r = k;
			snprintf(a->unpack_why, sizeof(a->unpack_why), "cannot unmount: %s", strerror(-k));
		}
	}
	a->on = false;
	return r;
}

void mig_frecv_free(struct mig_frecv *f)
{
	if (!f)
		return;
	stop_active(f, true);
	for (size_t i = 0; i < f->nd; i++) {
		if (f->d[i].fd >= 0)
			close(f->d[i].fd);
		free(f->d[i].target);
		free(f->d[i].done);
		mig_plan_free(f->d[i].plan);
		mig_layout_free(f->d[i].layout);
	}
	free(f->a.buf[0]);
	free(f->a.buf[1]);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}

/* Size and logical sector size of a block device or file; a missing file
 * is 0 bytes (it will be created). */
static int measure(const char *path, uint64_t *size, uint32_t *sector)
{
	struct stat st;
	int fd;

	*sector = 512;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		*size = 0;
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISBLK(st.st_mode))
		return -ENOTBLK;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int ssz = 512;
	if (ioctl(fd, BLKGETSIZE64, size) < 0 || ioctl(fd, BLKSSZGET, &ssz) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	close(fd);
	*sector = (uint32_t)ssz;
	return 0;
}

int mig_frecv_add_disk(struct mig_frecv *f, uint32_t index, const char *layout_json, size_t len,
		       const char *target, char *why, size_t whylen)
{
	struct mig_plan_opts po = { .skip_unknown = f->o.skip_unknown };
	struct fdisk_state *d;
	uint64_t size;
	uint32_t sector;
	int r;

	why[0] = '\0';
	if (index != f->nd || f->nd >= MAX_DISKS || f->applied)
		return say(-EINVAL, why, whylen, "disk %u out of order", index);
	d = &f->d[f->nd];
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	r = mig_layout_from_json(layout_json, len, &d->layout);
	if (r < 0)
		return say(r, why, whylen, "disk %u: its layout is invalid (%s)", index, strerror(-r));
	f->nd++;        /* from here on freed with f */
	if (!(d->target = strdup(target)))
		return -ENOMEM;
	r = measure(target, &size, &sector);
	if (r < 0)
		return say(r, why, whylen, "%s: %s", target, strerror(-r));
	if (size == 0)
		size = d->layout->size;         /* a new image file, as large as the source */
	r = mig_plan_make(d->layout, size, sector, &po, &d->plan, why, whylen);
	if (r < 0) {
		char tmp[600];
		snprintf(tmp, sizeof(tmp), "%s", why);
		return say(r, why, whylen, "%s: %s", target, tmp);
	}
	if (!(d->done = calloc(d->plan->nparts ? d->plan->nparts : 1, sizeof(bool))))
		return -ENOMEM;
	/* Every check apply makes before writing (mkfs tools, the target's
	 * checks: in use, rescue medium, source disk, signatures), now, so a
	 * plan answer tells about them and no disk is written while another
	 * would be refused. */
	struct mig_plan_apply_opts ao = { .allow_overwrite = f->o.allow_overwrite,
					  .forbidden = f->o.forbidden, .nforbidden = f->o.nforbidden };
	return mig_plan_check(d->plan, target, &ao, why, whylen);
}

int mig_frecv_plans_json(const struct mig_frecv *f, struct json_writer *w, const char *key)
{
	json_array_begin(w, key);
	for (size_t i = 0; i < f->nd; i++)
		if (f->d[i].plan)
			mig_plan_to_json(f->d[i].plan, w, NULL);
	json_array_end(w);
	return 0;
}

int mig_frecv_apply(struct mig_frecv *f, char *why, size_t whylen)
{
	struct mig_plan_apply_opts ao = { .allow_overwrite = f->o.allow_overwrite,
					  .forbidden = f->o.forbidden, .nforbidden = f->o.nforbidden };
	int r;

	why[0] = '\0';
	if (f->applied)
		return 0;
	for (size_t i = 0; i < f->nd; i++)
		if (!f->d[i].plan)
			return say(-EINVAL, why, whylen, "disk %zu has no plan", i);
	for (size_t i = 0; i < f->nd; i++) {
		struct fdisk_state *d = &f->d[i];
		r = mig_plan_apply(d->plan, d->target, &ao, why, whylen);
		if (r < 0)
			return r;
		d->fd = open(d->target, O_RDWR | O_CLOEXEC);
		if (d->fd < 0)
			return say(-errno, why, whylen, "cannot open %s: %s", d->target, strerror(errno));
	}
	f->applied = true;
	return 0;
}

/* ---- the unpack thread --------------------------------------------------- */

static ssize_t unpack_read(void *ud, const void **ret)
{
	struct mig_frecv *f = ud;
	struct active *a = &f->a;
	ssize_t n;

	pthread_mutex_lock(&f->mu);
	if (a->held >= 0) {
		a->full[a->held] = false;
		a->held = -1;
		pthread_cond_broadcast(&f->cv);
	}
	while (!a->full[a->ridx] && !a->eof && !a->quit)
		pthread_cond_wait(&f->cv, &f->mu);
	if (a->quit) {
		n = -ECANCELED;
	} else if (a->full[a->ridx]) {
		*ret = a->buf[a->ridx];
		n = (ssize_t)a->len[a->ridx];
		a->held = a->ridx;
		a->ridx ^= 1;
	} else {
		n = 0;
	}
	pthread_mutex_unlock(&f->mu);
	return n;
}

static void unpack_progress(void *ud, const struct mig_archive_stats *st)
{
	struct mig_frecv *f = ud;

	pthread_mutex_lock(&f->mu);
	f->a.ast = *st;
	pthread_mutex_unlock(&f->mu);
}

static void *unpack_main(void *arg)
{
	struct mig_frecv *f = arg;
	struct active *a = &f->a;
	struct mig_archive_opts ao = { .progress = unpack_progress, .ud = f };
	char why[sizeof(a->unpack_why)];
	struct mig_archive_stats st = { 0 };
	int r = mig_archive_unpack(mig_fsmount_dir(a->m), unpack_read, f, &ao, &st, why, sizeof(why));

	pthread_mutex_lock(&f->mu);
	a->unpack_result = r;
	if (r < 0)
		snprintf(a->unpack_why, sizeof(a->unpack_why), "%s", why[0] ? why : strerror(-r));
	else
		a->ast = st;
	a->unpack_done = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static int start_part(struct mig_frecv *f, const struct mig_fchunk *c, char *why, size_t whylen)
{
	struct active *a = &f->a;
	struct fdisk_state *d;
	size_t pi;
	int r;

	if (c->disk >= f->nd)
		return say(-EBADMSG, why, whylen, "a chunk for disk %u, which the stream did not announce", c->disk);
	d = &f->d[c->disk];
	for (pi = 0; pi < d->plan->nparts && d->plan->parts[pi].partno != c->partno; pi++)
		;
	if (pi == d->plan->nparts)
		return say(-EBADMSG, why, whylen, "disk %u has no partition %u", c->disk, c->partno);
	const struct mig_plan_part *pp = &d->plan->parts[pi];
	bool want_archive = pp->method == MIG_COPY_FILES, want_raw = pp->method == MIG_COPY_RAW;
	if (!(want_archive && c->kind == MIG_FCHUNK_ARCHIVE) && !(want_raw && c->kind == MIG_FCHUNK_RAW))
		return say(-EBADMSG, why, whylen, "disk %u partition %u: its copy method is %s, not this chunk's",
			   c->disk, c->partno, mig_copy_method_name(pp->method));
	if (d->done[pi])
		return say(-EBADMSG, why, whylen, "disk %u partition %u came twice", c->disk, c->partno);
	memset(a, 0, offsetof(struct active, buf));
	a->on = true;
	a->disk = c->disk;
	a->partno = c->partno;
	a->pi = pi;
	a->held = -1;
	a->full[0] = a->full[1] = false;
	a->widx = a->ridx = 0;
	a->eof = a->quit = a->unpack_done = false;
	a->unpack_result = 0;
	a->unpack_why[0] = '\0';
	memset(&a->ast, 0, sizeof(a->ast));
	mig_digest_init(&a->dg);
	f->base = f->st;
	if (want_raw)
		return 0;
	r = mig_fsmount_open_flags(d->target, pp->start, pp->size, pp->part.fs.type, MIG_FSMOUNT_RW, &a->m);
	if (r < 0) {
		a->on = false;
		return say(r, why, whylen, "%s partition %u (%s): cannot mount the new filesystem: %s", d->target,
			   c->partno, pp->part.fs.type ? pp->part.fs.type : "?", strerror(-r));
	}
	r = -pthread_create(&a->thr, NULL, unpack_main, f);
	if (r < 0) {
		stop_active(f, true);
		return say(r, why, whylen, "cannot start a thread: %s", strerror(-r));
	}
	a->thr_on = true;
	return 0;
}

static int unpack_failed(struct mig_frecv *f, char *why, size_t whylen)
{
	struct active *a = &f->a;
	int r = stop_active(f, true);

	return say(r < 0 ? r : -EBADMSG, why, whylen, "disk %u partition %u: %s", a->disk, a->partno,
		   r < 0 ? a->unpack_why : "the archive ended before its data did");
}

int mig_frecv_chunk(struct mig_frecv *f, const struct mig_fchunk *c, char *why, size_t whylen)
{
	struct active *a = &f->a;
	int r;

	why[0] = '\0';
	if (!f->applied)
		return say(-EINVAL, why, whylen, "data before the targets were prepared");
	if (!a->on && (r = start_part(f, c, why, whylen)) < 0)
		return r;
	if (c->disk != a->disk || c->partno != a->partno)
		return say(-EBADMSG, why, whylen, "a chunk of disk %u partition %u while partition %u is incomplete",
			   c->disk, c->partno, a->partno);
	if (c->offset != a->next)
		return say(-EBADMSG, why, whylen, "disk %u partition %u: chunk at %" PRIu64 ", expected %" PRIu64,
			   c->disk, c->partno, c->offset, a->next);
	if (c->length > f->o.chunk_size)
		return say(-EBADMSG, why, whylen, "a chunk of %u bytes, more than the stream's chunk size", c->length);

	struct fdisk_state *d = &f->d[a->disk];
	const struct mig_plan_part *pp = &d->plan->parts[a->pi];
	if (c->kind == MIG_FCHUNK_RAW) {
		if (c->offset + c->length > pp->size)
			return say(-EBADMSG, why, whylen, "disk %u partition %u: raw data past its end", a->disk, a->partno);
		r = mig_stream_fchunk_restore(c, a->buf[0], f->o.chunk_size);
		if (r < 0)
			return say(r, why, whylen, "disk %u partition %u: chunk at %" PRIu64 " is corrupt (hash mismatch)",
				   a->disk, a->partno, c->offset);
		r = mig_pwrite_all(d->fd, a->buf[0], c->length, pp->start + c->offset);
		if (r < 0)
			return say(r, why, whylen, "cannot write %s: %s", d->target, strerror(-r));
		f->st.data_bytes += c->length;
	} else {
		/* Wait for a free buffer (the unpacker reads the other one). */
		pthread_mutex_lock(&f->mu);
		while (a->full[a->widx] && !a->unpack_done)
			pthread_cond_wait(&f->cv, &f->mu);
		bool dead = a->unpack_done;
		pthread_mutex_unlock(&f->mu);
		if (dead)
			return unpack_failed(f, why, whylen);
		r = mig_stream_fchunk_restore(c, a->buf[a->widx], f->o.chunk_size);
		if (r < 0) {
			stop_active(f, true);
			return say(r, why, whylen, "disk %u partition %u: chunk at %" PRIu64 " is corrupt (hash mismatch)",
				   a->disk, a->partno, c->offset);
		}
		pthread_mutex_lock(&f->mu);
		a->len[a->widx] = c->length;
		a->full[a->widx] = true;
		a->widx ^= 1;
		pthread_cond_broadcast(&f->cv);
		f->st.entries = f->base.entries + a->ast.entries;
		f->st.files = f->base.files + a->ast.files;
		f->st.data_bytes = f->base.data_bytes + a->ast.data_bytes;
		pthread_mutex_unlock(&f->mu);
	}
	mig_digest_add(&a->dg, c->length, c->sha256);
	a->next += c->length;
	f->st.archive_bytes += c->length;
	f->st.disk = a->disk;
	f->st.partno = a->partno;
	if (f->o.progress)
		f->o.progress(f->o.ud, &f->st);
	return 0;
}

int mig_frecv_trailer(struct mig_frecv *f, const struct mig_ftrailer *t, char *why, size_t whylen)
{
	struct active *a = &f->a;
	uint8_t dg[32];
	int r;

	why[0] = '\0';
	if (!f->applied)
		return say(-EINVAL, why, whylen, "data before the targets were prepared");
	if (!a->on) {
		/* A partition without a single chunk: an empty raw partition
		 * cannot be (sizes are whole sectors) and an archive has at
		 * least its end blocks. */
		return say(-EBADMSG, why, whylen, "disk %u partition %u: a trailer without data", t->disk, t->partno);
	}
	if (t->disk != a->disk || t->partno != a->partno)
		return say(-EBADMSG, why, whylen, "trailer of disk %u partition %u while partition %u is incomplete",
			   t->disk, t->partno, a->partno);
	mig_digest_final(&a->dg, dg);
	if (t->bytes != a->next || t->chunks != a->dg.chunks || memcmp(dg, t->sha256, 32)) {
		stop_active(f, true);
		return say(-EBADMSG, why, whylen,
			   "disk %u partition %u: the trailer does not match what arrived (%" PRIu64 " bytes in %" PRIu64
			   " chunks, digest %s)", t->disk, t->partno, a->next, a->dg.chunks,
			   memcmp(dg, t->sha256, 32) ? "differs" : "matches");
	}
	struct fdisk_state *d = &f->d[a->disk];
	if (a->m) {
		r = stop_active(f, false);
		if (r < 0)
			return say(r, why, whylen, "disk %u partition %u: %s", t->disk, t->partno, a->unpack_why);
		if (a->ast.entries != t->entries)
			return say(-EBADMSG, why, whylen, "disk %u partition %u: %" PRIu64 " entries unpacked, the sender packed %" PRIu64,
				   t->disk, t->partno, a->ast.entries, t->entries);
		f->st.entries = f->base.entries + a->ast.entries;
		f->st.files = f->base.files + a->ast.files;
		f->st.data_bytes = f->base.data_bytes + a->ast.data_bytes;
	} else {
		if (a->next != d->plan->parts[a->pi].size)
			return say(-EBADMSG, why, whylen, "disk %u partition %u: %" PRIu64 " of %" PRIu64 " raw bytes",
				   t->disk, t->partno, a->next, d->plan->parts[a->pi].size);
		a->on = false;
	}
	if (fdatasync(d->fd) < 0)
		return say(-errno, why, whylen, "cannot sync %s: %s", d->target, strerror(errno));
	d->done[a->pi] = true;
	if (f->o.progress)
		f->o.progress(f->o.ud, &f->st);
	return 0;
}

int mig_frecv_finish(struct mig_frecv *f, char *why, size_t whylen)
{
	why[0] = '\0';
	if (f->a.on)
		return say(-EBADMSG, why, whylen, "the stream ended inside disk %u partition %u", f->a.disk, f->a.partno);
	for (size_t i = 0; i < f->nd; i++) {
		struct fdisk_state *d = &f->d[i];
		for (size_t k = 0; k < d->plan->nparts; k++) {
			const struct mig_plan_part *pp = &d->plan->parts[k];
			if ((pp->method == MIG_COPY_FILES || pp->method == MIG_COPY_RAW) && !pp->skipped && !d->done[k])
				return say(-EBADMSG, why, whylen, "the stream ended without disk %zu partition %u", i,
					   pp->partno);
		}
		if (fsync(d->fd) < 0)
			return say(-errno, why, whylen, "cannot sync %s: %s", d->target, strerror(errno));
	}
	return 0;
}

void mig_frecv_abort(struct mig_frecv *f)
{
	stop_active(f, true);
}

uint32_t mig_frecv_parts_done(const struct mig_frecv *f, uint32_t disk, bool *ret_all)
{
	uint32_t n = 0;
	bool prefix = true;

	*ret_all = true;
	if (disk >= f->nd || !f->d[disk].plan) {
		*ret_all = false;
		return 0;
	}
	const struct fdisk_state *d = &f->d[disk];
	for (size_t k = 0; k < d->plan->nparts; k++) {
		const struct mig_plan_part *pp = &d->plan->parts[k];
		if (pp->method != MIG_COPY_FILES && pp->method != MIG_COPY_RAW)
			continue;
		/* the sender counts the partitions it sends, skipped or not */
		if (prefix && (d->done[k] || pp->skipped))
			n++;
		else
			prefix = false;
		if (!d->done[k] && !pp->skipped)
			*ret_all = false;
	}
	return n;
}

void mig_frecv_stats(const struct mig_frecv *f, struct mig_frecv_stats *ret)
{
	*ret = f->st;
}
