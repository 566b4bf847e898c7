/* libFuzzer target: the stream decoder on untrusted bytes, as a receiver
 * uses it: parse records one after another; restore every data chunk. */
#include "stream.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *raw;
	struct mig_record r;
	ssize_t n;

	if (!raw && !(raw = malloc(MIG_STREAM_MAX_CHUNK)))
		return 0;
	while (size > 0 && (n = mig_stream_parse(data, size, &r)) > 0) {
		if (r.type == MIG_REC_CHUNK && r.chunk.kind == MIG_CHUNK_DATA)
			(void)mig_stream_chunk_restore(&r.chunk, raw, MIG_STREAM_MAX_CHUNK);
		if (r.type == MIG_REC_DISK) {
			uint64_t v;
			(void)mig_stream_field_u64(mig_stream_field(&r, MIG_F_DISK_SIZE), &v);
		}
		data += n;
		size -= (size_t)n;
	}
	return 0;
}
