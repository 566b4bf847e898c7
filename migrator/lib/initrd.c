/* initrd.c — see initrd.h. */
#include "initrd.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NEWC_HDR 110

static const struct {
	unsigned bit;
	const char *name;     /* module name, '_' form */
	const char *kconfig;  /* CONFIG_ symbol */
} drivers[] = {
	{ MIG_DRV_VIRTIO_BLK, "virtio_blk", "CONFIG_VIRTIO_BLK" },
	{ MIG_DRV_VIRTIO_SCSI, "virtio_scsi", "CONFIG_SCSI_VIRTIO" },
	{ MIG_DRV_VIRTIO_PCI, "virtio_pci", "CONFIG_VIRTIO_PCI" },
	{ MIG_DRV_NVME, "nvme", "CONFIG_BLK_DEV_NVME" },
	{ MIG_DRV_XEN_BLKFRONT, "xen_blkfront", "CONFIG_XEN_BLKDEV_FRONTEND" },
	{ MIG_DRV_HV_STORVSC, "hv_storvsc", "CONFIG_HYPERV_STORAGE" },
};
#define NDRIVERS (sizeof(drivers) / sizeof(drivers[0]))

const char *mig_driver_name(unsigned bit)
{
	for (size_t i = 0; i < NDRIVERS; i++)
		if (drivers[i].bit == bit)
			return drivers[i].name;
	return NULL;
}

unsigned mig_driver_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	char name[64];
	size_t n;

	base = base ? base + 1 : path;
	const char *ko = strstr(base, ".ko");
	if (!ko || (ko[3] && ko[3] != '.'))
		return 0;
	n = (size_t)(ko - base);
	if (n == 0 || n >= sizeof(name))
		return 0;
	for (size_t i = 0; i < n; i++)
		name[i] = base[i] == '-' ? '_' : base[i];
	name[n] = 0;
	for (size_t i = 0; i < NDRIVERS; i++)
		if (!strcmp(name, drivers[i].name))
			return drivers[i].bit;
	return 0;
}

unsigned mig_drivers_builtin_kconfig(const char *text, size_t len)
{
	unsigned found = 0;

	for (size_t pos = 0; pos < len;) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - line) : len - pos;

		for (size_t i = 0; i < NDRIVERS; i++) {
			size_t k = strlen(drivers[i].kconfig);
			if (l == k + 2 && !memcmp(line, drivers[i].kconfig, k) && !memcmp(line + k, "=y", 2))
				found |= drivers[i].bit;
		}
		pos += l + 1;
	}
	return found;
}

static void builtin_list(struct mig_initrd_info *info, const char *text, size_t len)
{
	for (size_t pos = 0; pos < len;) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - line) : len - pos;
		char path[256];

		if (l < sizeof(path)) {
			memcpy(path, line, l);
			path[l] = 0;
			info->builtin |= mig_driver_from_path(path);
		}
		pos += l + 1;
	}
}

static bool is_builtin_list(const char *name)
{
	size_t n = strlen(name), k = strlen("/modules.builtin");

	return n >= k && !strcmp(name + n - k, "/modules.builtin");
}

/* The initrd's bytes, from a file or from memory. */
struct src {
	int fd;
	const uint8_t *mem;
	uint64_t size;
};

static int src_read(const struct src *s, uint64_t off, void *buf, size_t len)
{
	if (off > s->size || len > s->size - off)
		return -EBADMSG;
	if (s->mem) {
		memcpy(buf, s->mem + off, len);
		return 0;
	}
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(s->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int hex8(const uint8_t *p, uint32_t *ret)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		int c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -EBADMSG;
		v = v << 4 | (uint32_t)d;
	}
	*ret = v;
	return 0;
}

/* A sequential byte stream: the raw initrd from some offset, or what
 * libarchive decompresses. The cpio headers are parsed here, not by
 * libarchive's cpio reader, so the limits above hold (its reader buffers a
 * name of whatever size the header claims). */
struct stream {
	const struct src *src;     /* raw: read from src at pos */
	struct archive *a;         /* or: decompressed data from libarchive */
	uint64_t pos;              /* bytes consumed */
	int pushback;              /* one byte given back, or -1 */
};

/* Reads exactly len bytes. Returns 0, 1 at a clean end of data (nothing
 * read), -EBADMSG at an end inside, or -errno. */
static int stream_read(struct stream *st, void *buf, size_t len)
{
	size_t done = 0;

	if (len && st->pushback >= 0) {
		*(uint8_t *)buf = (uint8_t)st->pushback;
		st->pushback = -1;
		st->pos++;
		if (len == 1)
			return 0;
		int r = stream_read(st, (uint8_t *)buf + 1, len - 1);
		return r == 1 ? -EBADMSG : r;
	}
	if (st->src) {
		if (st->pos >= st->src->size && len)
			return 1;
		int r = src_read(st->src, st->pos, buf, len);
		if (r < 0)
			return r;
		st->pos += len;
		return 0;
	}
	while (done < len) {
		la_ssize_t n = archive_read_data(st->a, (char *)buf + done, len - done);
		if (n < 0)
			return -EBADMSG;
		if (n == 0)
			return done ? -EBADMSG : 1;
		done += (size_t)n;
	}
	st->pos += len;
	return 0;
}

static int stream_skip(struct stream *st, uint64_t len)
{
	uint8_t buf[4096];

	if (st->src) {
		if (len > st->src->size - st->pos)
			return -EBADMSG;
		st->pos += len;
		return 0;
	}
	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		int r = stream_read(st, buf, n);
		if (r)
			return r > 0 ? -EBADMSG : r;
		len -= n;
	}
	return 0;
}

static int stream_align4(struct stream *st)
{
	return stream_skip(st, (4 - (st->pos & 3)) & 3);
}

/* Walks one newc archive from the stream's position to its trailer.
 * Returns 0 after the trailer, 1 if the stream ended before any header,
 * or -errno. */
static int walk_newc(struct stream *st, struct mig_initrd_info *info)
{
	uint8_t h[NEWC_HDR];
	char *name = malloc(MIG_INITRD_NAME_MAX + 1);
	bool first = true;
	int r;

	if (!name)
		return -ENOMEM;
	for (;;) {
		uint32_t filesize, namesize;

		r = stream_read(st, h, sizeof(h));
		if (r == 1 && first)
			break;
		if (r)
			goto bad;
		first = false;
		if ((memcmp(h, "070701", 6) && memcmp(h, "070702", 6)) ||
		    hex8(h + 54, &filesize) < 0 || hex8(h + 94, &namesize) < 0 ||
		    namesize == 0 || namesize > MIG_INITRD_NAME_MAX) {
			r = -EBADMSG;
			goto out;
		}
		if ((r = stream_read(st, name, namesize)) || (r = stream_align4(st)))
			goto bad;
		name[namesize] = 0;
		if (!strcmp(name, "TRAILER!!!")) {
			r = stream_skip(st, filesize);
			goto out;
		}
		if (++info->entries > MIG_INITRD_MAX_ENTRIES) {
			r = -E2BIG;
			goto out;
		}
		info->modules |= mig_driver_from_path(name);
		if (is_builtin_list(name) && filesize <= MIG_INITRD_BUILTIN_MAX) {
			char *text = malloc(filesize ? filesize : 1);
			if (!text) {
				r = -ENOMEM;
				goto out;
			}
			if ((r = stream_read(st, text, filesize)) == 0)
				builtin_list(info, text, filesize);
			free(text);
			if (r)
				goto bad;
		} else if ((r = stream_skip(st, filesize))) {
			goto bad;
		}
		if ((r = stream_align4(st)))
			goto bad;
	}
out:
	free(name);
	return r;
bad:
	free(name);
	return r > 0 ? -EBADMSG : r;
}

static const char *filter_name(int code)
{
	switch (code) {
	case ARCHIVE_FILTER_NONE: return "none";
	case ARCHIVE_FILTER_GZIP: return "gzip";
	case ARCHIVE_FILTER_BZIP2: return "bzip2";
	case ARCHIVE_FILTER_LZMA: return "lzma";
	case ARCHIVE_FILTER_XZ: return "xz";
	case ARCHIVE_FILTER_LZ4: return "lz4";
	case ARCHIVE_FILTER_ZSTD: return "zstd";
	}
	return "other";
}

/* Compressions the kernel accepts for an initramfs, by magic, and whether
 * this libarchive decodes them itself. */
static int compression_supported(const uint8_t *m, size_t n)
{
	if (n >= 4 && ((m[0] == 0x02 && m[1] == 0x21 && m[2] == 0x4c && m[3] == 0x18) ||
		       (m[0] == 0x04 && m[1] == 0x22 && m[2] == 0x4d && m[3] == 0x18)))
		return archive_liblz4_version() ? 0 : -ENOTSUP;
	if (n >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h')
		return archive_bzlib_version() ? 0 : -ENOTSUP;
	return 0;
}

/* Decompresses from off with libarchive (filters only: its "raw" format)
 * and walks the cpio archives inside. */
static int read_compressed(const struct src *s, uint64_t off, struct mig_initrd_info *info)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	uint8_t magic[4] = { 0 };
	size_t mlen = s->size - off < 4 ? (size_t)(s->size - off) : 4;
	int r;

	if (!a)
		return -ENOMEM;
	if ((r = src_read(s, off, magic, mlen)) < 0 || (r = compression_supported(magic, mlen)) < 0)
		goto out;
	/* Only built-in decoders: a missing one must not fork a program. */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_zstd(a);
	if (archive_liblz4_version())
		archive_read_support_filter_lz4(a);
	if (archive_bzlib_version())
		archive_read_support_filter_bzip2(a);
	archive_read_support_format_raw(a);
	if (s->mem) {
		r = archive_read_open_memory(a, s->mem + off, (size_t)(s->size - off));
	} else {
		if (lseek(s->fd, (off_t)off, SEEK_SET) < 0) {
			r = -errno;
			goto out;
		}
		r = archive_read_open_fd(a, s->fd, 65536);
	}
	if (r != ARCHIVE_OK || archive_read_next_header(a, &e) != ARCHIVE_OK ||
	    archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE) {
		r = -EBADMSG;       /* not a compression we know: garbage after the cpio */
		goto out;
	}
	info->compression = filter_name(archive_filter_code(a, 0));
	struct stream st = { .a = a, .pushback = -1 };
	/* cpio archives back to back, zero padding between them */
	for (r = 0; r == 0;) {
		if (info->segments >= MIG_INITRD_MAX_SEGMENTS) {
			r = -E2BIG;
			break;
		}
		if ((r = walk_newc(&st, info)) != 0)
			break;
		info->segments++;
		uint8_t z;
		while ((r = stream_read(&st, &z, 1)) == 0 && z == 0)
			;
		if (r == 0)
			st.pushback = z, st.pos--;
	}
	r = r == 1 ? 0 : r;
out:
	archive_read_free(a);
	return r;
}

static int scan(const struct src *s, struct mig_initrd_info *ret)
{
	struct mig_initrd_info info = { .compression = "none" };
	uint64_t off = 0;
	int r;

	while (off < s->size) {
		uint8_t m[6];

		/* Archives are padded with zeros between them. */
		uint8_t z[512];
		size_t n = s->size - off < sizeof(z) ? (size_t)(s->size - off) : sizeof(z), i;
		if ((r = src_read(s, off, z, n)) < 0)
			return r;
		for (i = 0; i < n && z[i] == 0; i++)
			;
		off += i;
		if (i == n)
			continue;
		if (info.segments >= MIG_INITRD_MAX_SEGMENTS)
			return -E2BIG;
		if (s->size - off >= 6 && src_read(s, off, m, 6) == 0 &&
		    (!memcmp(m, "070701", 6) || !memcmp(m, "070702", 6))) {
			struct stream st = { .src = s, .pos = off, .pushback = -1 };
			if ((r = walk_newc(&st, &info)) != 0)
				return r < 0 ? r : -EBADMSG;
			off = st.pos;
			info.segments++;
			continue;
		}
		/* The compressed main archive runs to the end. */
		if ((r = read_compressed(s, off, &info)) < 0)
			return r;
		break;
	}
	if (info.segments == 0)
		return -EBADMSG;
	*ret = info;
	return 0;
}

int mig_initrd_scan_fd(int fd, struct mig_initrd_info *ret)
{
	off_t end = lseek(fd, 0, SEEK_END);

	if (end < 0)
		return -errno;
	struct src s = { .fd = fd, .size = (uint64_t)end };
	return scan(&s, ret);
}

int mig_initrd_scan_mem(const void *buf, size_t len, struct mig_initrd_info *ret)
{
	struct src s = { .fd = -1, .mem = buf, .size = len };

	return scan(&s, ret);
}
