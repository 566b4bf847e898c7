/* source.c — see source.h and docs/stream-format.md. */
#include "source.h"
#include "fileio.h"
#include "filesend.h"
#include "layout.h"
#include "stream.h"
#include "usedmap.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libfdisk.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SNAPSHOTS 8192

enum { P_STREAM, P_DISKS, P_CHUNKS, P_END, P_DONE };

/* Chunks are read, hashed and compressed ahead of the consumer by up to
 * MAX_WORKERS threads, each into a slot of a ring the consumer empties in
 * order. Buffers: NSLOTS encoded records plus one raw chunk per worker; with
 * 16 MiB chunks one worker and three slots keep that within 64 MiB. */
#define MAX_WORKERS 2
#define MAX_SLOTS   (MAX_WORKERS + 2)

/* One encoded chunk record and what it counts for. */
struct slot {
	uint8_t *buf;
	size_t len;
	uint32_t disk, raw_len;
	uint64_t off;
	uint64_t data, zero, unused;
	bool ready, hashed;     /* hashed: buf holds a data record and its SHA-256 */
	int err;
	char why[512];
};

static void prefetch_stop(struct mig_source *s);

struct worker_arg {
	struct mig_source *s;
	size_t w;
};

struct mig_prefetch {
	pthread_t thr[MAX_WORKERS];
	struct worker_arg arg[MAX_WORKERS];
	uint8_t *raw[MAX_WORKERS];
	size_t nworkers, nslots;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, failed;              /* shared, under mu */
	size_t alive;                   /* workers still running */
	size_t claim_disk;              /* the disk whose next chunk is claimed next */
	bool skip[64];
	struct slot q[MAX_SLOTS];
	uint64_t head, tail;            /* consumed, claimed (slot = index % nslots) */
	bool running, held;             /* the consumer's own */
};

static int reason(int err, char *why, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int reason(int err, char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return err;
}

/* The partition table as an sfdisk script, or NULL when there is none. */
static char *sfdisk_script(const char *path)
{
	struct fdisk_context *cxt = fdisk_new_context();
	struct fdisk_script *dp = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!cxt)
		return NULL;
	if (fdisk_assign_device(cxt, path, 1) == 0 && fdisk_has_label(cxt) &&
	    (dp = fdisk_new_script(cxt)) && fdisk_script_read_context(dp, NULL) == 0 &&
	    (f = open_memstream(&text, &len))) {
		if (fdisk_script_write_file(dp, f) != 0) {
			fclose(f);
			free(text);
			text = NULL;
		} else if (fclose(f) != 0) {
			free(text);
			text = NULL;
		}
	}
	fdisk_unref_script(dp);
	fdisk_unref_context(cxt);
	return text;
}

static int open_disk(struct mig_source *s, struct mig_src_disk *d, char *why, size_t whylen)
{
	struct stat st;

	d->fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (d->fd < 0)
		return reason(-errno, why, whylen, "cannot open %s: %s", d->path, strerror(errno));
	if (fstat(d->fd, &st) < 0)
		return reason(-errno, why, whylen, "%s: %s", d->path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		int ssz = 512;
		d->rdev = st.st_rdev;
		if (ioctl(d->fd, BLKGETSIZE64, &d->size) < 0)
			return reason(-errno, why, whylen, "%s: cannot read its size: %s", d->path, strerror(errno));
		if (ioctl(d->fd, BLKSSZGET, &ssz) < 0)
			ssz = 512;
		d->sector = (uint32_t)ssz;
	} else if (S_ISREG(st.st_mode)) {
		d->is_file = true;
		d->size = (uint64_t)st.st_size;
		d->sector = 512;
	} else {
		return reason(-ENOTBLK, why, whylen, "%s is neither a block device nor a disk image file", d->path);
	}
	if (d->size == 0 || d->size % 512)
		return reason(-EINVAL, why, whylen, "%s: size %" PRIu64 " is not a positive multiple of 512 bytes",
			      d->path, d->size);
	(void)posix_fadvise(d->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	/* Chunks are read once: straight into our buffer, past the page cache
	 * (half the kernel time of a copy here). Buffered reads stay for what
	 * O_DIRECT refuses (tmpfs, an unaligned tail). */
	d->fd_direct = open(d->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_DIRECT);
	d->sfdisk_script = sfdisk_script(d->path);

	/* Commit boundaries: every 4 chunks (16 MiB by default: a link that
	 * breaks more often than that still makes progress), fewer on disks
	 * past 128 GiB, so the digest snapshots stay at MAX_SNAPSHOTS. */
	uint64_t chunks = (d->size + s->o.chunk_size - 1) / s->o.chunk_size;
	uint64_t k = (chunks + MAX_SNAPSHOTS - 1) / MAX_SNAPSHOTS;
	d->commit_interval = (uint64_t)s->o.chunk_size * (k < 4 ? 4 : k);
	d->nsnaps = (size_t)(d->size / d->commit_interval) + 1;
	d->snaps = calloc(d->nsnaps, sizeof(*d->snaps));
	if (!d->snaps)
		return reason(-ENOMEM, why, whylen, "out of memory");
	return 0;
}

int mig_source_open(char *const *paths, size_t n, const struct mig_source_opts *o,
		    struct mig_source **ret, char *why, size_t whylen)
{
	struct mig_source *s;
	int r;

	why[0] = '\0';
	if (n == 0 || n > 64)
		return reason(-EINVAL, why, whylen, "between 1 and 64 source disks, please");
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	if (!s->o.chunk_size)
		s->o.chunk_size = MIG_DEFAULT_CHUNK;
	if (!s->o.level)
		s->o.level = 1;
	if (s->o.chunk_size < 65536 || s->o.chunk_size > MIG_STREAM_MAX_CHUNK || s->o.chunk_size % 65536) {
		free(s);
		return reason(-EINVAL, why, whylen, "chunk size must be a multiple of 64 KiB up to 16 MiB");
	}
	if (getrandom(s->session, sizeof(s->session), 0) != (ssize_t)sizeof(s->session)) {
		free(s);
		return reason(-EIO, why, whylen, "no random numbers for the session id");
	}
	s->disks = calloc(n, sizeof(*s->disks));
	s->outcap = mig_stream_chunk_bound(s->o.chunk_size);
	s->out = malloc(s->outcap);
	s->pf = calloc(1, sizeof(*s->pf));
	if (!s->disks || !s->out || !s->pf) {
		r = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&s->pf->mu, NULL);
	pthread_cond_init(&s->pf->cv, NULL);
	s->pf->nworkers = s->o.chunk_size <= 8u << 20 ? MAX_WORKERS : 1;
	s->pf->nslots = s->pf->nworkers + 2;
	for (size_t k = 0; k < s->pf->nslots; k++)
		if (!(s->pf->q[k].buf = malloc(s->outcap))) {
			r = -ENOMEM;
			goto fail;
		}
	for (size_t w = 0; w < s->pf->nworkers; w++)
		if (posix_memalign((void **)&s->pf->raw[w], 4096, s->o.chunk_size)) {
			s->pf->raw[w] = NULL;
			r = -ENOMEM;
			goto fail;
		}
	for (size_t i = 0; i < n; i++) {
		s->disks[i].fd = s->disks[i].fd_direct = -1;
		s->ndisks++;
		if (!(s->disks[i].path = strdup(paths[i]))) {
			r = -ENOMEM;
			goto fail;
		}
		r = open_disk(s, &s->disks[i], why, whylen);
		if (r < 0)
			goto fail;
		for (size_t j = 0; j < i; j++)
			if (!s->disks[i].is_file && s->disks[i].rdev == s->disks[j].rdev) {
				r = reason(-EINVAL, why, whylen, "%s is given twice", paths[i]);
				goto fail;
			}
		if (s->o.used_only) {
			r = mig_usedmap_build(s->disks[i].fd, s->disks[i].size, &s->disks[i].used);
			if (r < 0) {
				reason(r, why, whylen, "%s: cannot map its used blocks: %s", paths[i], strerror(-r));
				goto fail;
			}
		}
	}
	if (s->o.file_mode) {
		struct mig_layout *ls[64];
		char *ps[64];
		for (size_t i = 0; i < n; i++) {
			struct mig_src_disk *d = &s->disks[i];
			size_t jl;
			r = mig_layout_probe(d->path, &d->layout);
			if (r < 0) {
				reason(r, why, whylen, "%s: cannot read its layout: %s", d->path,
				       r == -ENOMEDIUM ? "no partition table" : strerror(-r));
				goto fail;
			}
			r = mig_layout_to_json_string(d->layout, &d->layout_json, &jl);
			if (r < 0)
				goto fail;
			ls[i] = d->layout;
			ps[i] = d->path;
		}
		r = mig_fsend_new(ps, ls, n, s->o.chunk_size, s->o.level, &s->fs);
		if (r < 0)
			goto fail;
	}
	mig_source_seek(s, NULL, NULL);
	*ret = s;
	return 0;
fail:
	mig_source_free(s);
	return r;
}

void mig_source_free(struct mig_source *s)
{
	if (!s)
		return;
	mig_fsend_free(s->fs);
	if (s->pf) {
		prefetch_stop(s);
		for (size_t k = 0; k < MAX_SLOTS; k++)
			free(s->pf->q[k].buf);
		for (size_t w = 0; w < MAX_WORKERS; w++)
			free(s->pf->raw[w]);
		pthread_mutex_destroy(&s->pf->mu);
		pthread_cond_destroy(&s->pf->cv);
		free(s->pf);
	}
	for (size_t i = 0; i < s->ndisks; i++) {
		if (s->disks[i].fd >= 0)
			close(s->disks[i].fd);
		if (s->disks[i].fd_direct >= 0)
			close(s->disks[i].fd_direct);
		free(s->disks[i].path);
		free(s->disks[i].sfdisk_script);
		free(s->disks[i].snaps);
		mig_layout_free(s->disks[i].layout);
		free(s->disks[i].layout_json);
		mig_usedmap_free(s->disks[i].used);
	}
	free(s->disks);
	free(s->out);
	free(s);
}

static void put_u32(uint8_t b[4], uint32_t v) { for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> 8 * i); }
static void put_u64(uint8_t b[8], uint64_t v) { for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> 8 * i); }

/* File mode: every record is version 2, so an older reader stops at once. */
static ssize_t versioned(const struct mig_source *s, uint8_t *rec, ssize_t n)
{
	if (n > 0 && s->o.file_mode)
		mig_stream_set_version(rec, MIG_STREAM_VERSION_FILE);
	return n;
}

static ssize_t encode_stream_header(struct mig_source *s, uint8_t *out, size_t cap)
{
	const char *ver = s->o.tool_version ? s->o.tool_version : "unknown";
	uint8_t n[4], chunk[4], mode[4];
	struct mig_field f[] = {
		{ MIG_F_TOOL_VERSION, (uint32_t)strlen(ver), (const uint8_t *)ver },
		{ MIG_F_DISK_COUNT, 4, n },
		{ MIG_F_SESSION, MIG_SESSION_ID_SIZE, s->session },
		{ MIG_F_CHUNK_SIZE, 4, chunk },
		{ MIG_F_MODE, 4, mode },
	};

	put_u32(n, (uint32_t)s->ndisks);
	put_u32(chunk, s->o.chunk_size);
	put_u32(mode, 1);
	ssize_t r = mig_stream_encode_fields(out, cap, MIG_REC_STREAM, f, s->o.file_mode ? 5 : 4);
	return versioned(s, out, r);
}

static ssize_t encode_disk_header(struct mig_source *s, size_t i, uint8_t *out, size_t cap)
{
	const struct mig_src_disk *d = &s->disks[i];
	uint8_t idx[4], size[8], sec[4], interval[8], used[4];
	struct mig_field f[8] = {
		{ MIG_F_DISK_INDEX, 4, idx },
		{ MIG_F_DISK_SIZE, 8, size },
		{ MIG_F_SECTOR_SIZE, 4, sec },
		{ MIG_F_COMMIT_INTERVAL, 8, interval },
		{ MIG_F_USED_ONLY, 4, used },
		{ MIG_F_SOURCE_NAME, (uint32_t)strlen(d->path), (const uint8_t *)d->path },
	};
	size_t nf = 6;

	put_u32(idx, (uint32_t)i);
	put_u64(size, d->size);
	put_u32(sec, d->sector);
	put_u64(interval, d->commit_interval);
	put_u32(used, s->o.used_only);
	if (d->sfdisk_script && strlen(d->sfdisk_script) <= MIG_STREAM_MAX_FIELD)
		f[nf++] = (struct mig_field){ MIG_F_SFDISK_SCRIPT, (uint32_t)strlen(d->sfdisk_script),
					      (const uint8_t *)d->sfdisk_script };
	if (d->layout_json)
		f[nf++] = (struct mig_field){ MIG_F_LAYOUT, (uint32_t)strlen(d->layout_json),
					      (const uint8_t *)d->layout_json };
	return versioned(s, out, mig_stream_encode_fields(out, cap, MIG_REC_DISK, f, nf));
}

int mig_source_plan(struct mig_source *s, uint8_t **ret, size_t *ret_len)
{
	size_t cap = 0, len = 0;
	uint8_t *buf;
	ssize_t n;

	for (size_t i = 0; i < s->ndisks; i++)
		cap += 4096 + (s->disks[i].sfdisk_script ? strlen(s->disks[i].sfdisk_script) : 0) +
		       strlen(s->disks[i].path) + (s->disks[i].layout_json ? strlen(s->disks[i].layout_json) : 0);
	cap += 4096;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	n = encode_stream_header(s, buf, cap);
	for (size_t i = 0; n > 0 && i <= s->ndisks; i++) {
		len += (size_t)n;
		n = i < s->ndisks ? encode_disk_header(s, i, buf + len, cap - len)
				  : versioned(s, buf + len, mig_stream_encode_end(buf + len, cap - len));
	}
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	*ret = buf;
	*ret_len = len + (size_t)n;
	return 0;
}

int mig_source_seek(struct mig_source *s, const uint64_t *next, const bool *done)
{
	if (s->fs) {
		/* File mode: next[i] counts disk i's data partitions complete
		 * on the receiver; the first other one restarts from the
		 * beginning of its archive. */
		int k = mig_fsend_seek(s->fs, next, done);
		if (k < 0)
			return k;
		s->phase = P_STREAM;
		s->cur = 0;
		return 0;
	}
	prefetch_stop(s);
	for (size_t i = 0; i < s->ndisks; i++) {
		struct mig_src_disk *d = &s->disks[i];
		uint64_t at = next ? next[i] : 0;
		bool skip = done && done[i];

		if (skip) {
			/* Complete on the receiver; nothing of it is sent. */
		} else if (at == 0) {
			mig_digest_init(&d->digest);
		} else if (at % d->commit_interval || at / d->commit_interval >= d->snaps_valid || at >= d->size) {
			return -ERANGE;
		} else {
			d->digest = d->snaps[at / d->commit_interval];
		}
		d->skip = skip;
		d->pos = d->wpos = skip ? d->size : at;
		d->data_bytes = d->zero_bytes = d->unused_bytes = d->wire_bytes = 0;
	}
	s->phase = P_STREAM;
	s->cur = 0;
	return 0;
}

/* Is [off, off+len) of a sparse image file a hole? Cheap, and spares reading it. */
static bool file_hole(const struct mig_src_disk *d, uint64_t off, uint64_t len)
{
	off_t data;

	if (!d->is_file)
		return false;
	data = lseek(d->fd, (off_t)off, SEEK_DATA);
	if (data < 0)
		return errno == ENXIO;          /* no data from off to the end */
	return (uint64_t)data >= off + len;
}

/* Reads and encodes the chunk of disk di at off into sl, with raw as the
 * read buffer (a worker thread; the digest is the consumer's business). */
static int encode_chunk(struct mig_source *s, uint32_t di, uint64_t off, uint8_t *raw, struct slot *sl)
{
	struct mig_src_disk *d = &s->disks[di];
	uint32_t len = d->size - off < s->o.chunk_size ? (uint32_t)(d->size - off) : s->o.chunk_size;
	size_t cap = s->outcap;
	ssize_t n;
	int r;

	sl->disk = di;
	sl->off = off;
	sl->raw_len = len;
	sl->data = sl->zero = sl->unused = 0;
	sl->hashed = false;
	if (d->used && mig_usedmap_is_free(d->used, off, len) == 1) {
		/* Free in the filesystem: neither read nor sent. */
		n = mig_stream_encode_empty(sl->buf, cap, di, MIG_CHUNK_UNUSED, off, len);
		sl->unused = len;
	} else if (file_hole(d, off, len)) {
		n = mig_stream_encode_empty(sl->buf, cap, di, MIG_CHUNK_ZERO, off, len);
		sl->zero = len;
	} else {
		r = -EINVAL;
		if (d->fd_direct >= 0 && len % 4096 == 0 && off % 4096 == 0)
			r = mig_pread_all(d->fd_direct, raw, len, off);
		if (r == -EINVAL) {
			/* Buffered: ask for what follows while this one is encoded. */
			if (off + len < d->size)
				(void)posix_fadvise(d->fd, (off_t)(off + len), 2 * (off_t)s->o.chunk_size,
						    POSIX_FADV_WILLNEED);
			r = mig_pread_all(d->fd, raw, len, off);
		}
		if (r < 0)
			return reason(r, sl->why, sizeof(sl->why), "cannot read %s at offset %" PRIu64 ": %s", d->path, off,
				      r == -EIO ? "input/output error, or the disk shrank" : strerror(-r));
		/* Free blocks inside a chunk that is partly in use travel as
		 * zeros: what the target gets is the image as sent. */
		uint64_t fo, fl, at = off;
		while (d->used && mig_usedmap_next_free(d->used, at, off + len, &fo, &fl) == 0) {
			memset(raw + (fo - off), 0, (size_t)fl);
			sl->unused += fl;
			at = fo + fl;
		}
		if (mig_all_zero(raw, len)) {
			n = mig_stream_encode_empty(sl->buf, cap, di, MIG_CHUNK_ZERO, off, len);
			sl->zero = len - sl->unused;
		} else {
			n = mig_stream_encode_data(sl->buf, cap, di, off, raw, len, s->o.level);
			sl->data = len - sl->unused;
			sl->hashed = true;
		}
	}
	if (n < 0)
		return reason((int)n, sl->why, sizeof(sl->why), "cannot encode %s at offset %" PRIu64 ": %s",
			      d->path, off, strerror((int)-n));
	sl->len = (size_t)n;
	return 0;
}

/* Under pf->mu: the next chunk to read, as disk and offset; false when
 * every disk is claimed to its end. */
static bool claim(struct mig_source *s, uint32_t *di, uint64_t *off)
{
	struct mig_prefetch *pf = s->pf;

	while (pf->claim_disk < s->ndisks) {
		struct mig_src_disk *d = &s->disks[pf->claim_disk];
		if (!pf->skip[pf->claim_disk] && d->wpos < d->size) {
			*di = (uint32_t)pf->claim_disk;
			*off = d->wpos;
			d->wpos += d->size - d->wpos < s->o.chunk_size ? d->size - d->wpos : s->o.chunk_size;
			return true;
		}
		pf->claim_disk++;
	}
	return false;
}

static void *worker_main(void *arg)
{
	const struct worker_arg *wa = arg;
	struct mig_source *s = wa->s;
	struct mig_prefetch *pf = s->pf;
	uint8_t *raw = pf->raw[wa->w];

	pthread_mutex_lock(&pf->mu);
	for (;;) {
		uint32_t di;
		uint64_t off;

		while (!pf->stop && !pf->failed && pf->tail - pf->head == pf->nslots)
			pthread_cond_wait(&pf->cv, &pf->mu);
		if (pf->stop || pf->failed || !claim(s, &di, &off))
			break;
		struct slot *sl = &pf->q[pf->tail++ % pf->nslots];
		sl->ready = false;
		pthread_mutex_unlock(&pf->mu);

		int r = encode_chunk(s, di, off, raw, sl);

		pthread_mutex_lock(&pf->mu);
		sl->err = r;
		sl->ready = true;
		if (r < 0)
			pf->failed = true;      /* the consumer meets it in order */
		pthread_cond_broadcast(&pf->cv);
	}
	pf->alive--;
	pthread_cond_broadcast(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
	return NULL;
}

static void prefetch_stop(struct mig_source *s)
{
	struct mig_prefetch *pf = s->pf;

	if (!pf || !pf->running)
		return;
	pthread_mutex_lock(&pf->mu);
	pf->stop = true;
	pthread_cond_broadcast(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
	for (size_t w = 0; w < pf->nworkers; w++)
		pthread_join(pf->thr[w], NULL);
	pf->running = pf->stop = pf->failed = pf->held = false;
	pf->head = pf->tail = 0;
}

static int prefetch_start(struct mig_source *s, char *why, size_t whylen)
{
	struct mig_prefetch *pf = s->pf;

	pf->claim_disk = 0;
	for (size_t i = 0; i < s->ndisks; i++)
		pf->skip[i] = s->disks[i].skip;
	pf->alive = 0;
	for (size_t w = 0; w < pf->nworkers; w++) {
		pf->arg[w] = (struct worker_arg){ s, w };
		pthread_mutex_lock(&pf->mu);
		pf->alive++;
		pthread_mutex_unlock(&pf->mu);
		if (pthread_create(&pf->thr[w], NULL, worker_main, &pf->arg[w]) != 0) {
			pthread_mutex_lock(&pf->mu);
			pf->alive--;
			pf->stop = true;
			pthread_cond_broadcast(&pf->cv);
			pthread_mutex_unlock(&pf->mu);
			for (size_t k = 0; k < w; k++)
				pthread_join(pf->thr[k], NULL);
			pf->stop = false;
			return reason(-EAGAIN, why, whylen, "cannot start the read-ahead threads");
		}
	}
	pf->running = true;
	return 0;
}

/* The next chunk record, in disk order (the read-ahead starts on first use).
 * The disk digest and its snapshots at commit boundaries advance here, in
 * order, whatever order the workers finish in. */
static int pop_chunk(struct mig_source *s, struct mig_src_disk *d, struct slot **ret, char *why, size_t whylen)
{
	struct mig_prefetch *pf = s->pf;
	struct slot *sl;
	int r;

	if (!pf->running && (r = prefetch_start(s, why, whylen)) < 0)
		return r;
	pthread_mutex_lock(&pf->mu);
	while (!(pf->tail > pf->head && pf->q[pf->head % pf->nslots].ready) &&
	       !(pf->tail == pf->head && pf->alive == 0))
		pthread_cond_wait(&pf->cv, &pf->mu);
	if (pf->tail == pf->head) {
		pthread_mutex_unlock(&pf->mu);
		return reason(-EIO, why, whylen, "%s: the read-ahead stopped early", d->path);
	}
	sl = &pf->q[pf->head % pf->nslots];
	pf->held = true;
	pthread_mutex_unlock(&pf->mu);
	if (sl->err < 0)
		return reason(sl->err, why, whylen, "%s", sl->why);

	uint64_t k = sl->off / d->commit_interval;
	if (sl->off % d->commit_interval == 0 && k < d->nsnaps) {
		d->snaps[k] = d->digest;
		if (k + 1 > d->snaps_valid)
			d->snaps_valid = k + 1;
	}
	if (sl->hashed)   /* the chunk's SHA-256 sits at a fixed place in the record */
		mig_digest_add(&d->digest, sl->raw_len, sl->buf + MIG_STREAM_RECORD_HDR + 24);
	else
		mig_digest_add_zero(&d->digest, sl->raw_len);
	*ret = sl;
	return 0;
}

/* The consumer is done with the record it was handed last. */
static void release_held(struct mig_prefetch *pf)
{
	if (!pf->held)
		return;
	pthread_mutex_lock(&pf->mu);
	pf->head++;
	pf->held = false;
	pthread_cond_broadcast(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
}

int mig_source_next(struct mig_source *s, const uint8_t **ret_buf, size_t *ret_len,
		    char *why, size_t whylen)
{
	ssize_t n;
	int r;

	why[0] = '\0';
	release_held(s->pf);
	if (s->fs && s->phase == P_CHUNKS) {
		int k = mig_fsend_next(s->fs, ret_buf, ret_len, why, whylen);
		if (k <= 0) {
			if (k == 0) {
				struct mig_fsend_stats st;
				mig_fsend_stats(s->fs, &st);
				s->disks[st.disk].wire_bytes += *ret_len;
				s->disks[st.disk].data_bytes = st.data_bytes;
				s->disks[st.disk].pos = st.archive_bytes;
			}
			return k;
		}
		n = versioned(s, s->out, mig_stream_encode_end(s->out, s->outcap));
		s->phase = P_DONE;
		if (n < 0)
			return reason((int)n, why, whylen, "cannot encode the stream: %s", strerror((int)-n));
		*ret_buf = s->out;
		*ret_len = (size_t)n;
		return 0;
	}
	switch (s->phase) {
	case P_STREAM:
		n = encode_stream_header(s, s->out, s->outcap);
		s->phase = P_DISKS;
		s->cur = 0;
		break;
	case P_DISKS:
		n = encode_disk_header(s, s->cur, s->out, s->outcap);
		if (++s->cur == s->ndisks) {
			s->phase = P_CHUNKS;
			s->cur = 0;
		}
		break;
	case P_CHUNKS: {
		while (s->cur < s->ndisks && s->disks[s->cur].skip)
			s->cur++;
		if (s->cur == s->ndisks) {
			n = mig_stream_encode_end(s->out, s->outcap);
			s->phase = P_DONE;
			break;
		}
		struct mig_src_disk *d = &s->disks[s->cur];
		if (d->pos < d->size) {
			struct slot *sl = NULL;
			r = pop_chunk(s, d, &sl, why, whylen);
			if (r < 0)
				return r;
			d->pos += sl->raw_len;
			d->data_bytes += sl->data;
			d->zero_bytes += sl->zero;
			d->unused_bytes += sl->unused;
			d->wire_bytes += sl->len;
			*ret_buf = sl->buf;
			*ret_len = sl->len;
			return 0;
		} else {
			struct mig_trailer t = { .disk = (uint32_t)s->cur, .bytes = d->size, .chunks = d->digest.chunks };
			mig_digest_final(&d->digest, t.sha256);
			n = mig_stream_encode_trailer(s->out, s->outcap, &t);
			d->skip = true;     /* done with it */
		}
		break;
	}
	default:
		return 1;
	}
	if (n < 0)
		return reason((int)n, why, whylen, "cannot encode the stream: %s", strerror((int)-n));
	*ret_buf = s->out;
	*ret_len = (size_t)n;
	return 0;
}
