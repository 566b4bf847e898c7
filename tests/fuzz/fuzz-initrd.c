/* libFuzzer target: the initrd scanner (uncompressed cpio walk, libarchive
 * on the compressed rest, modules.builtin) and the kernel-config reader. */
#include "initrd.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mig_initrd_info info;

	(void)mig_initrd_scan_mem(data, size, &info);
	(void)mig_drivers_builtin_kconfig((const char *)data, size);
	return 0;
}
