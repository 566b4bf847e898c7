/* usedmap.c — see usedmap.h. libblkid finds the partition table and the
 * signatures, extfs.c reads the ext bitmaps, xfsfs.c the XFS free-space
 * btrees, and this file keeps the result
 * as one sorted array of free ranges. */
#include "usedmap.h"

#include <blkid.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTOR 512      /* libblkid gives partition starts and sizes in 512-byte sectors */
#define MIN_RANGE_FIRST 4096

struct range {
	uint64_t off, len;
};

struct mig_usedmap {
	uint64_t disk_size, free_bytes, min_range;
	struct range *v;
	size_t n, cap;
	struct mig_usedmap_area *areas;
	size_t nareas;
};

/* --- the range array ------------------------------------------------------ */

/* Drops ranges shorter than m->min_range. */
static void compact(struct mig_usedmap *m)
{
	size_t k = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].len >= m->min_range)
			m->v[k++] = m->v[i];
	m->n = k;
}

/* Appends [off, off+len), which lies after every range so far; merges with
 * the last range when adjacent and at or after floor (the area's start:
 * ranges of two areas are never merged, so an area can be taken back). */
static int push_range(struct mig_usedmap *m, uint64_t off, uint64_t len, uint64_t floor)
{
	if (m->n && m->v[m->n - 1].off >= floor && m->v[m->n - 1].off + m->v[m->n - 1].len == off) {
		m->v[m->n - 1].len += len;
		return 0;
	}
	if (len < m->min_range)
		return 0;
	while (m->n == MIG_USEDMAP_MAX_RANGES) {
		m->min_range = m->min_range ? m->min_range * 2 : MIN_RANGE_FIRST;
		compact(m);
		if (len < m->min_range)
			return 0;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct range *v;

		if (cap > MIG_USEDMAP_MAX_RANGES)
			cap = MIG_USEDMAP_MAX_RANGES;
		v = realloc(m->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = (struct range){ off, len };
	return 0;
}

/* Takes back every range of an area that was refused halfway. */
static void drop_from(struct mig_usedmap *m, uint64_t floor)
{
	while (m->n && m->v[m->n - 1].off >= floor)
		m->n--;
}

/* --- reading one area ------------------------------------------------------ */

struct area_io {
	int fd;
	uint64_t base, size;
	struct mig_usedmap *m;
};

static int area_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct area_io *io = ctx;
	uint8_t *p = buf;

	if (off > io->size || len > io->size - off)
		return -EIO;
	while (len) {
		ssize_t n = pread(io->fd, p, len, (off_t)(io->base + off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int area_add_free(void *ud, uint64_t off, uint64_t len)
{
	struct area_io *io = ud;

	if (off > io->size || len > io->size - off)
		return -EINVAL;     /* the parsers never do this; belt and braces */
	return push_range(io->m, io->base + off, len, io->base);
}

static bool is_ext(const char *type)
{
	return !strcmp(type, "ext2") || !strcmp(type, "ext3") || !strcmp(type, "ext4") ||
	       !strcmp(type, "ext4dev");
}

static void set_reason(struct mig_usedmap_area *a, const char *s)
{
	snprintf(a->reason, sizeof(a->reason), "%s", s);
}

/* Probes one area's signature and, for ext2/3/4 and xfs, maps its free blocks. Only
 * -ENOMEM is an error; everything else ends in the area's status. */
static int map_area(struct mig_usedmap *m, int fd, struct mig_usedmap_area *a)
{
	blkid_probe pr = blkid_new_probe();
	const char *type = NULL;
	int r;

	a->status = MIG_USEDMAP_OTHER;
	if (!pr)
		return -ENOMEM;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)a->offset, (blkid_loff_t)a->size) != 0) {
		set_reason(a, "cannot be probed");
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 0);
	r = blkid_do_safeprobe(pr);
	if (r == -2) {
		set_reason(a, "more than one signature (ambivalent)");
		goto out;
	}
	if (r != 0) {
		if (r < 0)
			set_reason(a, "cannot be probed");
		goto out;
	}
	if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL) != 0 || !type)
		goto out;
	snprintf(a->fstype, sizeof(a->fstype), "%s", type);
	bool xfs = !strcmp(type, "xfs");
	if (!is_ext(type) && !xfs)
		goto out;

	struct area_io io = { .fd = fd, .base = a->offset, .size = a->size, .m = m };
	if (xfs)
		r = mig_xfs_free_ranges(area_read, &io, a->size, area_add_free, &io, &a->xfs);
	else
		r = mig_extfs_free_ranges(area_read, &io, a->size, area_add_free, &io, &a->ext);
	const char *why = xfs ? a->xfs.reason : a->ext.reason;
	if (r == -ENOMEM) {
		drop_from(m, a->offset);
		blkid_free_probe(pr);
		return r;
	}
	if (r < 0) {
		drop_from(m, a->offset);
		a->status = MIG_USEDMAP_REFUSED;
		a->error = r;
		if (why[0])
			set_reason(a, why);
		else
			snprintf(a->reason, sizeof(a->reason), "cannot be read: %s", strerror(-r));
		goto out;
	}
	a->status = MIG_USEDMAP_MAPPED;
	if (xfs && a->xfs.note[0])
		set_reason(a, a->xfs.note);
out:
	blkid_free_probe(pr);
	return 0;
}

/* --- the disk -------------------------------------------------------------- */

static int cmp_area(const void *x, const void *y)
{
	const struct mig_usedmap_area *a = x, *b = y;

	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static struct mig_usedmap_area *new_area(struct mig_usedmap *m)
{
	struct mig_usedmap_area *a = &m->areas[m->nareas++];

	memset(a, 0, sizeof(*a));
	a->status = MIG_USEDMAP_OTHER;
	return a;
}

/* Reads the partition table into m->areas, not yet probed. An area that
 * leaves the disk or overlaps another gets a reason and is never probed: a
 * free block of one could be a used block of the other. */
static void read_partitions(struct mig_usedmap *m, blkid_partlist ls)
{
	int n = blkid_partlist_numof_partitions(ls);

	for (int i = 0; i < n && m->nareas < MIG_USEDMAP_MAX_AREAS; i++) {
		blkid_partition par = blkid_partlist_get_partition(ls, i);
		uint64_t off, len;

		if (!par || blkid_partition_is_extended(par))
			continue;       /* the container; its logical partitions follow */
		blkid_loff_t start = blkid_partition_get_start(par), size = blkid_partition_get_size(par);
		int partno = blkid_partition_get_partno(par);
		struct mig_usedmap_area *a = new_area(m);

		a->partno = partno > 0 ? (size_t)partno : 0;
		if (start < 0 || size <= 0 ||
		    __builtin_mul_overflow((uint64_t)start, (uint64_t)SECTOR, &off) ||
		    __builtin_mul_overflow((uint64_t)size, (uint64_t)SECTOR, &len) ||
		    off > m->disk_size || len > m->disk_size - off) {
			set_reason(a, "extends past the end of the disk");
			continue;
		}
		a->offset = off;
		a->size = len;
	}
	qsort(m->areas, m->nareas, sizeof(*m->areas), cmp_area);
	for (size_t i = 0; i < m->nareas; i++) {
		struct mig_usedmap_area *a = &m->areas[i];

		for (size_t k = i + 1; k < m->nareas && a->size; k++) {
			struct mig_usedmap_area *b = &m->areas[k];

			if (b->offset >= a->offset + a->size)
				break;      /* sorted: no later one overlaps a either */
			if (!b->size)
				continue;
			snprintf(a->reason, sizeof(a->reason), "overlaps partition %zu", b->partno);
			snprintf(b->reason, sizeof(b->reason), "overlaps partition %zu", a->partno);
		}
	}
}

static int build(struct mig_usedmap *m, int fd)
{
	blkid_probe pr = blkid_new_probe();
	const char *pttype = NULL, *type = NULL;
	int r, rc = 0;

	if (!pr)
		return -ENOMEM;
	m->areas = calloc(MIG_USEDMAP_MAX_AREAS, sizeof(*m->areas));
	if (!m->areas) {
		rc = -ENOMEM;
		goto out;
	}
	if (blkid_probe_set_device(pr, fd, 0, (blkid_loff_t)m->disk_size) != 0) {
		rc = -EIO;
		goto out;
	}
	/* Both chains, as `blkid -p` on a whole disk: a partition table wins
	 * over a (stale) filesystem signature at the disk's start. */
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 1);
	r = blkid_do_safeprobe(pr);
	if (r < 0 && r != -2) {
		rc = -EIO;
		goto out;
	}
	if (r == -2) {
		struct mig_usedmap_area *a = new_area(m);
		a->size = m->disk_size;
		set_reason(a, "more than one signature on the whole disk (ambivalent)");
		goto out;
	}
	if (r == 0)
		blkid_probe_lookup_value(pr, "PTTYPE", &pttype, NULL);
	if (pttype) {
		blkid_partlist ls = blkid_probe_get_partitions(pr);

		if (!ls) {
			struct mig_usedmap_area *a = new_area(m);
			a->size = m->disk_size;
			set_reason(a, "the partition table cannot be read");
			goto out;
		}
		read_partitions(m, ls);
		for (size_t i = 0; i < m->nareas; i++)
			if (!m->areas[i].reason[0] && (rc = map_area(m, fd, &m->areas[i])) < 0)
				goto out;
		goto out;
	}
	struct mig_usedmap_area *a = new_area(m);
	a->size = m->disk_size;
	if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &type, NULL) == 0 && type)
		rc = map_area(m, fd, a);
	else
		set_reason(a, "no partition table and no signature on the whole disk");
out:
	blkid_free_probe(pr);
	return rc;
}

int mig_usedmap_build(int fd, uint64_t disk_size, struct mig_usedmap **ret)
{
	struct mig_usedmap *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->disk_size = disk_size;
	if ((r = build(m, fd)) < 0) {
		mig_usedmap_free(m);
		return r;
	}
	/* Totals, after any dropping of short ranges. */
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		m->free_bytes += m->v[i].len;
		while (k < m->nareas && m->areas[k].offset + m->areas[k].size <= m->v[i].off)
			k++;
		if (k < m->nareas && m->v[i].off >= m->areas[k].offset)
			m->areas[k].free_bytes += m->v[i].len;
	}
	*ret = m;
	return 0;
}

void mig_usedmap_free(struct mig_usedmap *m)
{
	if (!m)
		return;
	free(m->v);
	free(m->areas);
	free(m);
}

/* Index of the first range that ends after off, or m->n. */
static size_t first_ending_after(const struct mig_usedmap *m, uint64_t off)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].off + m->v[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int mig_usedmap_is_free(const struct mig_usedmap *m, uint64_t off, uint64_t len)
{
	uint64_t end;

	if (len == 0 || __builtin_add_overflow(off, len, &end))
		return 0;
	size_t i = first_ending_after(m, off);
	return i < m->n && m->v[i].off <= off && m->v[i].off + m->v[i].len >= end;
}

int mig_usedmap_next_free(const struct mig_usedmap *m, uint64_t off, uint64_t end,
			  uint64_t *ret_off, uint64_t *ret_len)
{
	if (off >= end)
		return 1;
	size_t i = first_ending_after(m, off);
	if (i == m->n || m->v[i].off >= end)
		return 1;
	uint64_t s = m->v[i].off > off ? m->v[i].off : off;
	uint64_t e = m->v[i].off + m->v[i].len < end ? m->v[i].off + m->v[i].len : end;
	*ret_off = s;
	*ret_len = e - s;
	return 0;
}

uint64_t mig_usedmap_free_bytes(const struct mig_usedmap *m) { return m->free_bytes; }
uint64_t mig_usedmap_disk_size(const struct mig_usedmap *m) { return m->disk_size; }
uint64_t mig_usedmap_min_range(const struct mig_usedmap *m) { return m->min_range; }

const struct mig_usedmap_area *mig_usedmap_areas(const struct mig_usedmap *m, size_t *ret_n)
{
	*ret_n = m->nareas;
	return m->areas;
}

const char *mig_usedmap_status_name(enum mig_usedmap_status s)
{
	switch (s) {
	case MIG_USEDMAP_MAPPED: return "mapped";
	case MIG_USEDMAP_REFUSED: return "refused";
	case MIG_USEDMAP_OTHER: return "other";
	}
	return "?";
}
