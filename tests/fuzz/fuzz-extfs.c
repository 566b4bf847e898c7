/* libFuzzer target: arbitrary bytes as an ext2/3/4 filesystem image through
 * the free-block parser (pure, via a read callback). Traps when a delivered
 * run breaks the contract: empty, out of order, unmerged, past the device,
 * or not adding up to the free blocks reported. */
#include "extfs.h"

#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

struct img {
	const uint8_t *data;
	size_t size;
	uint64_t end, total;
	int nruns;
};

static int rd(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct img *im = ctx;

	if (off > im->size || len > im->size - off)
		return -EIO;
	memcpy(buf, im->data + off, len);
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
	struct img im = { .data = data, .size = size };
	struct mig_extfs_info info;

	int r = mig_extfs_free_ranges(rd, &im, size, add_free, &im, &info);
	if (r == 0 && im.total != info.free_blocks * info.block_size)
		__builtin_trap();
	if (r < 0 && info.free_blocks != 0)
		__builtin_trap();
	return 0;
}
