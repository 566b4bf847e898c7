/* filesend.c — see filesend.h. */
#include "filesend.h"
#include "digest.h"
#include "fileio.h"
#include "fsarchive.h"
#include "fsmount.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct job {
	bool skip;              /* complete on the receiver */
	uint32_t disk;
	const char *path;
	const struct mig_layout_part *part;
};

struct slot {
	uint8_t *buf;
	size_t len;
	bool full;
};

struct mig_fsend {
	struct job *jobs;
	size_t njobs, next_job;
	uint32_t chunk;
	int level;
	size_t outcap;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot slot[2];
	int pidx, cidx, held;           /* producer's and consumer's next slot; slot handed out */
	bool running, done, stop;
	pthread_t thr;
	int result;
	char why[1024];

	/* the producer's own */
	const struct job *cur;
	uint8_t *acc;                   /* the chunk being filled */
	size_t acclen;
	uint64_t off;                   /* offset of acc in the partition's archive */
	struct mig_digest dg;
	struct mig_archive_stats ast;   /* of the current pack */

	struct mig_fsend_stats st;      /* under mu */
};

static int emit(struct mig_fsend *f, const uint8_t *raw, size_t len, bool trailer_entries, uint64_t entries)
{
	struct slot *s;
	ssize_t n;

	pthread_mutex_lock(&f->mu);
	while (f->slot[f->pidx].full && !f->stop)
		pthread_cond_wait(&f->cv, &f->mu);
	if (f->stop) {
		pthread_mutex_unlock(&f->mu);
		return -ECANCELED;
	}
	s = &f->slot[f->pidx];
	pthread_mutex_unlock(&f->mu);

	if (raw) {
		uint32_t kind = f->cur->part->method == MIG_COPY_RAW ? MIG_FCHUNK_RAW : MIG_FCHUNK_ARCHIVE;
		n = mig_stream_encode_fchunk(s->buf, f->outcap, f->cur->disk, f->cur->part->partno, kind,
					     f->off, raw, (uint32_t)len, f->level);
		if (n < 0)
			return (int)n;
		/* the hash the encoder just wrote, for the partition digest */
		mig_digest_add(&f->dg, (uint32_t)len, s->buf + MIG_STREAM_RECORD_HDR + 32);
		f->off += len;
	} else {
		struct mig_ftrailer t = { .disk = f->cur->disk, .partno = f->cur->part->partno,
					  .bytes = f->off, .chunks = f->dg.chunks,
					  .entries = trailer_entries ? entries : 0 };
		mig_digest_final(&f->dg, t.sha256);
		n = mig_stream_encode_ftrailer(s->buf, f->outcap, &t);
		if (n < 0)
			return (int)n;
	}
	pthread_mutex_lock(&f->mu);
	s->len = (size_t)n;
	s->full = true;
	f->pidx ^= 1;
	f->st.archive_bytes += raw ? len : 0;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

/* The pack's write callback: fills chunks, emits full ones. */
static int sink(void *ud, const void *buf, size_t len)
{
	struct mig_fsend *f = ud;
	const uint8_t *p = buf;

	while (len > 0) {
		size_t take = f->chunk - f->acclen < len ? f->chunk - f->acclen : len;
		memcpy(f->acc + f->acclen, p, take);
		f->acclen += take;
		p += take;
		len -= take;
		if (f->acclen == f->chunk) {
			int r = emit(f, f->acc, f->acclen, false, 0);
			if (r < 0)
				return r;
			f->acclen = 0;
		}
	}
	return 0;
}

static void on_pack_progress(void *ud, const struct mig_archive_stats *a)
{
	struct mig_fsend *f = ud;

	pthread_mutex_lock(&f->mu);
	f->st.entries += a->entries - f->ast.entries;
	f->st.files += a->files - f->ast.files;
	f->st.data_bytes += a->data_bytes - f->ast.data_bytes;
	f->st.sockets_skipped += a->sockets_skipped - f->ast.sockets_skipped;
	f->ast = *a;
	pthread_mutex_unlock(&f->mu);
}

static int send_files(struct mig_fsend *f, const struct job *j)
{
	const struct mig_layout_part *p = j->part;
	struct mig_fsmount *m = NULL;
	struct mig_archive_opts ao = { .progress = on_pack_progress, .ud = f };
	char why[900];
	int r;

	r = mig_fsmount_open(j->path, p->start, p->size, p->fs.type, &m);
	if (r < 0) {
		snprintf(f->why, sizeof(f->why), "%s partition %u (%s): cannot mount it read-only: %s",
			 j->path, p->partno, p->fs.type, strerror(-r));
		return r;
	}
	r = mig_archive_pack(mig_fsmount_dir(m), sink, f, &ao, NULL, why, sizeof(why));
	if (r < 0 && r != -ECANCELED)
		snprintf(f->why, sizeof(f->why), "%s partition %u: %s", j->path, p->partno,
			 why[0] ? why : strerror(-r));
	if (r == 0 && f->acclen)
		r = emit(f, f->acc, f->acclen, false, 0);
	if (r == 0)
		r = emit(f, NULL, 0, true, f->ast.entries);
	mig_fsmount_close(m);
	return r;
}

static int send_raw(struct mig_fsend *f, const struct job *j)
{
	const struct mig_layout_part *p = j->part;
	int fd = open(j->path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0) {
		r = -errno;
		snprintf(f->why, sizeof(f->why), "cannot open %s: %s", j->path, strerror(errno));
		return r;
	}
	for (uint64_t done = 0; done < p->size && r == 0;) {
		size_t n = p->size - done < f->chunk ? (size_t)(p->size - done) : f->chunk;
		r = mig_pread_all(fd, f->acc, n, p->start + done);
		if (r < 0) {
			snprintf(f->why, sizeof(f->why), "%s partition %u: cannot read at %llu: %s", j->path,
				 p->partno, (unsigned long long)done, strerror(-r));
			break;
		}
		r = emit(f, f->acc, n, false, 0);
		done += n;
		pthread_mutex_lock(&f->mu);
		f->st.data_bytes += n;
		pthread_mutex_unlock(&f->mu);
	}
	if (r == 0)
		r = emit(f, NULL, 0, false, 0);
	close(fd);
	return r;
}

static void *producer(void *arg)
{
	struct mig_fsend *f = arg;
	const struct job *j = f->cur;
	int r;

	f->acclen = 0;
	f->off = 0;
	memset(&f->ast, 0, sizeof(f->ast));
	mig_digest_init(&f->dg);
	r = j->part->method == MIG_COPY_RAW ? send_raw(f, j) : send_files(f, j);
	pthread_mutex_lock(&f->mu);
	f->result = r;
	f->done = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

int mig_fsend_new(char *const *paths, struct mig_layout *const *layouts, size_t n,
		  uint32_t chunk_size, int level, struct mig_fsend **ret)
{
	struct mig_fsend *f = calloc(1, sizeof(*f));
	size_t total = 0;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		total += layouts[i]->nparts;
	f->jobs = calloc(total ? total : 1, sizeof(*f->jobs));
	f->chunk = chunk_size;
	f->level = level;
	f->outcap = mig_stream_chunk_bound(chunk_size) + MIG_STREAM_FCHUNK_FIXED;
	f->acc = malloc(chunk_size);
	f->slot[0].buf = malloc(f->outcap);
	f->slot[1].buf = malloc(f->outcap);
	f->held = -1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (!f->jobs || !f->acc || !f->slot[0].buf || !f->slot[1].buf) {
		mig_fsend_free(f);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < layouts[i]->nparts; k++) {
			const struct mig_layout_part *p = &layouts[i]->parts[k];
			if (p->method == MIG_COPY_FILES || p->method == MIG_COPY_RAW)
				f->jobs[f->njobs++] = (struct job){ false, (uint32_t)i, paths[i], p };
		}
	*ret = f;
	return 0;
}

int mig_fsend_next(struct mig_fsend *f, const uint8_t **ret_buf, size_t *ret_len,
		   char *why, size_t whylen)
{
	int r = 0;

	pthread_mutex_lock(&f->mu);
	if (f->held >= 0) {
		f->slot[f->held].full = false;
		f->held = -1;
		pthread_cond_broadcast(&f->cv);
	}
	for (;;) {
		if (!f->running) {
			while (f->next_job < f->njobs && f->jobs[f->next_job].skip)
				f->next_job++;
			if (f->next_job == f->njobs) {
				r = 1;
				break;
			}
			f->cur = &f->jobs[f->next_job++];
			f->st.disk = f->cur->disk;
			f->st.partno = f->cur->part->partno;
			f->done = false;
			f->pidx = f->cidx = 0;
			if ((r = -pthread_create(&f->thr, NULL, producer, f)) < 0) {
				snprintf(why, whylen, "cannot start a thread: %s", strerror(-r));
				break;
			}
			f->running = true;
		}
		struct slot *s = &f->slot[f->cidx];
		if (s->full) {
			f->held = f->cidx;
			f->cidx ^= 1;
			*ret_buf = s->buf;
			*ret_len = s->len;
			break;
		}
		if (f->done) {
			pthread_mutex_unlock(&f->mu);
			pthread_join(f->thr, NULL);
			pthread_mutex_lock(&f->mu);
			f->running = false;
			if (f->result < 0) {
				r = f->result;
				snprintf(why, whylen, "%s", f->why[0] ? f->why : strerror(-r));
				break;
			}
			continue;
		}
		pthread_cond_wait(&f->cv, &f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

static void stop_producer(struct mig_fsend *f)
{
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->running)
		pthread_join(f->thr, NULL);
	f->running = false;
}

int mig_fsend_seek(struct mig_fsend *f, const uint64_t *parts_done, const bool *done)
{
	uint32_t ndisks = 0;

	for (size_t k = 0; k < f->njobs; k++)
		if (f->jobs[k].disk + 1 > ndisks)
			ndisks = f->jobs[k].disk + 1;
	for (uint32_t i = 0; parts_done && i < ndisks; i++) {
		uint64_t n = 0;
		for (size_t k = 0; k < f->njobs; k++)
			n += f->jobs[k].disk == i;
		if (parts_done[i] > n)
			return -ERANGE;
	}
	stop_producer(f);
	f->stop = false;
	f->held = -1;
	f->slot[0].full = f->slot[1].full = false;
	f->next_job = 0;
	for (size_t k = 0, seen = 0; k < f->njobs; k++) {
		uint32_t i = f->jobs[k].disk;
		seen = k && f->jobs[k - 1].disk == i ? seen + 1 : 0;
		f->jobs[k].skip = (done && done[i]) || (parts_done && seen < parts_done[i]);
	}
	return 0;
}

void mig_fsend_stats(struct mig_fsend *f, struct mig_fsend_stats *ret)
{
	pthread_mutex_lock(&f->mu);
	*ret = f->st;
	pthread_mutex_unlock(&f->mu);
}

void mig_fsend_free(struct mig_fsend *f)
{
	if (!f)
		return;
	stop_producer(f);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f->slot[0].buf);
	free(f->slot[1].buf);
	free(f->acc);
	free(f->jobs);
	free(f);
}
