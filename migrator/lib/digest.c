/* digest.c — see digest.h. */
#include "digest.h"
#include "stream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void mig_digest_init(struct mig_digest *d)
{
	memset(d, 0, sizeof(*d));
	sha256_init(&d->ctx);
}

void mig_digest_add(struct mig_digest *d, uint32_t length, const uint8_t sha[32])
{
	sha256_update(&d->ctx, 32, sha);
	d->bytes += length;
	d->chunks++;
}

void mig_digest_add_zero(struct mig_digest *d, uint32_t length)
{
	uint8_t sha[32];

	mig_sha256_zeros(length, sha);
	mig_digest_add(d, length, sha);
}

void mig_digest_final(const struct mig_digest *d, uint8_t out[32])
{
	struct sha256_ctx c = d->ctx;

	sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

static pthread_mutex_t zero_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t zero_len;
static uint8_t zero_sha[32];

void mig_sha256_zeros(uint32_t length, uint8_t out[32])
{
	static const uint8_t block[65536];
	struct sha256_ctx c;

	pthread_mutex_lock(&zero_lock);
	if (zero_len != length || length == 0) {
		sha256_init(&c);
		for (uint32_t done = 0; done < length;) {
			uint32_t n = length - done < sizeof(block) ? length - done : (uint32_t)sizeof(block);
			sha256_update(&c, n, block);
			done += n;
		}
		sha256_digest(&c, SHA256_DIGEST_SIZE, zero_sha);
		zero_len = length;
	}
	memcpy(out, zero_sha, 32);
	pthread_mutex_unlock(&zero_lock);
}

int mig_all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i = 0;

	for (; i < len && ((uintptr_t)(b + i) & 7); i++)
		if (b[i])
			return 0;
	for (; i + 64 <= len; i += 64) {
		const uint64_t *w = (const uint64_t *)(const void *)(b + i);
		if (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7])
			return 0;
	}
	for (; i < len; i++)
		if (b[i])
			return 0;
	return 1;
}
