/* digest.h — the disk digest a stream's trailer carries (docs/stream-format.md).
 *
 * The digest of a disk is the SHA-256 of the sequence of its chunks'
 * SHA-256 values in disk order, where a zero or unused chunk counts as that
 * many zero bytes. It proves that the target received every chunk the
 * source read, in order, with the content the source read, while hashing
 * every data byte once (the chunk hash) instead of twice.
 *
 * The state is a plain value: it can be saved in a journal and restored, so
 * a resumed copy carries on from a commit point.
 */
#ifndef MIGRATOR_DIGEST_H
#define MIGRATOR_DIGEST_H

#include <nettle/sha2.h>
#include <stdint.h>

struct mig_digest {
	struct sha256_ctx ctx;
	uint64_t bytes, chunks;
};

void mig_digest_init(struct mig_digest *d);
/* Adds one chunk of length raw bytes whose SHA-256 is sha. */
void mig_digest_add(struct mig_digest *d, uint32_t length, const uint8_t sha[32]);
/* Adds a chunk of length zero bytes (zero or unused). */
void mig_digest_add_zero(struct mig_digest *d, uint32_t length);
/* The digest so far; d is unchanged. */
void mig_digest_final(const struct mig_digest *d, uint8_t out[32]);

/* SHA-256 of length zero bytes, cached for the most recent length
 * (thread-safe; length a multiple of 512, at most MIG_STREAM_MAX_CHUNK). */
void mig_sha256_zeros(uint32_t length, uint8_t out[32]);

/* Nonzero when all len bytes at p are zero. Word-wise: musl's memcmp is a
 * byte loop, and this runs over every byte a copy reads. */
int mig_all_zero(const void *p, size_t len);

#endif
