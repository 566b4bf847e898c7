/* stream.h — the migrator stream, version 1 (docs/stream-format.md).
 *
 * Pure functions on bytes: encode records into caller buffers, parse records
 * from untrusted bytes with every length checked against a limit, and turn
 * a chunk back into raw disk bytes only after its SHA-256 matched. No I/O.
 */
#ifndef MIGRATOR_STREAM_H
#define MIGRATOR_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MIG_STREAM_MAGIC        "MGST"
#define MIG_STREAM_VERSION      1
#define MIG_STREAM_VERSION_FILE 2   /* a file-level copy's records (docs/stream-format.md) */
#define MIG_STREAM_FCHUNK_FIXED 64
#define MIG_STREAM_FTRAILER_SIZE 72
#define MIG_STREAM_RECORD_HDR   16
#define MIG_STREAM_CHUNK_FIXED  56
#define MIG_STREAM_TRAILER_SIZE 60
#define MIG_STREAM_MAX_CHUNK    (16u << 20)
#define MIG_STREAM_MAX_BODY     (MIG_STREAM_MAX_CHUNK + 4096u)
#define MIG_STREAM_MAX_FIELD    (1u << 20)
#define MIG_STREAM_MAX_FIELDS   64

enum mig_record_type {
	MIG_REC_STREAM = 1, MIG_REC_DISK = 2, MIG_REC_CHUNK = 3, MIG_REC_TRAILER = 4, MIG_REC_END = 5,
	/* version 2 (file mode) only */
	MIG_REC_FCHUNK = 6, MIG_REC_FTRAILER = 7,
};
/* What a file chunk carries: bytes of a partition's pax archive, or bytes
 * of a partition copied raw (offset from the partition's start). */
enum mig_fchunk_kind { MIG_FCHUNK_ARCHIVE = 0, MIG_FCHUNK_RAW = 1 };
enum mig_chunk_kind { MIG_CHUNK_DATA = 0, MIG_CHUNK_ZERO = 1, MIG_CHUNK_UNUSED = 2 };

enum mig_field_tag {
	MIG_F_TOOL_VERSION = 1, MIG_F_DISK_COUNT = 2, MIG_F_DISK_INDEX = 3, MIG_F_DISK_SIZE = 4,
	MIG_F_SECTOR_SIZE = 5, MIG_F_SOURCE_NAME = 6, MIG_F_SFDISK_SCRIPT = 7, MIG_F_SESSION = 8,
	MIG_F_CHUNK_SIZE = 9, MIG_F_COMMIT_INTERVAL = 10, MIG_F_USED_ONLY = 11,
	MIG_F_MODE = 12,        /* stream: u32, 1 for a file-level copy (version 2 records) */
	MIG_F_LAYOUT = 13,      /* disk, file mode: the layout as JSON (layout.h) */
};

/* A file-mode chunk: a piece of one partition's archive or raw bytes. */
struct mig_fchunk {
	uint32_t disk, partno;
	uint32_t kind;          /* enum mig_fchunk_kind */
	uint64_t offset;        /* in the archive, or from the partition start */
	uint32_t length;        /* raw bytes, 1 to 16 MiB (raw: a multiple of 512) */
	uint32_t payload_len;   /* the zstd frame */
	uint8_t sha256[32];     /* of the raw bytes */
	const uint8_t *payload;
};

/* The end of one partition's data in file mode. */
struct mig_ftrailer {
	uint32_t disk, partno;
	uint64_t bytes, chunks;
	uint8_t sha256[32];     /* the digest of its chunks (digest.h) */
	uint64_t entries;       /* archive entries (0 for raw) */
};

struct mig_chunk {
	uint32_t disk;
	uint32_t kind;          /* enum mig_chunk_kind */
	uint64_t offset;
	uint32_t length;        /* raw bytes */
	uint32_t payload_len;
	uint8_t sha256[32];
	const uint8_t *payload; /* points into the parsed buffer */
};

struct mig_trailer {
	uint32_t disk;
	uint64_t bytes, chunks;
	uint8_t sha256[32];
};

/* One field of a header record; value points into the parsed buffer. */
struct mig_field {
	uint16_t tag;
	uint32_t len;
	const uint8_t *value;
};

struct mig_record {
	uint8_t type;           /* enum mig_record_type */
	uint8_t version;        /* MIG_STREAM_VERSION or MIG_STREAM_VERSION_FILE */
	uint32_t body_len;
	const uint8_t *body;
	union {
		struct mig_chunk chunk;
		struct mig_trailer trailer;
		struct mig_fchunk fchunk;
		struct mig_ftrailer ftrailer;
		struct {
			struct mig_field v[MIG_STREAM_MAX_FIELDS];
			size_t n;
		} fields;
	};
};

/* Parses the record at the start of buf. Returns its total size (> 0) and
 * fills *ret (pointers into buf); 0 when buf holds only part of a record
 * (read more); -EBADMSG for a corrupt record (bad magic, CRC, reserved
 * bytes, a length past a limit, a body that contradicts itself, a record
 * type its version does not have); -EPROTONOSUPPORT for a version other
 * than 1 (block copy: types 1-5) and 2 (file copy: types 1, 2, 5, 6, 7). */
ssize_t mig_stream_parse(const uint8_t *buf, size_t len, struct mig_record *ret);

/* Data chunk: compresses raw[0..length) with zstd at level into out and
 * writes the whole record. Returns its size, -ENOBUFS if cap is less than
 * mig_stream_chunk_bound(length), -EIO if zstd fails, -ENOMEM without a zstd
 * context (one per thread, kept until the thread ends), -EINVAL for a length that is
 * not a multiple of 512 in 512..MIG_STREAM_MAX_CHUNK. */
ssize_t mig_stream_encode_data(uint8_t *out, size_t cap, uint32_t disk, uint64_t offset,
			       const uint8_t *raw, uint32_t length, int level);
size_t mig_stream_chunk_bound(uint32_t length);

/* Zero or unused chunk: no payload. Returns the record size (72). */
ssize_t mig_stream_encode_empty(uint8_t *out, size_t cap, uint32_t disk, uint32_t kind,
				uint64_t offset, uint32_t length);

/* Decompresses a parsed data chunk into raw (cap >= c->length) and checks
 * its SHA-256. Returns 0, or -EBADMSG when the payload does not decompress
 * to exactly c->length bytes or the hash differs: then raw must not be
 * written anywhere. */
int mig_stream_chunk_restore(const struct mig_chunk *c, uint8_t *raw, size_t cap);

ssize_t mig_stream_encode_trailer(uint8_t *out, size_t cap, const struct mig_trailer *t);
ssize_t mig_stream_encode_end(uint8_t *out, size_t cap);

/* File chunk (version 2): compresses raw[0..length) into out, whole record.
 * Returns its size, -ENOBUFS (cap < mig_stream_chunk_bound(length) + 8),
 * -EINVAL (length 0 or past 16 MiB; raw: not a multiple of 512), -EIO. */
ssize_t mig_stream_encode_fchunk(uint8_t *out, size_t cap, uint32_t disk, uint32_t partno,
				 uint32_t kind, uint64_t offset, const uint8_t *raw,
				 uint32_t length, int level);
/* Decompresses and checks a file chunk as mig_stream_chunk_restore does. */
int mig_stream_fchunk_restore(const struct mig_fchunk *c, uint8_t *raw, size_t cap);
ssize_t mig_stream_encode_ftrailer(uint8_t *out, size_t cap, const struct mig_ftrailer *t);
/* Rewrites a record made by the encoders above as version (1 or 2), with
 * its CRC: a file-mode stream's headers and end record are version 2, so
 * a reader that knows only version 1 refuses the stream at its first byte. */
void mig_stream_set_version(uint8_t *rec, uint8_t version);

/* Header records (MIG_REC_STREAM, MIG_REC_DISK) from fields. */
ssize_t mig_stream_encode_fields(uint8_t *out, size_t cap, uint8_t type,
				 const struct mig_field *fields, size_t n);
/* The first field with tag in r, or NULL. */
const struct mig_field *mig_stream_field(const struct mig_record *r, uint16_t tag);
/* A field's value as an integer of its own width (4 or 8 bytes): 0 or -EBADMSG. */
int mig_stream_field_u64(const struct mig_field *f, uint64_t *ret);

/* SHA-256 of len bytes. */
void mig_sha256(const void *buf, size_t len, uint8_t out[32]);

#endif
