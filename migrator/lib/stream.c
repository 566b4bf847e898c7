/* stream.c — see stream.h and docs/stream-format.md. */
#include "stream.h"
#include "bootsect.h"   /* mig_le32, mig_le64 */
#include "gpt.h"        /* mig_crc32 */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <nettle/sha2.h>
#include <string.h>
#include <sys/types.h>
#include <zstd.h>

/* One zstd context of each kind per thread, kept: creating one per chunk
 * costs an mmap and munmap of its window every time. Freed at thread exit. */
static pthread_key_t cctx_key, dctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void free_cctx(void *p) { ZSTD_freeCCtx(p); }
static void free_dctx(void *p) { ZSTD_freeDCtx(p); }
static void make_keys(void)
{
	(void)pthread_key_create(&cctx_key, free_cctx);
	(void)pthread_key_create(&dctx_key, free_dctx);
}

static ZSTD_CCtx *thread_cctx(void)
{
	ZSTD_CCtx *c;

	pthread_once(&ctx_once, make_keys);
	c = pthread_getspecific(cctx_key);
	if (!c && (c = ZSTD_createCCtx()) && pthread_setspecific(cctx_key, c) != 0) {
		ZSTD_freeCCtx(c);
		c = NULL;
	}
	return c;
}

static ZSTD_DCtx *thread_dctx(void)
{
	ZSTD_DCtx *d;

	pthread_once(&ctx_once, make_keys);
	d = pthread_getspecific(dctx_key);
	if (!d && (d = ZSTD_createDCtx()) && pthread_setspecific(dctx_key, d) != 0) {
		ZSTD_freeDCtx(d);
		d = NULL;
	}
	return d;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

void mig_sha256(const void *buf, size_t len, uint8_t out[32])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, len, buf);
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

/* The CRC covers the first 12 header bytes and meta_len bytes of body. */
static uint32_t record_crc(const uint8_t *rec, size_t meta_len)
{
	return mig_crc32(mig_crc32(0, rec, 12), rec + MIG_STREAM_RECORD_HDR, meta_len);
}

/* Writes the record header for a body already at out+16. */
static ssize_t finish(uint8_t *out, uint8_t type, uint32_t body_len, size_t meta_len)
{
	memcpy(out, MIG_STREAM_MAGIC, 4);
	out[4] = type;
	out[5] = MIG_STREAM_VERSION;
	put16(out + 6, 0);
	put32(out + 8, body_len);
	put32(out + 12, record_crc(out, meta_len));
	return MIG_STREAM_RECORD_HDR + (ssize_t)body_len;
}

static bool valid_length(uint64_t offset, uint32_t length)
{
	return length >= 512 && length <= MIG_STREAM_MAX_CHUNK && length % 512 == 0 &&
	       offset % 512 == 0 && offset <= UINT64_MAX - length;
}

size_t mig_stream_chunk_bound(uint32_t length)
{
	return MIG_STREAM_RECORD_HDR + MIG_STREAM_CHUNK_FIXED + ZSTD_compressBound(length);
}

static void put_chunk(uint8_t *b, uint32_t disk, uint32_t kind, uint64_t offset,
		      uint32_t length, uint32_t payload_len, const uint8_t *sha)
{
	put32(b, disk);
	put32(b + 4, kind);
	put64(b + 8, offset);
	put32(b + 16, length);
	put32(b + 20, payload_len);
	if (sha)
		memcpy(b + 24, sha, 32);
	else
		memset(b + 24, 0, 32);
}

ssize_t mig_stream_encode_data(uint8_t *out, size_t cap, uint32_t disk, uint64_t offset,
			       const uint8_t *raw, uint32_t length, int level)
{
	uint8_t sha[32];
	size_t fixed = MIG_STREAM_RECORD_HDR + MIG_STREAM_CHUNK_FIXED, z;

	if (!valid_length(offset, length))
		return -EINVAL;
	/* Demand the worst case up front, so a zstd error is a real failure. */
	if (cap < mig_stream_chunk_bound(length))
		return -ENOBUFS;
	ZSTD_CCtx *cctx = thread_cctx();
	if (!cctx)
		return -ENOMEM;
	z = ZSTD_compressCCtx(cctx, out + fixed, cap - fixed, raw, length, level);
	if (ZSTD_isError(z))
		return -EIO;
	if (z + MIG_STREAM_CHUNK_FIXED > MIG_STREAM_MAX_BODY)
		return -EINVAL;   /* cannot happen for length <= 16 MiB, but never emit it */
	mig_sha256(raw, length, sha);
	put_chunk(out + MIG_STREAM_RECORD_HDR, disk, MIG_CHUNK_DATA, offset, length, (uint32_t)z, sha);
	return finish(out, MIG_REC_CHUNK, (uint32_t)(MIG_STREAM_CHUNK_FIXED + z), MIG_STREAM_CHUNK_FIXED);
}

ssize_t mig_stream_encode_empty(uint8_t *out, size_t cap, uint32_t disk, uint32_t kind,
				uint64_t offset, uint32_t length)
{
	if (!valid_length(offset, length) || (kind != MIG_CHUNK_ZERO && kind != MIG_CHUNK_UNUSED))
		return -EINVAL;
	if (cap < MIG_STREAM_RECORD_HDR + MIG_STREAM_CHUNK_FIXED)
		return -ENOBUFS;
	put_chunk(out + MIG_STREAM_RECORD_HDR, disk, kind, offset, length, 0, NULL);
	return finish(out, MIG_REC_CHUNK, MIG_STREAM_CHUNK_FIXED, MIG_STREAM_CHUNK_FIXED);
}

ssize_t mig_stream_encode_trailer(uint8_t *out, size_t cap, const struct mig_trailer *t)
{
	uint8_t *b = out + MIG_STREAM_RECORD_HDR;

	if (cap < MIG_STREAM_RECORD_HDR + MIG_STREAM_TRAILER_SIZE)
		return -ENOBUFS;
	put32(b, t->disk);
	put32(b + 4, 0);
	put64(b + 8, t->bytes);
	put64(b + 16, t->chunks);
	memcpy(b + 24, t->sha256, 32);
	put32(b + 56, 0);
	return finish(out, MIG_REC_TRAILER, MIG_STREAM_TRAILER_SIZE, MIG_STREAM_TRAILER_SIZE);
}

ssize_t mig_stream_encode_end(uint8_t *out, size_t cap)
{
	if (cap < MIG_STREAM_RECORD_HDR)
		return -ENOBUFS;
	return finish(out, MIG_REC_END, 0, 0);
}

ssize_t mig_stream_encode_fields(uint8_t *out, size_t cap, uint8_t type,
				 const struct mig_field *fields, size_t n)
{
	size_t pos = MIG_STREAM_RECORD_HDR;

	if ((type != MIG_REC_STREAM && type != MIG_REC_DISK) || n > MIG_STREAM_MAX_FIELDS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (fields[i].len > MIG_STREAM_MAX_FIELD)
			return -EINVAL;
		if (cap < pos + 8 + fields[i].len || pos + 8 + fields[i].len - MIG_STREAM_RECORD_HDR > MIG_STREAM_MAX_BODY)
			return -ENOBUFS;
		put16(out + pos, fields[i].tag);
		put16(out + pos + 2, 0);
		put32(out + pos + 4, fields[i].len);
		if (fields[i].len)
			memcpy(out + pos + 8, fields[i].value, fields[i].len);
		pos += 8 + fields[i].len;
	}
	if (cap < MIG_STREAM_RECORD_HDR)
		return -ENOBUFS;
	uint32_t body = (uint32_t)(pos - MIG_STREAM_RECORD_HDR);
	return finish(out, type, body, body);
}

static int parse_fields(const uint8_t *b, uint32_t len, struct mig_record *r)
{
	uint32_t pos = 0;

	r->fields.n = 0;
	while (pos < len) {
		if (len - pos < 8 || r->fields.n >= MIG_STREAM_MAX_FIELDS || le16(b + pos + 2) != 0)
			return -EBADMSG;
		uint32_t flen = mig_le32(b + pos + 4);
		if (flen > MIG_STREAM_MAX_FIELD || flen > len - pos - 8)
			return -EBADMSG;
		r->fields.v[r->fields.n++] = (struct mig_field){ le16(b + pos), flen, b + pos + 8 };
		pos += 8 + flen;
	}
	return 0;
}

ssize_t mig_stream_parse(const uint8_t *buf, size_t len, struct mig_record *ret)
{
	struct mig_record r = { 0 };
	size_t meta;

	if (len < MIG_STREAM_RECORD_HDR)
		return 0;
	if (memcmp(buf, MIG_STREAM_MAGIC, 4) != 0 || le16(buf + 6) != 0)
		return -EBADMSG;
	if (buf[5] != MIG_STREAM_VERSION && buf[5] != MIG_STREAM_VERSION_FILE)
		return -EPROTONOSUPPORT;
	r.version = buf[5];
	r.type = buf[4];
	r.body_len = mig_le32(buf + 8);
	if (r.type < MIG_REC_STREAM || r.type > MIG_REC_FTRAILER || r.body_len > MIG_STREAM_MAX_BODY)
		return -EBADMSG;
	if (r.version == MIG_STREAM_VERSION ? r.type > MIG_REC_END
	    : r.type == MIG_REC_CHUNK || r.type == MIG_REC_TRAILER)
		return -EBADMSG;
	if (len - MIG_STREAM_RECORD_HDR < r.body_len)
		return 0;
	r.body = buf + MIG_STREAM_RECORD_HDR;
	meta = r.type == MIG_REC_CHUNK ? MIG_STREAM_CHUNK_FIXED
	     : r.type == MIG_REC_FCHUNK ? MIG_STREAM_FCHUNK_FIXED : r.body_len;
	if (meta > r.body_len)
		return -EBADMSG;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* (fuzz builds skip only this, so the fuzzer reaches the bodies) */
	if (record_crc(buf, meta) != mig_le32(buf + 12))
		return -EBADMSG;
#endif

	switch (r.type) {
	case MIG_REC_STREAM:
	case MIG_REC_DISK:
		if (parse_fields(r.body, r.body_len, &r) < 0)
			return -EBADMSG;
		break;
	case MIG_REC_CHUNK: {
		struct mig_chunk *c = &r.chunk;
		const uint8_t *b = r.body;

		c->disk = mig_le32(b);
		c->kind = mig_le32(b + 4);
		c->offset = mig_le64(b + 8);
		c->length = mig_le32(b + 16);
		c->payload_len = mig_le32(b + 20);
		memcpy(c->sha256, b + 24, 32);
		c->payload = b + MIG_STREAM_CHUNK_FIXED;
		if (!valid_length(c->offset, c->length) || c->kind > MIG_CHUNK_UNUSED ||
		    c->payload_len != r.body_len - MIG_STREAM_CHUNK_FIXED ||
		    (c->kind == MIG_CHUNK_DATA) != (c->payload_len > 0))
			return -EBADMSG;
		break;
	}
	case MIG_REC_TRAILER:
		if (r.body_len != MIG_STREAM_TRAILER_SIZE || mig_le32(r.body + 4) || mig_le32(r.body + 56))
			return -EBADMSG;
		r.trailer.disk = mig_le32(r.body);
		r.trailer.bytes = mig_le64(r.body + 8);
		r.trailer.chunks = mig_le64(r.body + 16);
		memcpy(r.trailer.sha256, r.body + 24, 32);
		break;
	case MIG_REC_END:
		if (r.body_len != 0)
			return -EBADMSG;
		break;
	case MIG_REC_FCHUNK: {
		struct mig_fchunk *c = &r.fchunk;
		const uint8_t *b = r.body;

		c->disk = mig_le32(b);
		c->partno = mig_le32(b + 4);
		c->kind = mig_le32(b + 8);
		c->offset = mig_le64(b + 16);
		c->length = mig_le32(b + 24);
		c->payload_len = mig_le32(b + 28);
		memcpy(c->sha256, b + 32, 32);
		c->payload = b + MIG_STREAM_FCHUNK_FIXED;
		if (mig_le32(b + 12) || c->kind > MIG_FCHUNK_RAW || c->length == 0 ||
		    c->length > MIG_STREAM_MAX_CHUNK || (c->kind == MIG_FCHUNK_RAW && c->length % 512) ||
		    c->offset > UINT64_MAX - c->length || c->payload_len == 0 ||
		    c->payload_len != r.body_len - MIG_STREAM_FCHUNK_FIXED)
			return -EBADMSG;
		break;
	}
	case MIG_REC_FTRAILER:
		if (r.body_len != MIG_STREAM_FTRAILER_SIZE || mig_le32(r.body + 64) || mig_le32(r.body + 68))
			return -EBADMSG;
		r.ftrailer.disk = mig_le32(r.body);
		r.ftrailer.partno = mig_le32(r.body + 4);
		r.ftrailer.bytes = mig_le64(r.body + 8);
		r.ftrailer.chunks = mig_le64(r.body + 16);
		memcpy(r.ftrailer.sha256, r.body + 24, 32);
		r.ftrailer.entries = mig_le64(r.body + 56);
		break;
	}
	*ret = r;
	return MIG_STREAM_RECORD_HDR + (ssize_t)r.body_len;
}

ssize_t mig_stream_encode_fchunk(uint8_t *out, size_t cap, uint32_t disk, uint32_t partno,
				 uint32_t kind, uint64_t offset, const uint8_t *raw,
				 uint32_t length, int level)
{
	size_t fixed = MIG_STREAM_RECORD_HDR + MIG_STREAM_FCHUNK_FIXED, z;
	uint8_t *b = out + MIG_STREAM_RECORD_HDR;

	if (length == 0 || length > MIG_STREAM_MAX_CHUNK || kind > MIG_FCHUNK_RAW ||
	    (kind == MIG_FCHUNK_RAW && length % 512) || offset > UINT64_MAX - length)
		return -EINVAL;
	if (cap < mig_stream_chunk_bound(length) + (MIG_STREAM_FCHUNK_FIXED - MIG_STREAM_CHUNK_FIXED))
		return -ENOBUFS;
	ZSTD_CCtx *cctx = thread_cctx();
	if (!cctx)
		return -ENOMEM;
	z = ZSTD_compressCCtx(cctx, out + fixed, cap - fixed, raw, length, level);
	if (ZSTD_isError(z))
		return -EIO;
	if (z + MIG_STREAM_FCHUNK_FIXED > MIG_STREAM_MAX_BODY)
		return -EINVAL;
	put32(b, disk);
	put32(b + 4, partno);
	put32(b + 8, kind);
	put32(b + 12, 0);
	put64(b + 16, offset);
	put32(b + 24, length);
	put32(b + 28, (uint32_t)z);
	mig_sha256(raw, length, b + 32);
	finish(out, MIG_REC_FCHUNK, (uint32_t)(MIG_STREAM_FCHUNK_FIXED + z), MIG_STREAM_FCHUNK_FIXED);
	mig_stream_set_version(out, MIG_STREAM_VERSION_FILE);
	return (ssize_t)(fixed + z);
}

ssize_t mig_stream_encode_ftrailer(uint8_t *out, size_t cap, const struct mig_ftrailer *t)
{
	uint8_t *b = out + MIG_STREAM_RECORD_HDR;

	if (cap < MIG_STREAM_RECORD_HDR + MIG_STREAM_FTRAILER_SIZE)
		return -ENOBUFS;
	put32(b, t->disk);
	put32(b + 4, t->partno);
	put64(b + 8, t->bytes);
	put64(b + 16, t->chunks);
	memcpy(b + 24, t->sha256, 32);
	put64(b + 56, t->entries);
	put64(b + 64, 0);
	finish(out, MIG_REC_FTRAILER, MIG_STREAM_FTRAILER_SIZE, MIG_STREAM_FTRAILER_SIZE);
	mig_stream_set_version(out, MIG_STREAM_VERSION_FILE);
	return MIG_STREAM_RECORD_HDR + MIG_STREAM_FTRAILER_SIZE;
}

void mig_stream_set_version(uint8_t *rec, uint8_t version)
{
	uint32_t meta = mig_le32(rec + 8);

	if (rec[4] == MIG_REC_CHUNK)
		meta = MIG_STREAM_CHUNK_FIXED;
	else if (rec[4] == MIG_REC_FCHUNK)
		meta = MIG_STREAM_FCHUNK_FIXED;
	rec[5] = version;
	put32(rec + 12, record_crc(rec, meta));
}

int mig_stream_fchunk_restore(const struct mig_fchunk *c, uint8_t *raw, size_t cap)
{
	struct mig_chunk k = { .kind = MIG_CHUNK_DATA, .length = c->length, .payload_len = c->payload_len,
			       .payload = c->payload };

	memcpy(k.sha256, c->sha256, 32);
	return mig_stream_chunk_restore(&k, raw, cap);
}

int mig_stream_chunk_restore(const struct mig_chunk *c, uint8_t *raw, size_t cap)
{
	uint8_t sha[32];

	if (c->kind != MIG_CHUNK_DATA || cap < c->length)
		return -EINVAL;
	/* The frame must say how large it is and say exactly c->length. */
	unsigned long long content = ZSTD_getFrameContentSize(c->payload, c->payload_len);
	if (content != c->length)
		return -EBADMSG;
	ZSTD_DCtx *dctx = thread_dctx();
	if (!dctx)
		return -ENOMEM;
	size_t n = ZSTD_decompressDCtx(dctx, raw, c->length, c->payload, c->payload_len);
	if (ZSTD_isError(n) || n != c->length)
		return -EBADMSG;
	mig_sha256(raw, c->length, sha);
	return memcmp(sha, c->sha256, 32) == 0 ? 0 : -EBADMSG;
}

const struct mig_field *mig_stream_field(const struct mig_record *r, uint16_t tag)
{
	if (r->type != MIG_REC_STREAM && r->type != MIG_REC_DISK)
		return NULL;
	for (size_t i = 0; i < r->fields.n; i++)
		if (r->fields.v[i].tag == tag)
			return &r->fields.v[i];
	return NULL;
}

int mig_stream_field_u64(const struct mig_field *f, uint64_t *ret)
{
	if (!f)
		return -EBADMSG;
	if (f->len == 4)
		*ret = mig_le32(f->value);
	else if (f->len == 8)
		*ret = mig_le64(f->value);
	else
		return -EBADMSG;
	return 0;
}
