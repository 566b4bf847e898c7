/* libFuzzer target: what a receiver does with the body of a request —
 * POST /v1/plan (headers only) and POST /v1/stream (records, written to a
 * scratch image in /dev/shm) — on arbitrary bytes. The first byte chooses
 * plan, stream, or stream in two pieces split at the second byte. */
#include "receiver.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char target[64], journal[96];

static int resolve(void *ud, const struct mig_rx_disk *d, char **ret_path, char *why, size_t whylen)
{
	if (d->size > (64u << 20)) {
		snprintf(why, whylen, "too large for the fuzzer");
		return -1;
	}
	*ret_path = strdup(target);
	return *ret_path ? 0 : -12;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mig_receiver_opts o = { .resolve = resolve, .allow_overwrite = true, .state_dir = "/dev/shm" };
	struct mig_receiver *rx;
	char *text = NULL;

	if (!target[0]) {
		snprintf(target, sizeof(target), "/dev/shm/fuzz-receiver-%d.img", (int)getpid());
		snprintf(journal, sizeof(journal), "%s.migrator-journal", target);
	}
	if (size < 2 || mig_receiver_new(&o, &rx) < 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (mig_receiver_plan(rx, data + 1, size - 1, &text) == 0)
			free(text);
		break;
	case 1:
		mig_receiver_begin(rx);
		if (mig_receiver_feed(rx, data + 1, size - 1) == 0)
			mig_receiver_end(rx, true);
		else
			mig_receiver_end(rx, false);
		break;
	default: {
		size_t cut = 1 + (size_t)data[1] * (size - 1) / 256;
		mig_receiver_begin(rx);
		if (mig_receiver_feed(rx, data + 1, cut - 1) == 0 && mig_receiver_feed(rx, data + cut, size - cut) == 0)
			mig_receiver_end(rx, true);
		else
			mig_receiver_end(rx, false);
	}
	}
	mig_receiver_free(rx);
	unlink(target);
	unlink(journal);
	return 0;
}
