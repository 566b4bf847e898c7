/* receiver.c — see receiver.h and docs/stream-format.md. */
#include "receiver.h"
#include "digest.h"
#include "filerecv.h"
#include "stream.h"
#include "target.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define COMMIT_EVERY_NS 1000000000ull   /* at most one sync + journal a second */

struct rx_state {
	struct mig_target *target;
	char *journal_path;
	struct mig_digest digest;       /* up to next_offset */
	struct mig_digest commit_digest;/* at commit_offset, the last interval boundary */
	uint64_t commit_offset;
	uint64_t synced_offset;         /* what the journal on disk says */
};

/* Syncs a target and saves its journal on a thread of its own, so chunks
 * keep arriving and being written while the disk flushes its cache (a
 * fdatasync took a quarter of a second here, four times a second of copy).
 * One request at a time; a boundary that comes while one is running waits
 * for the next. Results are handed back to the stream's thread, which
 * reports them: an error ends the session, a commit is announced. */
struct committer {
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool started, quit, want, busy;
	size_t disk;
	uint64_t offset;
	struct mig_digest digest;
	int err;
	char why[600];
	int announce;           /* disk index + 1 of a commit not yet announced */
};

struct mig_receiver {
	struct mig_receiver_opts o;
	struct committer cm;
	uint8_t session[MIG_SESSION_ID_SIZE];
	bool have_session, targets_open, finished, fatal;
	bool file_mode, applied;
	struct mig_frecv *fr;
	uint32_t chunk_size, ndisks_expected;
	struct mig_rx_disk disks[MIG_MAX_STREAM_DISKS];
	struct rx_state st[MIG_MAX_STREAM_DISKS];
	size_t ndisks;
	int err;
	char errbuf[768];
	uint64_t last_commit_ns;

	/* per connection */
	int phase;                      /* 0 stream header, 1 disk headers, 2 chunks, 3 ended */
	uint32_t disk_headers_seen;
	uint64_t stream_pos;
	uint8_t *rbuf;
	size_t rhave;
	uint8_t *raw;           /* two chunk buffers: one decoded, one being written */
	size_t rawcap;
	int raw_idx;
	int last_disk;          /* whose target may have a write in flight */
};

static void committer_stop(struct mig_receiver *r);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fail(struct mig_receiver *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct mig_receiver *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (!r->err) {
		va_start(ap, fmt);
		vsnprintf(r->errbuf, sizeof(r->errbuf), fmt, ap);
		va_end(ap);
		r->err = err;
	}
	r->fatal = true;
	return r->err;
}

static void emit(struct mig_receiver *r, enum mig_rx_event ev, const struct mig_rx_disk *d)
{
	if (r->o.event)
		r->o.event(r->o.ud, ev, d);
}

int mig_receiver_new(const struct mig_receiver_opts *o, struct mig_receiver **ret)
{
	struct mig_receiver *r;

	if (!o->resolve)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->o = *o;
	r->last_disk = -1;
	r->rbuf = malloc(MIG_STREAM_RECORD_HDR + MIG_STREAM_MAX_BODY);
	if (!r->rbuf) {
		free(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

void mig_receiver_close_targets(struct mig_receiver *r)
{
	committer_stop(r);
	mig_frecv_free(r->fr);
	r->fr = NULL;
	for (size_t i = 0; i < r->ndisks; i++) {
		mig_target_close(r->st[i].target);
		r->st[i].target = NULL;
	}
	r->targets_open = false;
}

void mig_receiver_free(struct mig_receiver *r)
{
	if (!r)
		return;
	committer_stop(r);
	mig_frecv_free(r->fr);
	for (size_t i = 0; i < r->ndisks; i++) {
		free(r->disks[i].layout_json);
		mig_target_close(r->st[i].target);
		free(r->st[i].journal_path);
		free(r->disks[i].source_name);
		free(r->disks[i].sfdisk_script);
		free(r->disks[i].target_path);
	}
	free(r->rbuf);
	free(r->raw);
	free(r);
}

bool mig_receiver_finished(const struct mig_receiver *r) { return r->finished; }
const char *mig_receiver_error(const struct mig_receiver *r) { return r->errbuf; }

size_t mig_receiver_disks(const struct mig_receiver *r, const struct mig_rx_disk **ret)
{
	*ret = r->disks;
	return r->ndisks;
}

void mig_receiver_begin(struct mig_receiver *r)
{
	r->phase = 0;
	r->disk_headers_seen = 0;
	r->stream_pos = 0;
	r->rhave = 0;
}

static char *field_text(const struct mig_field *f)
{
	char *s;

	if (!f || memchr(f->value, '\0', f->len))
		return NULL;
	s = malloc(f->len + 1);
	if (s) {
		memcpy(s, f->value, f->len);
		s[f->len] = '\0';
	}
	return s;
}

static int on_stream_header(struct mig_receiver *r, const struct mig_record *rec)
{
	const struct mig_field *sess = mig_stream_field(rec, MIG_F_SESSION);
	uint64_t ndisks, chunk;

	if (mig_stream_field_u64(mig_stream_field(rec, MIG_F_DISK_COUNT), &ndisks) < 0 ||
	    mig_stream_field_u64(mig_stream_field(rec, MIG_F_CHUNK_SIZE), &chunk) < 0 ||
	    !sess || sess->len != MIG_SESSION_ID_SIZE)
		return fail(r, -EBADMSG, "stream header lacks the disk count, chunk size or session");
	if (ndisks == 0 || ndisks > MIG_MAX_STREAM_DISKS)
		return fail(r, -EBADMSG, "stream announces %" PRIu64 " disks (1 to %d allowed)", ndisks, MIG_MAX_STREAM_DISKS);
	if (chunk < 512 || chunk > MIG_STREAM_MAX_CHUNK || chunk % 512)
		return fail(r, -EBADMSG, "stream chunk size %" PRIu64 " is not a multiple of 512 up to 16 MiB", chunk);
	uint64_t mode = 0;
	const struct mig_field *mf = mig_stream_field(rec, MIG_F_MODE);
	if (mf && mig_stream_field_u64(mf, &mode) < 0)
		return fail(r, -EBADMSG, "stream header: bad mode field");
	if (mode > 1 || (mode == 1) != (rec->version == MIG_STREAM_VERSION_FILE))
		return fail(r, -EBADMSG, "stream header: mode %" PRIu64 " in a version %u stream", mode, rec->version);
	if (r->have_session && (mode == 1) != r->file_mode) {
		snprintf(r->errbuf, sizeof(r->errbuf), "this receiver is serving another copy (mode differs)");
		return -EALREADY;
	}
	r->file_mode = mode == 1;
	if (r->have_session) {
		if (memcmp(r->session, sess->value, MIG_SESSION_ID_SIZE) || ndisks != r->ndisks_expected ||
		    chunk != r->chunk_size) {
			/* Another copy: refuse this connection, keep ours. */
			snprintf(r->errbuf, sizeof(r->errbuf), "this receiver is serving another copy (session differs)");
			return -EALREADY;
		}
	} else {
		memcpy(r->session, sess->value, MIG_SESSION_ID_SIZE);
		r->ndisks_expected = (uint32_t)ndisks;
		r->chunk_size = (uint32_t)chunk;
		r->have_session = true;
	}
	r->phase = 1;
	return 0;
}

static int on_disk_header(struct mig_receiver *r, const struct mig_record *rec)
{
	uint64_t index, size, sector, interval;
	struct mig_rx_disk d = { 0 };

	if (mig_stream_field_u64(mig_stream_field(rec, MIG_F_DISK_INDEX), &index) < 0 ||
	    mig_stream_field_u64(mig_stream_field(rec, MIG_F_DISK_SIZE), &size) < 0 ||
	    mig_stream_field_u64(mig_stream_field(rec, MIG_F_SECTOR_SIZE), &sector) < 0 ||
	    mig_stream_field_u64(mig_stream_field(rec, MIG_F_COMMIT_INTERVAL), &interval) < 0)
		return fail(r, -EBADMSG, "disk header lacks its index, size, sector size or commit interval");
	if (index != r->disk_headers_seen)
		return fail(r, -EBADMSG, "disk header %" PRIu64 " out of order (expected %u)", index, r->disk_headers_seen);
	if (size == 0 || size % 512 || (sector != 512 && sector != 4096) || size % sector)
		return fail(r, -EBADMSG, "disk %" PRIu64 ": size %" PRIu64 " or sector size %" PRIu64 " is invalid", index, size, sector);
	if (interval == 0 || interval % r->chunk_size)
		return fail(r, -EBADMSG, "disk %" PRIu64 ": commit interval is not a multiple of the chunk size", index);

	if (index < r->ndisks) {
		/* A later connection: the same disk as before. */
		const struct mig_rx_disk *o = &r->disks[index];
		if (o->size != size || o->sector != sector || o->commit_interval != interval)
			return fail(r, -EBADMSG, "disk %" PRIu64 " differs from what this copy announced before", index);
	} else {
		d.index = (uint32_t)index;
		d.size = size;
		d.sector = (uint32_t)sector;
		d.commit_interval = interval;
		d.source_name = field_text(mig_stream_field(rec, MIG_F_SOURCE_NAME));
		d.sfdisk_script = field_text(mig_stream_field(rec, MIG_F_SFDISK_SCRIPT));
		if (r->file_mode)
			d.layout_json = field_text(mig_stream_field(rec, MIG_F_LAYOUT));
		if (!d.source_name || (r->file_mode && !d.layout_json)) {
			free(d.sfdisk_script);
			free(d.source_name);
			free(d.layout_json);
			return fail(r, -EBADMSG, "disk %" PRIu64 " has no source name%s", index,
				    r->file_mode ? " or layout" : "");
		}
		r->disks[r->ndisks++] = d;
	}
	r->disk_headers_seen++;
	if (r->disk_headers_seen == r->ndisks_expected)
		r->phase = 2;
	return 0;
}

static char *journal_path_for(struct mig_receiver *r, const struct mig_target *t)
{
	const char *dir = r->o.state_dir ? r->o.state_dir : "/run/migrator";
	const char *base = strrchr(t->path, '/');
	char *p = NULL;

	if (!t->is_blockdev) {
		if (asprintf(&p, "%s.migrator-journal", t->path) < 0)
			return NULL;
		return p;
	}
	if (asprintf(&p, "%s/journal-%s", dir, base ? base + 1 : t->path) < 0)
		return NULL;
	return p;
}

/* Thread-safe: touches nothing the stream's thread changes. */
static int save_journal_at(const struct mig_receiver *r, size_t i, uint64_t offset,
			   const struct mig_digest *digest, bool done)
{
	struct mig_journal j = { 0 };

	memcpy(j.session, r->session, sizeof(j.session));
	j.disk = (uint32_t)i;
	j.chunk_size = r->chunk_size;
	j.disk_size = r->disks[i].size;
	j.next_offset = offset;
	j.digest = *digest;
	j.done = done;
	return mig_journal_save(r->st[i].journal_path, &j);
}

static int save_journal(struct mig_receiver *r, size_t i, bool done)
{
	struct rx_state *s = &r->st[i];
	uint64_t at = done ? r->disks[i].size : s->commit_offset;
	int k = save_journal_at(r, i, at, done ? &s->digest : &s->commit_digest, done);

	if (k < 0)
		return fail(r, k, "cannot save the resume journal %s: %s", s->journal_path, strerror(-k));
	s->synced_offset = at;
	return 0;
}

static void *committer_main(void *arg)
{
	struct mig_receiver *r = arg;
	struct committer *c = &r->cm;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->want && !c->quit)
			pthread_cond_wait(&c->cv, &c->mu);
		if (!c->want)
			break;
		c->want = false;
		c->busy = true;
		size_t i = c->disk;
		uint64_t at = c->offset;
		struct mig_digest dg = c->digest;
		struct rx_state *s = &r->st[i];
		char why[sizeof(c->why)] = "";
		pthread_mutex_unlock(&c->mu);

		int k = mig_target_sync(s->target);
		if (k < 0)
			snprintf(why, sizeof(why), "cannot write or sync %s: %s", s->target->path, strerror(-k));
		else if ((k = save_journal_at(r, i, at, &dg, false)) < 0)
			snprintf(why, sizeof(why), "cannot save the resume journal %s: %s", s->journal_path, strerror(-k));

		pthread_mutex_lock(&c->mu);
		c->busy = false;
		if (k < 0 && !c->err) {
			c->err = k;
			memcpy(c->why, why, sizeof(why));
		} else if (k == 0) {
			s->synced_offset = at;
			c->announce = (int)i + 1;
		}
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Hands the last boundary of disk i to the committer; false when it is busy
 * (or cannot be started): the caller commits at a later boundary. */
static bool commit_async(struct mig_receiver *r, size_t i)
{
	struct committer *c = &r->cm;
	struct rx_state *s = &r->st[i];
	bool taken = false;

	if (!c->started) {
		pthread_mutex_init(&c->mu, NULL);
		pthread_cond_init(&c->cv, NULL);
		if (pthread_create(&c->thr, NULL, committer_main, r) != 0) {
			pthread_mutex_destroy(&c->mu);
			pthread_cond_destroy(&c->cv);
			return false;
		}
		c->started = true;
	}
	pthread_mutex_lock(&c->mu);
	if (!c->busy && !c->want && s->synced_offset != s->commit_offset) {
		c->disk = i;
		c->offset = s->commit_offset;
		c->digest = s->commit_digest;
		c->want = taken = true;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return taken;
}

/* Waits until the committer is idle, then reports what it left: its error
 * (which ends the session) or a commit to announce. */
static int commit_settle(struct mig_receiver *r, bool wait)
{
	struct committer *c = &r->cm;
	int err, announce;

	if (!c->started)
		return 0;
	pthread_mutex_lock(&c->mu);
	while (wait && (c->busy || c->want))
		pthread_cond_wait(&c->cv, &c->mu);
	err = c->err;
	announce = c->announce;
	c->announce = 0;
	pthread_mutex_unlock(&c->mu);
	if (err < 0)
		return fail(r, err, "%s", c->why);
	if (announce)
		emit(r, MIG_RX_COMMIT, &r->disks[announce - 1]);
	return 0;
}

static void committer_stop(struct mig_receiver *r)
{
	struct committer *c = &r->cm;

	if (!c->started)
		return;
	pthread_mutex_lock(&c->mu);
	c->quit = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thr, NULL);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	c->started = c->quit = false;
}

/* Sync the target and record the last boundary as the resume point, now. */
static int commit(struct mig_receiver *r, size_t i)
{
	struct rx_state *s = &r->st[i];
	int k;

	if ((k = commit_settle(r, true)) < 0)
		return k;
	if (!s->target || r->disks[i].done || s->synced_offset == s->commit_offset)
		return 0;
	k = mig_target_sync(s->target);
	if (k < 0)
		return fail(r, k, "cannot write or sync %s: %s", s->target->path, strerror(-k));
	k = save_journal(r, i, false);
	if (k == 0)
		emit(r, MIG_RX_COMMIT, &r->disks[i]);
	return k;
}

/* File mode: resolve every target and plan it (writes nothing). */
static int plan_targets(struct mig_receiver *r)
{
	struct mig_frecv_opts fo = { .chunk_size = r->chunk_size, .allow_overwrite = r->o.allow_overwrite,
				     .skip_unknown = r->o.skip_unknown, .forbidden = r->o.forbidden,
				     .nforbidden = r->o.nforbidden };
	char why[1024];
	int k;

	if ((k = mig_frecv_new(&fo, &r->fr)) < 0)
		return fail(r, k, "out of memory");
	for (size_t i = 0; i < r->ndisks; i++) {
		struct mig_rx_disk *d = &r->disks[i];
		why[0] = '\0';
		k = r->o.resolve(r->o.ud, d, &d->target_path, why, sizeof(why));
		if (k < 0)
			return fail(r, k, "disk %zu (%s): %s", i, d->source_name, why[0] ? why : strerror(-k));
		for (size_t o = 0; o < i; o++)
			if (!strcmp(r->disks[o].target_path, d->target_path))
				return fail(r, -EINVAL, "disks %zu and %zu would both be written to %s", o, i, d->target_path);
		k = mig_frecv_add_disk(r->fr, (uint32_t)i, d->layout_json, strlen(d->layout_json), d->target_path,
				       why, sizeof(why));
		if (k < 0)
			return fail(r, k, "%s", why);
	}
	r->targets_open = true;
	emit(r, MIG_RX_TARGETS_READY, NULL);
	return 0;
}

int mig_receiver_plans_json(const struct mig_receiver *r, struct json_writer *w, const char *key)
{
	if (!r->fr)
		return -ENOENT;
	return mig_frecv_plans_json(r->fr, w, key);
}

static int on_file_record(struct mig_receiver *r, const struct mig_record *rec)
{
	char why[1200];
	int k = 0;

	if (!r->targets_open && (k = plan_targets(r)) < 0)
		return k;
	if (!r->applied) {
		/* the first data record: now the targets are written */
		if ((k = mig_frecv_apply(r->fr, why, sizeof(why))) < 0)
			return fail(r, k, "%s", why);
		r->applied = true;
	}
	switch (rec->type) {
	case MIG_REC_FCHUNK:
		k = mig_frecv_chunk(r->fr, &rec->fchunk, why, sizeof(why));
		break;
	case MIG_REC_FTRAILER:
		k = mig_frecv_trailer(r->fr, &rec->ftrailer, why, sizeof(why));
		break;
	case MIG_REC_END:
		k = mig_frecv_finish(r->fr, why, sizeof(why));
		if (k == 0) {
			for (size_t i = 0; i < r->ndisks; i++)
				r->disks[i].done = true;
			r->phase = 3;
		}
		break;
	default:
		return fail(r, -EBADMSG, "unexpected record type %u at stream offset %" PRIu64, rec->type, r->stream_pos);
	}
	if (k < 0)
		return fail(r, k, "%s (stream offset %" PRIu64 ")", why, r->stream_pos);
	struct mig_frecv_stats st;
	mig_frecv_stats(r->fr, &st);
	if (st.disk < r->ndisks) {
		struct mig_rx_disk *d = &r->disks[st.disk];
		d->written = st.data_bytes;
		d->next_offset = st.archive_bytes;
		d->entries = st.entries;
		d->files = st.files;
		emit(r, rec->type == MIG_REC_END ? MIG_RX_DISK_DONE : MIG_RX_PROGRESS, d);
	}
	return 0;
}

static int open_targets(struct mig_receiver *r)
{
	char why[512];
	int k;

	if (r->file_mode)
		return plan_targets(r);
	for (size_t i = 0; i < r->ndisks; i++) {
		struct mig_rx_disk *d = &r->disks[i];
		struct rx_state *s = &r->st[i];
		struct mig_target_opts to = {
			.need_size = d->size, .allow_overwrite = r->o.allow_overwrite,
			.forbidden = r->o.forbidden, .nforbidden = r->o.nforbidden,
		};
		struct mig_journal j;
		struct mig_target probe = { 0 };
		struct stat st;

		why[0] = '\0';
		k = r->o.resolve(r->o.ud, d, &d->target_path, why, sizeof(why));
		if (k < 0)
			return fail(r, k, "disk %zu (%s): %s", i, d->source_name, why[0] ? why : strerror(-k));
		for (size_t o = 0; o < i; o++)
			if (!strcmp(r->disks[o].target_path, d->target_path))
				return fail(r, -EINVAL, "disks %zu and %zu would both be written to %s", o, i, d->target_path);

		/* Our own journal for this session: resume, and the partial copy
		 * on the target does not count as foreign signatures. */
		probe.path = d->target_path;
		probe.is_blockdev = stat(d->target_path, &st) == 0 && S_ISBLK(st.st_mode);
		s->journal_path = journal_path_for(r, &probe);
		if (!s->journal_path)
			return fail(r, -ENOMEM, "out of memory");
		mig_digest_init(&s->digest);
		if (mig_journal_load(s->journal_path, &j) == 0 &&
		    !memcmp(j.session, r->session, sizeof(j.session)) && j.disk == i &&
		    j.disk_size == d->size && j.chunk_size == r->chunk_size &&
		    j.next_offset <= d->size && (j.done || j.next_offset % d->commit_interval == 0)) {
			to.resuming = true;
			d->resumed = true;
			d->resumed_at = d->next_offset = j.next_offset;
			d->done = j.done;
			s->digest = j.digest;
		}
		s->commit_digest = s->digest;
		s->commit_offset = s->synced_offset = d->next_offset;

		k = mig_target_open(d->target_path, &to, &s->target, why, sizeof(why));
		if (k < 0) {
			s->target = NULL;
			return fail(r, k, "%s", why);
		}
	}
	r->targets_open = true;
	r->last_commit_ns = now_ns();
	emit(r, MIG_RX_TARGETS_READY, NULL);
	return 0;
}

static int on_chunk(struct mig_receiver *r, const struct mig_chunk *c)
{
	struct mig_rx_disk *d;
	struct rx_state *s;
	int k;

	if (c->disk >= r->ndisks)
		return fail(r, -EBADMSG, "chunk for disk %u, which the stream did not announce (stream offset %" PRIu64 ")",
			    c->disk, r->stream_pos);
	d = &r->disks[c->disk];
	s = &r->st[c->disk];
	if (d->done)
		return fail(r, -EBADMSG, "chunk for disk %u, which is already complete", c->disk);
	if (c->offset != d->next_offset)
		return fail(r, -EBADMSG, "disk %u: chunk at offset %" PRIu64 " where %" PRIu64 " was expected (stream offset %" PRIu64 ")",
			    c->disk, c->offset, d->next_offset, r->stream_pos);
	if (c->length > r->chunk_size || c->length > d->size - c->offset)
		return fail(r, -EBADMSG, "disk %u: chunk at offset %" PRIu64 " runs past the chunk size or the disk's end",
			    c->disk, c->offset);

	switch (c->kind) {
	case MIG_CHUNK_DATA: {
		uint8_t sha[32], *raw;
		if (!r->raw) {
			if (posix_memalign((void **)&r->raw, 4096, 2 * (size_t)r->chunk_size))
				return fail(r, -ENOMEM, "out of memory");
			r->rawcap = r->chunk_size;
		}
		/* The other buffer may still be in flight on another disk's target. */
		if (r->last_disk >= 0 && (uint32_t)r->last_disk != c->disk && r->st[r->last_disk].target)
			(void)mig_target_flush(r->st[r->last_disk].target, NULL);
		r->last_disk = (int)c->disk;
		raw = r->raw + (size_t)r->raw_idx * r->chunk_size;
		k = mig_stream_chunk_restore(c, raw, r->rawcap);
		if (k < 0)
			return fail(r, -EBADMSG, "disk %u: the chunk at offset %" PRIu64 " (stream offset %" PRIu64
				    ") is corrupt: its data does not match its SHA-256; nothing of it was written",
				    c->disk, c->offset, r->stream_pos);
		/* Written by the target's writer thread while the next chunk is
		 * decoded into the other buffer. */
		k = mig_target_write_async(s->target, raw, c->length, c->offset);
		if (k < 0) {
			uint64_t at = c->offset;
			(void)mig_target_flush(s->target, &at);
			return fail(r, k, "cannot write %s at offset %" PRIu64 ": %s", s->target->path, at, strerror(-k));
		}
		r->raw_idx ^= 1;
		memcpy(sha, c->sha256, 32);
		mig_digest_add(&s->digest, c->length, sha);
		d->written += c->length;
		break;
	}
	case MIG_CHUNK_ZERO:
	case MIG_CHUNK_UNUSED:
		k = c->kind == MIG_CHUNK_ZERO ? mig_target_zero(s->target, c->offset, c->length)
					      : mig_target_discard(s->target, c->offset, c->length);
		if (k < 0)
			return fail(r, k, "cannot zero %s at offset %" PRIu64 ": %s", s->target->path, c->offset, strerror(-k));
		mig_digest_add_zero(&s->digest, c->length);
		break;
	}
	d->next_offset += c->length;
	if (d->next_offset % d->commit_interval == 0 || d->next_offset == d->size) {
		s->commit_offset = d->next_offset;
		s->commit_digest = s->digest;
		if (now_ns() - r->last_commit_ns >= COMMIT_EVERY_NS && commit_async(r, c->disk))
			r->last_commit_ns = now_ns();
	}
	if ((k = commit_settle(r, false)) < 0)
		return k;
	emit(r, MIG_RX_PROGRESS, d);
	return 0;
}

static int on_trailer(struct mig_receiver *r, const struct mig_trailer *t)
{
	struct mig_rx_disk *d;
	struct rx_state *s;
	uint8_t sha[32];
	int k;

	if (t->disk >= r->ndisks || r->disks[t->disk].done)
		return fail(r, -EBADMSG, "trailer for disk %u, which is unknown or complete", t->disk);
	d = &r->disks[t->disk];
	s = &r->st[t->disk];
	mig_digest_final(&s->digest, sha);
	if (d->next_offset != d->size || t->bytes != d->size || t->chunks != s->digest.chunks)
		return fail(r, -EBADMSG, "disk %u ended after %" PRIu64 " of %" PRIu64 " bytes (trailer says %" PRIu64 " bytes, %" PRIu64 " chunks; received %" PRIu64 ")",
			    t->disk, d->next_offset, d->size, t->bytes, t->chunks, s->digest.chunks);
	if (memcmp(sha, t->sha256, 32))
		return fail(r, -EBADMSG, "disk %u: the disk digest differs from the source's: the copy is not what was read", t->disk);
	if ((k = commit_settle(r, true)) < 0)
		return k;
	k = mig_target_sync(s->target);
	if (k < 0)
		return fail(r, k, "cannot write or sync %s: %s", s->target->path, strerror(-k));
	k = save_journal(r, t->disk, true);
	if (k < 0)
		return k;
	d->done = true;
	emit(r, MIG_RX_DISK_DONE, d);
	return 0;
}

static int on_record(struct mig_receiver *r, const struct mig_record *rec)
{
	int k;

	if (r->phase == 3)
		return fail(r, -EBADMSG, "data after the end of the stream (stream offset %" PRIu64 ")", r->stream_pos);
	if (r->phase == 0) {
		if (rec->type != MIG_REC_STREAM)
			return fail(r, -EBADMSG, "the stream does not start with a stream header");
		return on_stream_header(r, rec);
	}
	if (r->phase == 1) {
		if (rec->type != MIG_REC_DISK)
			return fail(r, -EBADMSG, "expected %u disk headers, got %u", r->ndisks_expected, r->disk_headers_seen);
		return on_disk_header(r, rec);
	}
	if (r->file_mode)
		return on_file_record(r, rec);
	switch (rec->type) {
	case MIG_REC_CHUNK:
	case MIG_REC_TRAILER:
		if (!r->targets_open && (k = open_targets(r)) < 0)
			return k;
		return rec->type == MIG_REC_CHUNK ? on_chunk(r, &rec->chunk) : on_trailer(r, &rec->trailer);
	case MIG_REC_END:
		r->phase = 3;
		return 0;
	default:
		return fail(r, -EBADMSG, "unexpected record type %u at stream offset %" PRIu64, rec->type, r->stream_pos);
	}
}

static int parse_error(struct mig_receiver *r, ssize_t n)
{
	if (n == -EPROTONOSUPPORT)
		return fail(r, -EPROTONOSUPPORT, "stream format version not supported (stream offset %" PRIu64 ")", r->stream_pos);
	return fail(r, -EBADMSG, "corrupt record at stream offset %" PRIu64 " (bad magic, length or checksum)", r->stream_pos);
}

int mig_receiver_feed(struct mig_receiver *r, const uint8_t *buf, size_t len)
{
	struct mig_record rec;
	ssize_t n;
	int k;

	if (r->fatal)
		return r->err;
	while (len > 0) {
		if (r->rhave == 0) {
			/* Whole records straight from the caller's buffer. */
			n = mig_stream_parse(buf, len, &rec);
			if (n < 0)
				return parse_error(r, n);
			if (n > 0) {
				k = on_record(r, &rec);
				if (k < 0)
					return k;
				r->stream_pos += (uint64_t)n;
				buf += n;
				len -= (size_t)n;
				continue;
			}
		}
		/* Part of a record: gather it. The header says how long it is. */
		size_t need = MIG_STREAM_RECORD_HDR;
		if (r->rhave >= MIG_STREAM_RECORD_HDR) {
			uint32_t body = (uint32_t)r->rbuf[8] | (uint32_t)r->rbuf[9] << 8 |
					(uint32_t)r->rbuf[10] << 16 | (uint32_t)r->rbuf[11] << 24;
			if (body > MIG_STREAM_MAX_BODY)
				return parse_error(r, -EBADMSG);
			need += body;
		}
		size_t take = need - r->rhave < len ? need - r->rhave : len;
		memcpy(r->rbuf + r->rhave, buf, take);
		r->rhave += take;
		buf += take;
		len -= take;
		if (r->rhave < need)
			continue;
		if (need == MIG_STREAM_RECORD_HDR) {
			/* A header alone is checked once the body length is known. */
			n = mig_stream_parse(r->rbuf, r->rhave, &rec);
			if (n < 0)
				return parse_error(r, n);
			if (n == 0)
				continue;
		} else {
			n = mig_stream_parse(r->rbuf, r->rhave, &rec);
			if (n <= 0)
				return parse_error(r, n < 0 ? n : -EBADMSG);
		}
		k = on_record(r, &rec);
		if (k < 0)
			return k;
		r->stream_pos += (uint64_t)n;
		r->rhave = 0;
	}
	return 0;
}

int mig_receiver_end(struct mig_receiver *r, bool complete)
{
	int k = 0;

	if (r->phase == 3 && !r->fatal) {
		for (size_t i = 0; i < r->ndisks; i++)
			if (!r->disks[i].done)
				return fail(r, -EBADMSG, "the stream ended but disk %zu is incomplete", i);
		r->finished = true;
		return 0;
	}
	if (r->file_mode) {
		if (r->fatal)
			return r->err;
		/* The partition in flight starts over on the next connection. */
		if (r->fr)
			mig_frecv_abort(r->fr);
		if (complete)
			return fail(r, -EBADMSG, "the stream is truncated: it ends without its end record (stream offset %" PRIu64 ")",
				    r->stream_pos + r->rhave);
		return -EPIPE;
	}
	/* Cut short: make the last boundary durable and resume from there. */
	for (size_t i = 0; i < r->ndisks && r->targets_open; i++) {
		struct rx_state *s = &r->st[i];
		if (r->disks[i].done)
			continue;
		if (!r->fatal && (k = commit(r, i)) < 0)
			break;
		r->disks[i].next_offset = s->commit_offset;
		s->digest = s->commit_digest;
	}
	if (r->fatal)
		return r->err;
	if (complete)
		return fail(r, -EBADMSG, "the stream is truncated: it ends without its end record (stream offset %" PRIu64 ")",
			    r->stream_pos + r->rhave);
	return k < 0 ? k : -EPIPE;
}

int mig_receiver_plan(struct mig_receiver *r, const uint8_t *buf, size_t len, char **ret_text)
{
	char *text = NULL;
	size_t tlen = 0;
	FILE *f;
	int k;

	if (r->fatal)
		return r->err;
	mig_receiver_begin(r);
	while (len > 0 && r->phase < 2) {
		struct mig_record rec;
		ssize_t n = mig_stream_parse(buf, len, &rec);
		if (n <= 0)
			return parse_error(r, n < 0 ? n : -EBADMSG);
		if ((k = on_record(r, &rec)) < 0)
			return k;
		buf += n;
		len -= (size_t)n;
		r->stream_pos += (uint64_t)n;
	}
	if (r->phase != 2)
		return fail(r, -EBADMSG, "the plan lacks disk headers");
	if (!r->targets_open && (k = open_targets(r)) < 0)
		return k;
	f = open_memstream(&text, &tlen);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < r->ndisks; i++) {
		if (r->file_mode) {
			/* next: the data partitions complete (the sender resends the next one whole) */
			bool all;
			uint32_t n = mig_frecv_parts_done(r->fr, (uint32_t)i, &all);
			fprintf(f, "disk %zu next %u done %d target %s\n", i, n, r->applied && all,
				r->disks[i].target_path);
			continue;
		}
		fprintf(f, "disk %zu next %" PRIu64 " done %d target %s\n", i, r->disks[i].next_offset,
			r->disks[i].done, r->disks[i].target_path);
	}
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	mig_receiver_begin(r);
	*ret_text = text;
	return 0;
}
