/* fatfs.c — see fatfs.h. */
#include "fatfs.h"
#include "bootsect.h"   /* mig_le32 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct mig_fat {
	mig_read_fn read;
	void *ctx;
	uint64_t offset;
	unsigned bits;              /* 12, 16, 32 */
	uint32_t bytes_per_sec, sec_per_clus, cluster_size;
	uint64_t root_off;          /* FAT12/16 fixed root directory, bytes from offset */
	uint32_t root_entries;
	uint32_t root_cluster;      /* FAT32 */
	uint64_t data_off;          /* cluster 2 */
	uint32_t nclusters;
	uint8_t *table;
	size_t table_len;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

void mig_fat_close(struct mig_fat *fat)
{
	if (!fat)
		return;
	free(fat->table);
	free(fat);
}

int mig_fat_open(mig_read_fn read, void *ctx, uint64_t offset, uint64_t size, struct mig_fat **ret)
{
	uint8_t bs[512];
	struct mig_fat *f;
	int r;

	if (size < sizeof(bs))
		return -EBADMSG;
	if ((r = read(ctx, offset, bs, sizeof(bs))) < 0)
		return r;
	uint32_t bps = le16(bs + 0x0b), spc = bs[0x0d], rsvd = le16(bs + 0x0e), nfats = bs[0x10];
	uint32_t root_ent = le16(bs + 0x11), fatsz = le16(bs + 0x16);
	uint64_t tot = le16(bs + 0x13);
	if (!fatsz)
		fatsz = mig_le32(bs + 0x24);
	if (!tot)
		tot = mig_le32(bs + 0x20);
	if (bs[510] != 0x55 || bs[511] != 0xaa || (bps != 512 && bps != 1024 && bps != 2048 && bps != 4096) ||
	    !spc || (spc & (spc - 1)) || !rsvd || !nfats || nfats > 4 || !fatsz || !tot ||
	    tot * bps > size)
		return -EBADMSG;
	uint64_t root_secs = ((uint64_t)root_ent * 32 + bps - 1) / bps;
	uint64_t data_sec = rsvd + (uint64_t)nfats * fatsz + root_secs;
	if (data_sec >= tot)
		return -EBADMSG;
	uint64_t nclus = (tot - data_sec) / spc;
	if (!(f = calloc(1, sizeof(*f))))
		return -ENOMEM;
	f->read = read;
	f->ctx = ctx;
	f->offset = offset;
	f->bits = nclus < 4085 ? 12 : nclus < 65525 ? 16 : 32;
	f->bytes_per_sec = bps;
	f->sec_per_clus = spc;
	f->cluster_size = bps * spc;
	f->root_off = (rsvd + (uint64_t)nfats * fatsz) * bps;
	f->root_entries = root_ent;
	f->root_cluster = f->bits == 32 ? mig_le32(bs + 0x2c) & 0x0fffffff : 0;
	f->data_off = data_sec * bps;
	f->nclusters = (uint32_t)(nclus > 0x0ffffff0 ? 0x0ffffff0 : nclus);
	if ((f->bits == 32) != (root_ent == 0) || (uint64_t)fatsz * bps > MIG_FAT_MAX_TABLE) {
		mig_fat_close(f);
		return (uint64_t)fatsz * bps > MIG_FAT_MAX_TABLE ? -EFBIG : -EBADMSG;
	}
	f->table_len = (size_t)fatsz * bps;
	if (!(f->table = malloc(f->table_len))) {
		mig_fat_close(f);
		return -ENOMEM;
	}
	if ((r = read(ctx, offset + (uint64_t)rsvd * bps, f->table, f->table_len)) < 0) {
		mig_fat_close(f);
		return r;
	}
	*ret = f;
	return 0;
}

/* The cluster after cl: 0 at the end of the chain, -EBADMSG if broken. */
static int64_t next_cluster(const struct mig_fat *f, uint32_t cl)
{
	uint64_t off;
	uint32_t v;

	switch (f->bits) {
	case 12:
		off = cl + cl / 2;
		if (off + 2 > f->table_len)
			return -EBADMSG;
		v = le16(f->table + off);
		v = cl & 1 ? v >> 4 : v & 0xfff;
		if (v >= 0xff8)
			return 0;
		break;
	case 16:
		off = (uint64_t)cl * 2;
		if (off + 2 > f->table_len)
			return -EBADMSG;
		v = le16(f->table + off);
		if (v >= 0xfff8)
			return 0;
		break;
	default:
		off = (uint64_t)cl * 4;
		if (off + 4 > f->table_len)
			return -EBADMSG;
		v = mig_le32(f->table + off) & 0x0fffffff;
		if (v >= 0x0ffffff8)
			return 0;
	}
	if (v < 2 || v - 2 >= f->nclusters)
		return -EBADMSG;
	return v;
}

static bool valid_cluster(const struct mig_fat *f, uint32_t cl)
{
	return cl >= 2 && cl - 2 < f->nclusters;
}

static uint64_t cluster_off(const struct mig_fat *f, uint32_t cl)
{
	return f->offset + f->data_off + (uint64_t)(cl - 2) * f->cluster_size;
}

/* Reads a directory's raw entries (a chain, or the fixed FAT12/16 root). */
static int read_dir_raw(struct mig_fat *f, uint32_t cluster, uint8_t **ret, size_t *ret_len)
{
	size_t max = (size_t)MIG_FAT_MAX_DIR_ENTRIES * 32, len = 0;
	uint8_t *buf;
	int r;

	if (cluster == 0 && f->bits != 32) {
		len = (size_t)f->root_entries * 32;
		if (!(buf = malloc(len ? len : 1)))
			return -ENOMEM;
		if ((r = f->read(f->ctx, f->offset + f->root_off, buf, len)) < 0) {
			free(buf);
			return r;
		}
		*ret = buf;
		*ret_len = len;
		return 0;
	}
	if (cluster == 0)
		cluster = f->root_cluster;
	if (!valid_cluster(f, cluster))
		return -EBADMSG;
	buf = NULL;
	for (uint32_t n = 0; cluster; n++) {
		if (len + f->cluster_size > max || n > f->nclusters) {
			free(buf);
			return -EBADMSG;   /* too long, or a loop */
		}
		uint8_t *nb = realloc(buf, len + f->cluster_size);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		if ((r = f->read(f->ctx, cluster_off(f, cluster), buf + len, f->cluster_size)) < 0) {
			free(buf);
			return r;
		}
		len += f->cluster_size;
		int64_t next = next_cluster(f, cluster);
		if (next < 0) {
			free(buf);
			return (int)next;
		}
		cluster = (uint32_t)next;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static size_t put_utf8(char *o, uint16_t c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	o[0] = (char)(0xe0 | c >> 12);
	o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[2] = (char)(0x80 | (c & 0x3f));
	return 3;
}

int mig_fat_list(struct mig_fat *f, const struct mig_fat_entry *dir, mig_fat_dir_fn fn, void *data)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	uint16_t lfn[260];
	bool have_lfn = false;
	int r;

	if (dir && !dir->dir)
		return -ENOTDIR;
	if ((r = read_dir_raw(f, dir ? dir->cluster : 0, &buf, &len)) < 0)
		return r;
	memset(lfn, 0, sizeof(lfn));
	r = 0;
	for (size_t off = 0; off + 32 <= len && r == 0; off += 32) {
		const uint8_t *e = buf + off;
		uint8_t attr = e[11];

		if (e[0] == 0)
			break;
		if (e[0] == 0xe5) {
			have_lfn = false;
			continue;
		}
		if ((attr & 0x3f) == 0x0f) {
			/* VFAT long-name piece: 13 UCS-2 characters at seq*13 */
			unsigned seq = e[0] & 0x1f;
			static const uint8_t pos[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
			if (seq == 0 || seq > 20)
				continue;
			if (e[0] & 0x40) {
				memset(lfn, 0, sizeof(lfn));
				have_lfn = true;
			}
			for (int i = 0; i < 13; i++)
				lfn[(seq - 1) * 13 + i] = le16(e + pos[i]);
			continue;
		}
		if (attr & 0x08) {      /* volume label */
			have_lfn = false;
			continue;
		}
		struct mig_fat_entry ent = { .dir = attr & 0x10 };
		ent.cluster = (uint32_t)le16(e + 0x1a) | (f->bits == 32 ? (uint32_t)le16(e + 0x14) << 16 : 0);
		ent.size = mig_le32(e + 0x1c);
		size_t o = 0;
		if (have_lfn) {
			for (size_t i = 0; i < 260 && lfn[i] && lfn[i] != 0xffff && o + 4 < sizeof(ent.name); i++)
				o += put_utf8(ent.name + o, lfn[i]);
		}
		if (o == 0) {
			/* 8.3, with the NT lowercase flags */
			bool lb = e[12] & 0x08, le = e[12] & 0x10;
			for (int i = 0; i < 8 && e[i] != ' '; i++)
				ent.name[o++] = (char)(lb && e[i] >= 'A' && e[i] <= 'Z' ? e[i] + 32 : e[i]);
			if (ent.name[0] == 0x05)
				ent.name[0] = (char)0xe5;
			if (e[8] != ' ')
				ent.name[o++] = '.';
			for (int i = 8; i < 11 && e[i] != ' '; i++)
				ent.name[o++] = (char)(le && e[i] >= 'A' && e[i] <= 'Z' ? e[i] + 32 : e[i]);
		}
		ent.name[o] = 0;
		have_lfn = false;
		if (!strcmp(ent.name, ".") || !strcmp(ent.name, "..") || !o)
			continue;
		r = fn(&ent, data);
	}
	free(buf);
	return r;
}

struct find {
	const char *name;
	struct mig_fat_entry *out;
};

static int find_cb(const struct mig_fat_entry *e, void *data)
{
	struct find *fd = data;

	if (strcasecmp(e->name, fd->name))
		return 0;
	*fd->out = *e;
	return 1;
}

int mig_fat_lookup(struct mig_fat *f, const char *path, struct mig_fat_entry *ret)
{
	struct mig_fat_entry cur = { .dir = true, .cluster = 0 };
	char comp[256];
	int depth = 0;

	while (*path) {
		size_t l = strcspn(path, "/");
		if (l == 0) {
			path++;
			continue;
		}
		if (l >= sizeof(comp) || ++depth > MIG_FAT_MAX_DEPTH)
			return -ENOENT;
		memcpy(comp, path, l);
		comp[l] = 0;
		path += l;
		if (!cur.dir)
			return -ENOTDIR;
		struct mig_fat_entry next;
		struct find fd = { comp, &next };
		int r = mig_fat_list(f, cur.cluster || depth > 1 ? &cur : NULL, find_cb, &fd);
		if (r < 0)
			return r;
		if (r == 0)
			return -ENOENT;
		/* a subdirectory entry with cluster 0 means the root */
		cur = next;
	}
	*ret = cur;
	return 0;
}

int mig_fat_read(struct mig_fat *f, const struct mig_fat_entry *e, size_t max, uint8_t **ret,
		 size_t *ret_len)
{
	uint8_t *buf;
	uint32_t cl = e->cluster;
	size_t len = 0;
	int r;

	if (e->dir)
		return -EISDIR;
	if (e->size > max)
		return -EFBIG;
	if (!(buf = malloc((size_t)e->size + 1)))
		return -ENOMEM;
	for (uint32_t n = 0; len < e->size; n++) {
		if (!valid_cluster(f, cl) || n > f->nclusters) {
			free(buf);
			return -EBADMSG;
		}
		size_t chunk = e->size - len < f->cluster_size ? e->size - len : f->cluster_size;
		if ((r = f->read(f->ctx, cluster_off(f, cl), buf + len, chunk)) < 0) {
			free(buf);
			return r;
		}
		len += chunk;
		if (len < e->size) {
			int64_t next = next_cluster(f, cl);
			if (next <= 0) {
				free(buf);
				return -EBADMSG;
			}
			cl = (uint32_t)next;
		}
	}
	buf[len] = 0;
	*ret = buf;
	*ret_len = len;
	return 0;
}
