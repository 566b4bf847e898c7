/* Unit tests of the stream format (docs/stream-format.md). */
#include "tap.h"
#include "stream.h"

#include <errno.h>
#include <stdlib.h>

static uint8_t raw[65536], back[65536];

static void fill_raw(void)
{
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(raw); i++) {
		x = x * 1103515245u + 12345u;
		raw[i] = i < sizeof(raw) / 2 ? (uint8_t)(x >> 16) : 0;   /* half random, half zeros */
	}
}

TEST(data_chunk_round_trip)
{
	size_t cap = mig_stream_chunk_bound(sizeof(raw));
	uint8_t *rec = malloc(cap);
	struct mig_record r;

	fill_raw();
	ssize_t n = mig_stream_encode_data(rec, cap, 2, 1 << 20, raw, sizeof(raw), 1);
	CHECK(n > 0 && (size_t)n < sizeof(raw));   /* the zero half compresses */
	CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), n);
	CHECK_INT(r.type, MIG_REC_CHUNK);
	CHECK_INT(r.chunk.disk, 2);
	CHECK_INT(r.chunk.kind, MIG_CHUNK_DATA);
	CHECK_INT(r.chunk.offset, 1 << 20);
	CHECK_INT(r.chunk.length, sizeof(raw));
	memset(back, 0xaa, sizeof(back));
	CHECK_INT(mig_stream_chunk_restore(&r.chunk, back, sizeof(back)), 0);
	CHECK(memcmp(raw, back, sizeof(raw)) == 0);
	CHECK_INT(mig_stream_chunk_restore(&r.chunk, back, sizeof(back) - 1), -EINVAL);
	free(rec);
}

TEST(partial_records_ask_for_more)
{
	uint8_t rec[128];
	struct mig_record r;
	ssize_t n = mig_stream_encode_empty(rec, sizeof(rec), 0, MIG_CHUNK_ZERO, 4096, 8192);

	CHECK_INT(n, 72);
	for (ssize_t k = 0; k < n; k++)
		CHECK_INT(mig_stream_parse(rec, (size_t)k, &r), 0);
	CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), n);
	CHECK_INT(r.chunk.kind, MIG_CHUNK_ZERO);
	CHECK_INT(r.chunk.payload_len, 0);
}

/* Any single flipped bit in the metadata is rejected, never half accepted. */
TEST(metadata_corruption_is_rejected)
{
	size_t cap = mig_stream_chunk_bound(4096);
	uint8_t *rec = malloc(cap);
	struct mig_record r;

	fill_raw();
	ssize_t n = mig_stream_encode_data(rec, cap, 0, 0, raw, 4096, 1);
	for (size_t i = 0; i < MIG_STREAM_RECORD_HDR + MIG_STREAM_CHUNK_FIXED; i++) {
		for (int bit = 0; bit < 8; bit++) {
			rec[i] ^= (uint8_t)(1 << bit);
			ssize_t p = mig_stream_parse(rec, (size_t)n, &r);
			/* a grown length may look like "need more": also a refusal */
			if (!(p == -EBADMSG || p == -EPROTONOSUPPORT || p == 0)) {
				CHECK(!"corruption accepted");
				printf("# byte %zu bit %d: parse returned %zd\n", i, bit, p);
			}
			rec[i] ^= (uint8_t)(1 << bit);
		}
	}
	CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), n);
	free(rec);
}

TEST(payload_corruption_is_caught_before_use)
{
	size_t cap = mig_stream_chunk_bound(sizeof(raw));
	uint8_t *rec = malloc(cap);
	struct mig_record r;

	fill_raw();
	ssize_t n = mig_stream_encode_data(rec, cap, 0, 0, raw, sizeof(raw), 3);
	for (ssize_t i = MIG_STREAM_RECORD_HDR + MIG_STREAM_CHUNK_FIXED; i < n; i += 97) {
		rec[i] ^= 0x10;
		CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), n);   /* framing is intact */
		CHECK_INT(mig_stream_chunk_restore(&r.chunk, back, sizeof(back)), -EBADMSG);
		rec[i] ^= 0x10;
	}
	free(rec);
}

TEST(headers_trailer_end)
{
	static const char script[] = "label: gpt\nunit: sectors\n/dev/sda1 : start=2048, size=4096\n";
	uint8_t count[4] = { 1, 0, 0, 0 }, size[8] = { 0, 0, 0, 0x40, 0, 0, 0, 0 };
	struct mig_field f[] = {
		{ MIG_F_DISK_COUNT, 4, count },
		{ MIG_F_DISK_SIZE, 8, size },
		{ MIG_F_SFDISK_SCRIPT, sizeof(script) - 1, (const uint8_t *)script },
		{ 999, 0, NULL },                 /* unknown tags are kept, and skipped */
	};
	uint8_t buf[512];
	struct mig_record r;
	uint64_t v;

	ssize_t n = mig_stream_encode_fields(buf, sizeof(buf), MIG_REC_DISK, f, 4);
	CHECK(n > 0);
	CHECK_INT(mig_stream_parse(buf, (size_t)n, &r), n);
	CHECK_INT(r.fields.n, 4);
	CHECK_INT(mig_stream_field_u64(mig_stream_field(&r, MIG_F_DISK_COUNT), &v), 0);
	CHECK_INT(v, 1);
	CHECK_INT(mig_stream_field_u64(mig_stream_field(&r, MIG_F_DISK_SIZE), &v), 0);
	CHECK_INT(v, 0x40000000ull);
	const struct mig_field *s = mig_stream_field(&r, MIG_F_SFDISK_SCRIPT);
	CHECK(s && s->len == sizeof(script) - 1 && !memcmp(s->value, script, s->len));
	CHECK(mig_stream_field(&r, MIG_F_TOOL_VERSION) == NULL);
	CHECK_INT(mig_stream_field_u64(mig_stream_field(&r, MIG_F_SFDISK_SCRIPT), &v), -EBADMSG);
	CHECK_INT(mig_stream_encode_fields(buf, 20, MIG_REC_DISK, f, 4), -ENOBUFS);
	CHECK_INT(mig_stream_encode_fields(buf, sizeof(buf), MIG_REC_CHUNK, f, 4), -EINVAL);

	struct mig_trailer t = { .disk = 3, .bytes = 1ull << 40, .chunks = 65536 };
	memset(t.sha256, 0x5a, 32);
	n = mig_stream_encode_trailer(buf, sizeof(buf), &t);
	CHECK_INT(n, 76);
	CHECK_INT(mig_stream_parse(buf, (size_t)n, &r), 76);
	CHECK(r.type == MIG_REC_TRAILER && r.trailer.disk == 3 && r.trailer.bytes == 1ull << 40 &&
	      r.trailer.chunks == 65536 && r.trailer.sha256[31] == 0x5a);
	n = mig_stream_encode_end(buf, sizeof(buf));
	CHECK_INT(mig_stream_parse(buf, (size_t)n, &r), 16);
	CHECK_INT(r.type, MIG_REC_END);
}

TEST(limits)
{
	uint8_t buf[128];
	struct mig_record r;

	CHECK_INT(mig_stream_encode_empty(buf, sizeof(buf), 0, MIG_CHUNK_ZERO, 0, 511), -EINVAL);
	CHECK_INT(mig_stream_encode_empty(buf, sizeof(buf), 0, MIG_CHUNK_ZERO, 100, 512), -EINVAL);
	CHECK_INT(mig_stream_encode_empty(buf, sizeof(buf), 0, MIG_CHUNK_ZERO, 0, MIG_STREAM_MAX_CHUNK + 512), -EINVAL);
	CHECK_INT(mig_stream_encode_empty(buf, sizeof(buf), 0, MIG_CHUNK_DATA, 0, 512), -EINVAL);
	CHECK_INT(mig_stream_encode_empty(buf, 10, 0, MIG_CHUNK_ZERO, 0, 512), -ENOBUFS);
	CHECK_INT(mig_stream_encode_data(buf, sizeof(buf), 0, 0, raw, 4096, 1), -ENOBUFS);

	/* a header that claims a body past the limit is corrupt, not "read more" */
	ssize_t n = mig_stream_encode_end(buf, sizeof(buf));
	buf[8] = 0xff; buf[9] = 0xff; buf[10] = 0xff; buf[11] = 0x7f;
	CHECK_INT(mig_stream_parse(buf, (size_t)n, &r), -EBADMSG);
	n = mig_stream_encode_end(buf, sizeof(buf));
	buf[5] = 3;   /* a future version (2 is the file-level copy) */
	CHECK_INT(mig_stream_parse(buf, (size_t)n, &r), -EPROTONOSUPPORT);
	memcpy(buf, "XXXX", 4);
	CHECK_INT(mig_stream_parse(buf, (size_t)n, &r), -EBADMSG);

	/* more fields than the limit */
	static uint8_t big[MIG_STREAM_RECORD_HDR + 8 * (MIG_STREAM_MAX_FIELDS + 1)];
	struct mig_field f[MIG_STREAM_MAX_FIELDS];
	for (size_t i = 0; i < MIG_STREAM_MAX_FIELDS; i++)
		f[i] = (struct mig_field){ MIG_F_TOOL_VERSION, 0, NULL };
	CHECK(mig_stream_encode_fields(big, sizeof(big), MIG_REC_STREAM, f, MIG_STREAM_MAX_FIELDS) > 0);
	CHECK_INT(mig_stream_encode_fields(big, sizeof(big), MIG_REC_STREAM, f, MIG_STREAM_MAX_FIELDS + 1), -EINVAL);
}

TEST(sha256_known_vector)
{
	uint8_t d[32];
	static const uint8_t abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};

	mig_sha256("abc", 3, d);
	CHECK(memcmp(d, abc, 32) == 0);
}

TEST(file_chunk_round_trip_and_version)
{
	size_t cap = mig_stream_chunk_bound(sizeof(raw)) + 8;
	uint8_t *rec = malloc(cap);
	struct mig_record r;

	fill_raw();
	/* an archive chunk may have any length; a raw one only whole sectors */
	ssize_t n = mig_stream_encode_fchunk(rec, cap, 1, 4, MIG_FCHUNK_ARCHIVE, 12345, raw, 1001, 1);
	CHECK(n > 0);
	CHECK_INT(rec[5], MIG_STREAM_VERSION_FILE);
	CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), n);
	CHECK_INT(r.type, MIG_REC_FCHUNK);
	CHECK_INT(r.version, 2);
	CHECK_INT(r.fchunk.disk, 1);
	CHECK_INT(r.fchunk.partno, 4);
	CHECK_INT(r.fchunk.kind, MIG_FCHUNK_ARCHIVE);
	CHECK_INT(r.fchunk.offset, 12345);
	CHECK_INT(r.fchunk.length, 1001);
	memset(back, 0, sizeof(back));
	CHECK_INT(mig_stream_fchunk_restore(&r.fchunk, back, sizeof(back)), 0);
	CHECK(memcmp(raw, back, 1001) == 0);
	CHECK_INT(mig_stream_encode_fchunk(rec, cap, 1, 4, MIG_FCHUNK_RAW, 0, raw, 1001, 1), -EINVAL);
	CHECK_INT(mig_stream_encode_fchunk(rec, cap, 1, 4, MIG_FCHUNK_ARCHIVE, 0, raw, 0, 1), -EINVAL);

	/* a flipped payload bit: parsed (the CRC covers the fixed part), caught by the hash */
	rec[MIG_STREAM_RECORD_HDR + MIG_STREAM_FCHUNK_FIXED + 3] ^= 1;
	if (mig_stream_parse(rec, (size_t)n, &r) == n)
		CHECK(mig_stream_fchunk_restore(&r.fchunk, back, sizeof(back)) < 0);
	/* a flipped partition number: the CRC */
	n = mig_stream_encode_fchunk(rec, cap, 1, 4, MIG_FCHUNK_ARCHIVE, 0, raw, 1001, 1);
	rec[MIG_STREAM_RECORD_HDR + 4] ^= 1;
	CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), -EBADMSG);

	/* a version-1 reader's view: this build rejects a file chunk marked
	 * version 1 and a block chunk marked version 2 (the types belong to
	 * their version), and any other version outright */
	n = mig_stream_encode_fchunk(rec, cap, 1, 4, MIG_FCHUNK_ARCHIVE, 0, raw, 1001, 1);
	mig_stream_set_version(rec, MIG_STREAM_VERSION);
	CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), -EBADMSG);
	mig_stream_set_version(rec, 3);
	CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), -EPROTONOSUPPORT);
	n = mig_stream_encode_empty(rec, cap, 0, MIG_CHUNK_ZERO, 0, 512);
	mig_stream_set_version(rec, MIG_STREAM_VERSION_FILE);
	CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), -EBADMSG);
	/* headers and the end record may be either version */
	n = mig_stream_encode_end(rec, cap);
	mig_stream_set_version(rec, MIG_STREAM_VERSION_FILE);
	CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), n);
	CHECK_INT(r.version, 2);
	free(rec);
}

TEST(partition_trailer)
{
	uint8_t rec[128];
	struct mig_ftrailer t = { .disk = 2, .partno = 3, .bytes = 1u << 30, .chunks = 256, .entries = 77 };
	struct mig_record r;

	memset(t.sha256, 0xab, 32);
	ssize_t n = mig_stream_encode_ftrailer(rec, sizeof(rec), &t);
	CHECK_INT(n, MIG_STREAM_RECORD_HDR + MIG_STREAM_FTRAILER_SIZE);
	CHECK_INT(mig_stream_parse(rec, (size_t)n, &r), n);
	CHECK_INT(r.type, MIG_REC_FTRAILER);
	CHECK_INT(r.ftrailer.disk, 2);
	CHECK_INT(r.ftrailer.partno, 3);
	CHECK_INT(r.ftrailer.bytes, 1u << 30);
	CHECK_INT(r.ftrailer.chunks, 256);
	CHECK_INT(r.ftrailer.entries, 77);
	CHECK(r.ftrailer.sha256[31] == 0xab);
	CHECK_INT(mig_stream_encode_ftrailer(rec, 80, &t), -ENOBUFS);
}

int main(void)
{
	RUN(data_chunk_round_trip);
	RUN(partial_records_ask_for_more);
	RUN(metadata_corruption_is_rejected);
	RUN(payload_corruption_is_caught_before_use);
	RUN(headers_trailer_end);
	RUN(limits);
	RUN(sha256_known_vector);
	RUN(file_chunk_round_trip_and_version);
	RUN(partition_trailer);
	return tap_done();
}
