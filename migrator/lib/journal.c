/* journal.c — see journal.h. */
#include "journal.h"
#include "fileio.h"
#include "gpt.h"        /* mig_crc32 */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define JOURNAL_MAGIC "MGJOURN1"

struct journal_file {
	char magic[8];
	uint32_t struct_size;
	uint32_t pad;
	struct mig_journal j;
	uint32_t crc;
};

int mig_journal_save(const char *path, const struct mig_journal *j)
{
	struct journal_file f;

	memset(&f, 0, sizeof(f));       /* padding bytes too: the CRC covers them */
	memcpy(f.magic, JOURNAL_MAGIC, 8);
	f.struct_size = sizeof(f);
	f.j = *j;
	f.crc = mig_crc32(0, (const uint8_t *)&f, offsetof(struct journal_file, crc));
	return mig_write_file_atomic(path, &f, sizeof(f), 0600);
}

int mig_journal_load(const char *path, struct mig_journal *ret)
{
	struct journal_file f;
	char *buf;
	size_t len;
	int r;

	r = mig_read_file(path, sizeof(f), &buf, &len);
	if (r == -EFBIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	if (len != sizeof(f)) {
		free(buf);
		return -EBADMSG;
	}
	memcpy(&f, buf, sizeof(f));
	free(buf);
	if (memcmp(f.magic, JOURNAL_MAGIC, 8) || f.struct_size != sizeof(f) ||
	    f.crc != mig_crc32(0, (const uint8_t *)&f, offsetof(struct journal_file, crc)))
		return -EBADMSG;
	*ret = f.j;
	return 0;
}
