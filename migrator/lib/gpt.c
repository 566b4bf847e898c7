/* gpt.c — see gpt.h. */
#include "gpt.h"
#include "bootsect.h"

#include <errno.h>
#include <string.h>

uint32_t mig_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

int mig_gpt_header_parse(const uint8_t *buf, size_t len, struct mig_gpt_header *ret)
{
	uint8_t hdr[512];
	uint32_t hsize;

	if (len < 92 || memcmp(buf, MIG_GPT_SIGNATURE, 8) != 0)
		return -ENOENT;
	hsize = mig_le32(buf + 12);
	if (hsize < 92 || hsize > len || hsize > sizeof(hdr))
		return -EBADMSG;
	memcpy(hdr, buf, hsize);
	memset(hdr + 16, 0, 4);         /* the CRC field counts as zero */
	if (mig_crc32(0, hdr, hsize) != mig_le32(buf + 16))
		return -EBADMSG;

	struct mig_gpt_header h = {
		.my_lba = mig_le64(buf + 24),
		.alternate_lba = mig_le64(buf + 32),
		.first_usable_lba = mig_le64(buf + 40),
		.last_usable_lba = mig_le64(buf + 48),
		.entries_lba = mig_le64(buf + 72),
		.nentries = mig_le32(buf + 80),
		.entry_size = mig_le32(buf + 84),
		.entries_crc = mig_le32(buf + 88),
	};
	memcpy(h.disk_guid, buf + 56, 16);
	if (h.first_usable_lba > h.last_usable_lba || h.entry_size < 128 ||
	    h.entry_size % 8 || h.nentries > 65536)
		return -EBADMSG;
	*ret = h;
	return 0;
}
