/* grubcore.c — see grubcore.h. */
#include "grubcore.h"
#include "bootsect.h"

#include <errno.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR 512
#define LIST_SIZE 12
#define FIRST_LIST (SECTOR - LIST_SIZE)
#define KERNEL_SEG 0x820                 /* GRUB_BOOT_I386_PC_KERNEL_SEG + 0x20 */
#define DECOMP_COMPRESSED_SIZE 0x08
#define DECOMP_UNCOMPRESSED_SIZE 0x0c
#define DECOMP_RS_REDUNDANCY 0x10
#define DECOMP_MAX_SIZE (0x9000 - 0x8200)  /* GRUB_DECOMPRESSOR_I386_PC_MAX_DECOMPRESSOR_SIZE */
#define MODULE_MAGIC 0x676d696du         /* "mimg" */
#define OBJ_TYPE_CONFIG 2
#define OBJ_TYPE_PREFIX 3
#define MAX_PAYLOAD_TRIES 32             /* only without Reed-Solomon data */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void fail(struct mig_grub_core *c, enum mig_grub_core_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct mig_grub_core *c, enum mig_grub_core_status st, const char *fmt, ...)
{
	va_list ap;

	c->status = st;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

void mig_grub_core_clear(struct mig_grub_core *c)
{
	if (!c)
		return;
	free(c->config);
	free(c->prefix);
	memset(c, 0, sizeof(*c));
}

static char *copy_string(const uint8_t *p, size_t len)
{
	size_t n = 0;

	while (n < len && n < MIG_GRUB_STRING_MAX && p[n])
		n++;
	return strndup((const char *)p, n);
}

/* Walks the modules of an area at p (offset, size already read); true if
 * every header is consistent and the walk ends exactly at the area's end. */
static bool walk_modules(const uint8_t *area, uint64_t offset, uint64_t size,
			 const uint8_t **cfg, size_t *cfg_len, const uint8_t **pfx, size_t *pfx_len)
{
	uint64_t pos = offset;
	size_t count = 0;

	*cfg = *pfx = NULL;
	while (pos < size) {
		if (size - pos < 8 || ++count > MIG_GRUB_MODULES_MAX)
			return false;
		uint32_t type = mig_le32(area + pos), msize = mig_le32(area + pos + 4);
		if (msize < 8 || msize > size - pos)
			return false;
		if (type == OBJ_TYPE_CONFIG && !*cfg) {
			*cfg = area + pos + 8;
			*cfg_len = msize - 8;
		} else if (type == OBJ_TYPE_PREFIX && !*pfx) {
			*pfx = area + pos + 8;
			*pfx_len = msize - 8;
		}
		pos += msize;
	}
	return pos == size;
}

int mig_grub_modules_find(const uint8_t *buf, size_t len, char **ret_config, char **ret_prefix)
{
	for (size_t i = 0; i + 12 <= len; i += 4) {
		if (mig_le32(buf + i) != MODULE_MAGIC)
			continue;
		const uint8_t *area = buf + i, *cfg, *pfx;
		size_t avail = len - i, cfg_len = 0, pfx_len = 0;
		bool ok = false;
		/* 32-bit form: magic, offset, size */
		uint64_t off = mig_le32(area + 4), size = mig_le32(area + 8);

		if (off >= 12 && off <= size && size <= avail)
			ok = walk_modules(area, off, size, &cfg, &cfg_len, &pfx, &pfx_len);
		/* 64-bit form: magic, padding, offset, size */
		if (!ok && avail >= 24 && mig_le32(area + 4) == 0) {
			off = mig_le64(area + 8);
			size = mig_le64(area + 16);
			if (off >= 24 && off <= size && size <= avail)
				ok = walk_modules(area, off, size, &cfg, &cfg_len, &pfx, &pfx_len);
		}
		if (!ok)
			continue;
		char *c = cfg ? copy_string(cfg, cfg_len) : NULL;
		char *p = pfx ? copy_string(pfx, pfx_len) : NULL;
		if ((cfg && !c) || (pfx && !p)) {
			free(c);
			free(p);
			return -ENOMEM;
		}
		*ret_config = c;
		*ret_prefix = p;
		return 0;
	}
	return -ENOENT;
}

/* Decodes GRUB's raw LZMA stream; true if out was filled completely. */
static bool lzma_raw(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
	lzma_options_lzma opt = { 0 };
	lzma_filter filters[2] = {
		{ .id = LZMA_FILTER_LZMA1, .options = &opt },
		{ .id = LZMA_VLI_UNKNOWN, .options = NULL },
	};
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;

	/* grub-mkimage: dictSize 64 KiB, lc 3, lp 0, pb 2. A larger dictionary
	 * decodes the same stream. */
	opt.dict_size = 1u << 20;
	opt.lc = 3;
	opt.lp = 0;
	opt.pb = 2;
	if (lzma_raw_decoder(&s, filters) != LZMA_OK)
		return false;
	s.next_in = in;
	s.avail_in = in_len;
	s.next_out = out;
	s.avail_out = out_len;
	do
		r = lzma_code(&s, LZMA_RUN);
	while (r == LZMA_OK && s.avail_out > 0 && s.avail_in > 0);
	/* No end mark: the stream stops when the output is full. */
	bool ok = s.avail_out == 0 && (r == LZMA_OK || r == LZMA_STREAM_END);
	lzma_end(&s);
	return ok;
}

/* Tries the payload at off (from the start of rest); on success fills the
 * config and prefix. Returns 1 decoded, 0 not, -ENOMEM. */
static int try_payload(struct mig_grub_core *c, const uint8_t *rest, size_t rest_len, size_t off,
		       uint8_t *out)
{
	if (off > rest_len || c->compressed_size > rest_len - off)
		return 0;
	if (!lzma_raw(rest + off, c->compressed_size, out, c->uncompressed_size))
		return 0;
	int r = mig_grub_modules_find(out, c->uncompressed_size, &c->config, &c->prefix);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	c->payload_offset = (uint32_t)off;
	return 1;
}

static int decode(struct mig_grub_core *c, const uint8_t *rest, size_t rest_len)
{
	uint8_t *out;
	int r = 0;

	c->compressed_size = mig_le32(rest + DECOMP_COMPRESSED_SIZE);
	c->uncompressed_size = mig_le32(rest + DECOMP_UNCOMPRESSED_SIZE);
	c->rs_redundancy = mig_le32(rest + DECOMP_RS_REDUNDANCY);
	if (c->compressed_size == 0 || c->uncompressed_size == 0 ||
	    c->uncompressed_size > MIG_GRUB_UNCOMPRESSED_MAX) {
		fail(c, MIG_GRUB_CORE_BAD_PAYLOAD,
		     "core.img header has implausible sizes (compressed %u, uncompressed %u bytes)",
		     c->compressed_size, c->uncompressed_size);
		return 0;
	}
	/* The image proper (before parity) must fit what the lists load. */
	if (c->rs_redundancy >= rest_len ||
	    (uint64_t)c->compressed_size + c->rs_redundancy > rest_len) {
		fail(c, MIG_GRUB_CORE_INCOMPLETE,
		     "the blocklists load %zu bytes after diskboot.img, but core.img needs more (%u compressed + %u parity)",
		     rest_len, c->compressed_size, c->rs_redundancy);
		return 0;
	}
	if (!(out = malloc(c->uncompressed_size)))
		return -ENOMEM;
	if (c->rs_redundancy) {
		/* grub-setup appends the parity right after core.img, so the
		 * stream ends where the parity starts. */
		size_t off = rest_len - c->rs_redundancy - c->compressed_size;

		if (off >= 0x20 && off <= DECOMP_MAX_SIZE)
			r = try_payload(c, rest, rest_len, off, out);
	}
	/* Without parity (--no-rs-codes): the stream starts right after the
	 * decompressor, which is 16-byte aligned and below 0xE00; an LZMA
	 * stream's first byte is always 0. */
	int tries = 0;
	for (size_t off = 0x200; r == 0 && off <= DECOMP_MAX_SIZE && tries < MAX_PAYLOAD_TRIES;
	     off += 16) {
		if (off >= rest_len || rest[off] != 0)
			continue;
		tries++;
		r = try_payload(c, rest, rest_len, off, out);
	}
	free(out);
	if (r < 0)
		return r;
	if (r == 0)
		fail(c, MIG_GRUB_CORE_BAD_PAYLOAD,
		     "core.img's compressed kernel (%u bytes LZMA to %u) does not decode to a GRUB kernel with modules",
		     c->compressed_size, c->uncompressed_size);
	return 0;
}

int mig_grub_core_read(uint64_t diskboot_lba, uint64_t disk_sectors, mig_read_fn read,
		       void *ctx, struct mig_grub_core *ret)
{
	struct mig_grub_core c = { .status = MIG_GRUB_CORE_OK, .diskboot_lba = diskboot_lba };
	uint8_t s[SECTOR];
	uint8_t *rest = NULL;
	int r;

	if (diskboot_lba == 0 || diskboot_lba >= disk_sectors) {
		fail(&c, MIG_GRUB_CORE_NO_DISKBOOT, "boot.img points at LBA %llu, %s",
		     (unsigned long long)diskboot_lba,
		     diskboot_lba ? "past the end of the disk" : "sector 0 itself");
		goto done;
	}
	if ((r = read(ctx, diskboot_lba * SECTOR, s, SECTOR)) < 0)
		return r;
	/* diskboot.img: its message "loading" and the first list's segment */
	if (!memmem(s, FIRST_LIST, "loading", 8) || le16(s + FIRST_LIST + 10) != KERNEL_SEG) {
		fail(&c, MIG_GRUB_CORE_NO_DISKBOOT,
		     "LBA %llu (where boot.img loads core.img from) does not hold GRUB's diskboot.img",
		     (unsigned long long)diskboot_lba);
		goto done;
	}
	c.sectors = 1;
	for (size_t off = FIRST_LIST; off >= 0x100; off -= LIST_SIZE) {
		struct mig_grub_blocklist b = { mig_le64(s + off), le16(s + off + 8), le16(s + off + 10) };

		if (b.len == 0)
			break;
		if (c.nlists == MIG_GRUB_MAX_BLOCKLISTS) {
			fail(&c, MIG_GRUB_CORE_BAD_BLOCKLIST, "diskboot.img has more than %d blocklists",
			     MIG_GRUB_MAX_BLOCKLISTS);
			goto done;
		}
		if (b.start == 0 || b.start >= disk_sectors || b.len > disk_sectors - b.start) {
			fail(&c, MIG_GRUB_CORE_BAD_BLOCKLIST,
			     "blocklist %zu (LBA %llu, %u sectors) reaches past the end of the disk",
			     c.nlists + 1, (unsigned long long)b.start, b.len);
			goto done;
		}
		c.lists[c.nlists++] = b;
		c.sectors += b.len;
		if (c.sectors > MIG_GRUB_CORE_MAX_SECTORS) {
			fail(&c, MIG_GRUB_CORE_BAD_BLOCKLIST, "the blocklists load more than %d sectors",
			     MIG_GRUB_CORE_MAX_SECTORS);
			goto done;
		}
	}
	if (c.nlists == 0) {
		fail(&c, MIG_GRUB_CORE_BAD_BLOCKLIST, "diskboot.img's blocklist is empty");
		goto done;
	}

	size_t rest_len = (size_t)(c.sectors - 1) * SECTOR, pos = 0;
	if (!(rest = malloc(rest_len)))
		return -ENOMEM;
	for (size_t i = 0; i < c.nlists; i++) {
		if ((r = read(ctx, c.lists[i].start * SECTOR, rest + pos, (size_t)c.lists[i].len * SECTOR)) < 0) {
			free(rest);
			return r;
		}
		pos += (size_t)c.lists[i].len * SECTOR;
	}
	r = decode(&c, rest, rest_len);
	free(rest);
	if (r < 0) {
		mig_grub_core_clear(&c);
		return r;
	}
done:
	*ret = c;
	return 0;
}
