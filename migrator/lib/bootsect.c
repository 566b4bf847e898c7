/* bootsect.c — see bootsect.h. */
#include "bootsect.h"

#include <errno.h>
#include <string.h>

int mig_bootsect_parse(const uint8_t *s, size_t len, struct mig_bootsect *ret)
{
	struct mig_bootsect b = { 0 };

	if (!s || len < MIG_SECTOR_SIZE)
		return -EINVAL;
	b.signature = s[510] == 0x55 && s[511] == 0xaa;
	for (size_t i = 0; i < MIG_MBR_BOOT_CODE_SIZE; i++)
		if (s[i]) {
			b.boot_code = true;
			break;
		}
	if (b.boot_code && memcmp(s + MIG_GRUB_MESSAGE_OFF, "GRUB ", 5) == 0) {
		b.grub = true;
		b.grub_core_lba = mig_le64(s + MIG_GRUB_KERNEL_SECTOR_OFF);
	}
	b.disk_signature = mig_le32(s + 0x1b8);
	if (b.signature) {
		for (int i = 0; i < 4; i++) {
			const uint8_t *e = s + 0x1be + 16 * i;

			b.part[i].status = e[0];
			b.part[i].type = e[4];
			b.part[i].start_lba = mig_le32(e + 8);
			b.part[i].sectors = mig_le32(e + 12);
		}
	}
	*ret = b;
	return 0;
}

bool mig_bootsect_is_hybrid(const struct mig_bootsect *b)
{
	bool pmbr = false, other = false;

	for (int i = 0; i < 4; i++) {
		if (b->part[i].type == MIG_MBR_TYPE_GPT_PMBR)
			pmbr = true;
		else if (b->part[i].type)
			other = true;
	}
	return pmbr && other;
}
