/* libFuzzer target: arbitrary bytes as a disk image through the whole
 * read-only probe (libfdisk, libblkid, our readiness checks and JSON). */
#include "inventory.h"
#include "inventory-json.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct mig_inventory *inv = NULL;
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		char *paths[] = { path, path };
		if (mig_inventory_scan(paths, 2, NULL, NULL, &inv) >= 0) {
			FILE *null = fopen("/dev/null", "w");
			struct json_writer *w = null ? json_new(null, true) : NULL;

			if (w) {
				mig_inventory_write_json(inv, w);
				json_finish(w);
			}
			if (null)
				fclose(null);
			mig_inventory_free(inv);
		}
	}
	close(fd);
	return 0;
}
