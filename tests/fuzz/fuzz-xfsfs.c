/* libFuzzer target: the XFS free-block parser (pure, via a read callback).
 * The smallest XFS is 16 MiB, so the input is a sparse image: a 4-byte
 * little-endian size in KiB, then segments (4-byte offset, 2-byte length,
 * that many bytes) over zeros — seed.sh makes them from real mkfs.xfs
 * images, so mutations land on the superblock, the log, the AGFs and the
 * btrees. Traps when a delivered run breaks the contract: empty, out of
 * order, unmerged, past the device, or not adding up to the free blocks
 * reported. */
#include "xfsfs.h"

#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#define MAX_SEGS 8192

struct seg {
	uint64_t off;
	const uint8_t *data;
	size_t len;
};

struct img {
	struct seg seg[MAX_SEGS];
	size_t nseg;
	uint64_t size, end, total;
	int nruns;
};

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static int rd(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct img *im = ctx;

	if (off > im->size || len > im->size - off)
		return -EIO;
	memset(buf, 0, len);
	for (size_t i = 0; i < im->nseg; i++) {
		const struct seg *s = &im->seg[i];
		uint64_t a = s->off > off ? s->off : off;
		uint64_t b = s->off + s->len < off + len ? s->off + s->len : off + len;

		if (a < b)
			memcpy((uint8_t *)buf + (a - off), s->data + (a - s->off), (size_t)(b - a));
	}
	return 0;
}

static int add_free(void *ud, uint64_t off, uint64_t len)
{
	struct img *im = ud;

	if (len == 0 || off < im->end || (im->nruns && off == im->end) ||
	    off > im->size || len > im->size - off)
		__builtin_trap();
	im->end = off + len;
	im->total += len;
	im->nruns++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct img im;
	struct mig_xfs_info info;

	if (size < 4)
		return 0;
	memset(&im, 0, sizeof(im));
	im.size = (uint64_t)(le32(data) % (1u << 16)) * 1024;   /* under 64 MiB */
	for (size_t p = 4; p + 6 <= size && im.nseg < MAX_SEGS;) {
		struct seg *s = &im.seg[im.nseg++];

		s->off = le32(data + p);
		s->len = (size_t)(data[p + 4] | data[p + 5] << 8);
		p += 6;
		if (s->len > size - p)
			s->len = size - p;
		s->data = data + p;
		p += s->len;
	}
	int r = mig_xfs_free_ranges(rd, &im, im.size, add_free, &im, &info);
	if (r == 0 && im.total != info.free_blocks * info.block_size)
		__builtin_trap();
	if (r < 0 && info.free_blocks != 0)
		__builtin_trap();
	return 0;
}
