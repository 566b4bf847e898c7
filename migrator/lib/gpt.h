/* gpt.h — the GPT header (UEFI spec 5.3.2), parsed from bytes.
 *
 * libfdisk reads partition tables for us; this exists to say *why* a GPT is
 * unusable in words an operator understands (truncated image, both headers
 * lost), and for verify's checks. Pure; no I/O.
 */
#ifndef MIGRATOR_GPT_H
#define MIGRATOR_GPT_H

#include <stddef.h>
#include <stdint.h>

#define MIG_GPT_SIGNATURE "EFI PART"

struct mig_gpt_header {
	uint64_t my_lba, alternate_lba;
	uint64_t first_usable_lba, last_usable_lba;
	uint64_t entries_lba;
	uint32_t nentries, entry_size;
	uint32_t entries_crc;
	uint8_t disk_guid[16];
};

/* Parses the header at the start of buf (one logical sector). Returns 0;
 * -ENOENT if there is no "EFI PART" signature; -EBADMSG if the header size
 * or its CRC32 is wrong, or its fields contradict each other. */
int mig_gpt_header_parse(const uint8_t *buf, size_t len, struct mig_gpt_header *ret);

/* CRC-32 (IEEE 802.3, the one GPT and zlib use) of len bytes, continuing crc
 * (start with 0). */
uint32_t mig_crc32(uint32_t crc, const void *buf, size_t len);

#endif
