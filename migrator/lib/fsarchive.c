/* fsarchive.c — a directory tree as a pax archive and back (fsarchive.h). */
#include "fsarchive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define XATTR_ACL_ACCESS  "system.posix_acl_access"
#define XATTR_ACL_DEFAULT "system.posix_acl_default"
#define ACL_XATTR_VERSION 2
#define ACL_MAX_ENTRIES   4096   /* what ext4 holds in one block, with room */

/* POSIX ACL tags as the kernel's xattr format spells them. */
enum { K_USER_OBJ = 0x01, K_USER = 0x02, K_GROUP_OBJ = 0x04, K_GROUP = 0x08, K_MASK = 0x10, K_OTHER = 0x20 };

static const struct { int k, la; } acl_tags[] = {
	{ K_USER_OBJ, ARCHIVE_ENTRY_ACL_USER_OBJ }, { K_USER, ARCHIVE_ENTRY_ACL_USER },
	{ K_GROUP_OBJ, ARCHIVE_ENTRY_ACL_GROUP_OBJ }, { K_GROUP, ARCHIVE_ENTRY_ACL_GROUP },
	{ K_MASK, ARCHIVE_ENTRY_ACL_MASK }, { K_OTHER, ARCHIVE_ENTRY_ACL_OTHER },
};

static int tag_k2la(int k)
{
	for (size_t i = 0; i < sizeof(acl_tags) / sizeof(acl_tags[0]); i++)
		if (acl_tags[i].k == k)
			return acl_tags[i].la;
	return -1;
}

static int tag_la2k(int la)
{
	for (size_t i = 0; i < sizeof(acl_tags) / sizeof(acl_tags[0]); i++)
		if (acl_tags[i].la == la)
			return acl_tags[i].k;
	return -1;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

/* The working directory of this thread alone, so libarchive's chdir()s stay
 * here; *saved gets the old one back in cwd_restore(). */
static int cwd_private(int *saved)
{
	*saved = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*saved < 0)
		*saved = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*saved < 0)
		return -errno;
	if (unshare(CLONE_FS) < 0) {
		int e = -errno;
		close(*saved);
		*saved = -1;
		return e;
	}
	return 0;
}

static void cwd_restore(int saved)
{
	if (saved >= 0) {
		if (fchdir(saved) < 0) { /* the directory went away: nothing to go back to */ }
		close(saved);
	}
}

static void progress(const struct mig_archive_opts *o, const struct mig_archive_stats *st,
		     uint64_t *last_entries, uint64_t *last_bytes, bool force)
{
	if (!o || !o->progress)
		return;
	if (!force && st->entries - *last_entries < 64 && st->data_bytes - *last_bytes < (16u << 20))
		return;
	*last_entries = st->entries;
	*last_bytes = st->data_bytes;
	o->progress(o->ud, st);
}

/* ---- pack ------------------------------------------------------------- */

struct pack {
	mig_archive_write_fn wr;
	void *ud;
	int cb_err;
	struct mig_archive_stats st;
};

static la_ssize_t pack_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct pack *p = ud;
	int r = p->wr(p->ud, buf, len);

	if (r < 0) {
		p->cb_err = r;
		archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	p->st.archive_bytes += len;
	return (la_ssize_t)len;
}

/* Adds the POSIX ACL stored in attribute name of path to e as type.
 * 0, or -errno (-EBADMSG for an attribute that is not an ACL). */
static int pack_acl(struct archive_entry *e, const char *path, const char *name, int type)
{
	uint8_t buf[4 + 8 * ACL_MAX_ENTRIES];
	ssize_t n = lgetxattr(path, name, buf, sizeof(buf));

	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP ? 0 : -errno;
	if (n < 4 || (n - 4) % 8 || le32(buf) != ACL_XATTR_VERSION)
		return -EBADMSG;
	for (ssize_t i = 4; i < n; i += 8) {
		int tag = tag_k2la(buf[i] | buf[i + 1] << 8);
		int perm = (buf[i + 2] | buf[i + 3] << 8) & 7;
		uint32_t id = le32(buf + i + 4);

		if (tag < 0)
			return -EBADMSG;
		/* The execute/write/read bits have the same values in both. */
		if (archive_entry_acl_add_entry(e, type, perm, tag,
						tag == ARCHIVE_ENTRY_ACL_USER || tag == ARCHIVE_ENTRY_ACL_GROUP ?
						(int)id : -1, NULL) != ARCHIVE_OK)
			return -EBADMSG;
	}
	return 0;
}

static int pack_data(struct archive *disk, struct archive *out, struct pack *p, const char *name,
		     char *why, size_t whylen)
{
	static const uint8_t zeros[65536];
	int64_t done = 0;

	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(disk, &buf, &len, &off);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK) {
			snprintf(why, whylen, "cannot read %s: %s", name, archive_error_string(disk));
			return -EIO;
		}
		/* A hole: the pax writer drops zeros that fall in the entry's
		 * sparse map, so they cost nothing on the wire. */
		while (done < off) {
			size_t n = off - done < (int64_t)sizeof(zeros) ? (size_t)(off - done) : sizeof(zeros);
			if (archive_write_data(out, zeros, n) < 0)
				goto werr;
			done += n;
		}
		if (len && archive_write_data(out, buf, len) < 0)
			goto werr;
		done += len;
		p->st.data_bytes += len;
	}
werr:
	if (p->cb_err)
		return p->cb_err;
	snprintf(why, whylen, "cannot archive %s: %s", name, archive_error_string(out));
	return -EIO;
}

int mig_archive_pack(const char *root, mig_archive_write_fn wr, void *ud,
		     const struct mig_archive_opts *o, struct mig_archive_stats *ret_stats,
		     char *why, size_t whylen)
{
	struct pack p = { .wr = wr, .ud = ud };
	struct archive *disk = NULL, *out = NULL;
	struct archive_entry_linkresolver *lr = NULL;
	struct archive_entry *e = NULL, *spare = NULL;
	char *rootc = NULL;
	size_t rootlen;
	uint64_t le = 0, lb = 0;
	int saved = -1, r;
	struct stat st;

	why[0] = 0;
	if (stat(root, &st) < 0) {
		snprintf(why, whylen, "%s: %s", root, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s is not a directory", root);
		return -ENOTDIR;
	}
	rootc = strdup(root);
	if (!rootc)
		return -ENOMEM;
	rootlen = strlen(rootc);
	while (rootlen > 1 && rootc[rootlen - 1] == '/')
		rootc[--rootlen] = 0;
	r = cwd_private(&saved);
	if (r < 0) {
		snprintf(why, whylen, "cannot get a private working directory: %s", strerror(-r));
		goto out;
	}

	disk = archive_read_disk_new();
	out = archive_write_new();
	lr = archive_entry_linkresolver_new();
	e = archive_entry_new();
	if (!disk || !out || !lr || !e) {
		r = -ENOMEM;
		goto out;
	}
	archive_entry_linkresolver_set_strategy(lr, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE);
	archive_read_disk_set_symlink_physical(disk);
	/* ACLs come from their attributes here (the static build has no libacl). */
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_ACL);
	/* Names are bytes (a filesystem's names need not be UTF-8): stored as
	 * they are, marked hdrcharset=BINARY, never converted. */
	if (archive_write_set_format_pax(out) != ARCHIVE_OK ||
	    archive_write_set_format_option(out, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(out, MIG_ARCHIVE_BLOCK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(out, 1) != ARCHIVE_OK ||
	    archive_write_open(out, &p, NULL, pack_write, NULL) != ARCHIVE_OK) {
		snprintf(why, whylen, "cannot start the archive: %s", archive_error_string(out));
		r = p.cb_err ? p.cb_err : -EIO;
		goto out;
	}
	if (archive_read_disk_open(disk, rootc) != ARCHIVE_OK) {
		snprintf(why, whylen, "cannot walk %s: %s", rootc, archive_error_string(disk));
		r = -EIO;
		goto out;
	}

	for (;;) {
		archive_entry_clear(e);
		r = archive_read_next_header2(disk, e);
		if (r == ARCHIVE_EOF)
			break;
		const char *src = archive_entry_sourcepath(e);
		if (!src)
			src = archive_entry_pathname(e);
		if (r != ARCHIVE_OK) {
			snprintf(why, whylen, "cannot read %s: %s", src ? src : rootc, archive_error_string(disk));
			r = -EIO;
			goto out;
		}
		archive_read_disk_descend(disk);
		if (archive_entry_filetype(e) == AE_IFSOCK) {
			p.st.sockets_skipped++;
			continue;
		}
		/* The name relative to the root (from a copy: the entry's own
		 * string is about to be replaced). */
		char *fullc = strdup(archive_entry_pathname(e));
		if (!fullc) {
			r = -ENOMEM;
			goto out;
		}
		const char *rel;
		if (strcmp(fullc, rootc) == 0)
			rel = ".";
		else if (strcmp(rootc, "/") == 0 && fullc[0] == '/')
			rel = fullc + 1;
		else if (strncmp(fullc, rootc, rootlen) == 0 && fullc[rootlen] == '/')
			rel = fullc + rootlen + 1;
		else {
			snprintf(why, whylen, "%s is outside %s", fullc, rootc);
			free(fullc);
			r = -EIO;
			goto out;
		}
		archive_entry_copy_sourcepath(e, fullc);
		archive_entry_copy_pathname(e, rel);
		/* No name lookups: numeric owners are what the target's files use. */
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
		if (archive_entry_filetype(e) != AE_IFLNK) {
			r = pack_acl(e, fullc, XATTR_ACL_ACCESS, ARCHIVE_ENTRY_ACL_TYPE_ACCESS);
			if (r == 0 && archive_entry_filetype(e) == AE_IFDIR)
				r = pack_acl(e, fullc, XATTR_ACL_DEFAULT, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT);
			if (r < 0) {
				snprintf(why, whylen, "cannot read the ACL of %s: %s", fullc, strerror(-r));
				free(fullc);
				r = -EIO;
				goto out;
			}
		}
		free(fullc);

		struct archive_entry *w = e;
		archive_entry_linkify(lr, &w, &spare);
		/* pax strategy: the first link carries the data, later ones are
		 * size-0 hard links; nothing is held back. */
		if (!w)
			continue;
		bool has_data = archive_entry_filetype(w) == AE_IFREG && archive_entry_size(w) > 0 &&
				!archive_entry_hardlink(w);
		r = archive_write_header(out, w);
		if (r < ARCHIVE_WARN) {
			snprintf(why, whylen, "cannot archive %s: %s", archive_entry_sourcepath(w),
				 archive_error_string(out));
			r = p.cb_err ? p.cb_err : -EIO;
			goto out;
		}
		if (r == ARCHIVE_WARN) {
			/* e.g. an attribute the format cannot carry: not exact, so stop */
			snprintf(why, whylen, "cannot archive %s exactly: %s", archive_entry_sourcepath(w),
				 archive_error_string(out));
			r = -EIO;
			goto out;
		}
		p.st.entries++;
		if (archive_entry_filetype(w) == AE_IFREG && !archive_entry_hardlink(w))
			p.st.files++;
		if (has_data) {
			r = pack_data(disk, out, &p, archive_entry_sourcepath(w), why, whylen);
			if (r < 0)
				goto out;
		}
		if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
			snprintf(why, whylen, "cannot archive %s: %s", archive_entry_sourcepath(w),
				 archive_error_string(out));
			r = p.cb_err ? p.cb_err : -EIO;
			goto out;
		}
		progress(o, &p.st, &le, &lb, false);
	}
	if (archive_write_close(out) != ARCHIVE_OK) {
		snprintf(why, whylen, "cannot end the archive: %s", archive_error_string(out));
		r = p.cb_err ? p.cb_err : -EIO;
		goto out;
	}
	progress(o, &p.st, &le, &lb, true);
	if (ret_stats)
		*ret_stats = p.st;
	r = 0;
out:
	archive_entry_free(e);
	archive_entry_free(spare);
	archive_entry_linkresolver_free(lr);
	if (disk)
		archive_read_free(disk);
	if (out)
		archive_write_free(out);
	cwd_restore(saved);
	free(rootc);
	return r;
}

/* ---- unpack ----------------------------------------------------------- */

struct unpack {
	mig_archive_read_fn rd;
	void *ud;
	int cb_err;
	struct mig_archive_stats st;
	/* directories finished after libarchive's close: their ACLs wait for
	 * its deferred chmod; the times of one that existed already (the
	 * root, lost+found) are set at once by libarchive and then changed
	 * by the entries made in it */
	struct dir_fix {
		char *path;
		uint8_t *acc, *def;
		size_t acclen, deflen;
		bool times;
		struct timespec ts[2];
	} *dirs;
	size_t ndirs, capdirs;
};

static la_ssize_t unpack_read(struct archive *a, void *ud, const void **buf)
{
	struct unpack *u = ud;
	ssize_t n = u->rd(u->ud, buf);

	if (n < 0) {
		u->cb_err = (int)n;
		archive_set_error(a, (int)-n, "%s", strerror((int)-n));
		return -1;
	}
	u->st.archive_bytes += (uint64_t)n;
	return n;
}

static int cmp_kentry(const void *a, const void *b)
{
	const uint8_t *x = a, *y = b;
	int tx = x[0] | x[1] << 8, ty = y[0] | y[1] << 8;

	if (tx != ty)
		return tx < ty ? -1 : 1;
	uint32_t ix = le32(x + 4), iy = le32(y + 4);
	return ix < iy ? -1 : ix > iy;
}

/* The kernel's xattr form of e's ACL of type (entries sorted as the kernel
 * wants them), or *ret NULL when it has none beyond the mode. */
static int acl_blob(struct archive_entry *e, int type, uint8_t **ret, size_t *ret_len)
{
	int n = archive_entry_acl_reset(e, type);
	int t, perm, tag, id;
	const char *name;
	uint8_t *b;
	size_t k = 0;

	*ret = NULL;
	*ret_len = 0;
	if (n <= 0 || n > ACL_MAX_ENTRIES)
		return n > ACL_MAX_ENTRIES ? -E2BIG : 0;
	b = malloc(4 + 8 * (size_t)n);
	if (!b)
		return -ENOMEM;
	put32(b, ACL_XATTR_VERSION);
	while (k < (size_t)n && archive_entry_acl_next(e, type, &t, &perm, &tag, &id, &name) == ARCHIVE_OK) {
		int kt = tag_la2k(tag);
		uint8_t *p = b + 4 + 8 * k;

		if (kt < 0) {
			free(b);
			return -EINVAL;
		}
		put16(p, (uint16_t)kt);
		put16(p + 2, (uint16_t)(perm & 7));
		put32(p + 4, kt == K_USER || kt == K_GROUP ? (uint32_t)id : 0xffffffffu);
		k++;
	}
	if (k == 0) {
		free(b);
		return 0;
	}
	qsort(b + 4, k, 8, cmp_kentry);
	*ret = b;
	*ret_len = 4 + 8 * k;
	return 0;
}

static int set_acl(const char *path, const char *name, const uint8_t *b, size_t len)
{
	return b && lsetxattr(path, name, b, len, 0) < 0 ? -errno : 0;
}

/* "..", absolute names: refused here as well as by libarchive's flags, so a
 * hostile archive fails with a clear reason. */
static bool name_ok(const char *n)
{
	if (!n || !*n || n[0] == '/')
		return false;
	for (const char *p = n; *p;) {
		size_t l = strcspn(p, "/");
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += l;
		while (*p == '/')
			p++;
	}
	return true;
}

int mig_archive_unpack(const char *root, mig_archive_read_fn rd, void *ud,
		       const struct mig_archive_opts *o, struct mig_archive_stats *ret_stats,
		       char *why, size_t whylen)
{
	struct unpack u = { .rd = rd, .ud = ud };
	struct archive *in = NULL, *out = NULL;
	struct archive_entry *e;
	uint64_t le = 0, lb = 0;
	int saved = -1, rootfd = -1, r;
	const int flags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
			  ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_FFLAGS | ARCHIVE_EXTRACT_SPARSE |
			  ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
			  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;

	why[0] = 0;
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = -errno;
		snprintf(why, whylen, "%s: %s", root, strerror(errno));
		return r;
	}
	r = cwd_private(&saved);
	if (r < 0) {
		snprintf(why, whylen, "cannot get a private working directory: %s", strerror(-r));
		goto out;
	}
	if (fchdir(rootfd) < 0) {
		r = -errno;
		snprintf(why, whylen, "%s: %s", root, strerror(errno));
		goto out;
	}
	in = archive_read_new();
	out = archive_write_disk_new();
	if (!in || !out) {
		r = -ENOMEM;
		goto out;
	}
	/* Only tar (pax, ustar, gnu): no other format, no filter. */
	archive_read_support_format_tar(in);
	/* ACLs: restored below from the entry (no libacl in the static build). */
	archive_write_disk_set_options(out, flags);
	if (archive_read_open(in, &u, NULL, unpack_read, NULL) != ARCHIVE_OK) {
		r = u.cb_err ? u.cb_err : -EBADMSG;
		snprintf(why, whylen, "not an archive: %s", archive_error_string(in));
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(in, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK) {
			snprintf(why, whylen, "corrupt archive after %llu entries: %s",
				 (unsigned long long)u.st.entries, archive_error_string(in));
			r = u.cb_err ? u.cb_err : -EBADMSG;
			goto out;
		}
		const char *name = archive_entry_pathname(e);
		const char *hl = archive_entry_hardlink(e);
		if (!name_ok(name) || (hl && !name_ok(hl))) {
			snprintf(why, whylen, "refused entry %s%s%s: absolute or with '..'",
				 name ? name : "(no name)", hl ? " (hard link to) " : "", hl ? hl : "");
			r = -EPERM;
			goto out;
		}
		if (hl && archive_entry_size(e) > 0) {
			snprintf(why, whylen, "refused entry %s: a hard link carrying data", name);
			r = -EPERM;
			goto out;
		}
		struct stat old;
		bool existed = archive_entry_filetype(e) == AE_IFDIR && lstat(name, &old) == 0 &&
			       S_ISDIR(old.st_mode);
		r = archive_write_header(out, e);
		if (r != ARCHIVE_OK) {
			snprintf(why, whylen, "refused entry %s: %s", name, archive_error_string(out));
			/* libarchive's secure checks answer ARCHIVE_FAILED */
			r = r == ARCHIVE_FAILED ? -EPERM : -EIO;
			goto out;
		}
		if (archive_entry_size(e) > 0 && !hl) {
			for (;;) {
				const void *buf;
				size_t len;
				la_int64_t off;
				int rr = archive_read_data_block(in, &buf, &len, &off);
				if (rr == ARCHIVE_EOF)
					break;
				if (rr != ARCHIVE_OK) {
					snprintf(why, whylen, "corrupt archive in %s: %s", name,
						 archive_error_string(in));
					r = u.cb_err ? u.cb_err : -EBADMSG;
					goto out;
				}
				if (archive_write_data_block(out, buf, len, off) != ARCHIVE_OK) {
					snprintf(why, whylen, "cannot write %s: %s", name, archive_error_string(out));
					r = -EIO;
					goto out;
				}
				u.st.data_bytes += len;
			}
		}
		if (archive_write_finish_entry(out) != ARCHIVE_OK) {
			snprintf(why, whylen, "cannot restore %s: %s", name, archive_error_string(out));
			r = -EIO;
			goto out;
		}
		u.st.entries++;
		if (archive_entry_filetype(e) == AE_IFREG && !hl)
			u.st.files++;

		uint8_t *acc = NULL, *def = NULL;
		size_t acclen = 0, deflen = 0;
		r = acl_blob(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, &acc, &acclen);
		if (r == 0)
			r = acl_blob(e, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, &def, &deflen);
		if (r < 0) {
			free(acc);
			snprintf(why, whylen, "bad ACL on %s", name);
			goto out;
		}
		if (archive_entry_filetype(e) == AE_IFDIR && (acc || def || existed)) {
			/* after close: the deferred chmod of directories would
			 * reset the mask, and a default ACL set now would leak
			 * into the files created below it */
			if (u.ndirs >= MIG_ARCHIVE_MAX_ACL_DIRS) {
				free(acc);
				free(def);
				snprintf(why, whylen, "more than %u directories to finish at the end (with ACLs, or existing before)", MIG_ARCHIVE_MAX_ACL_DIRS);
				r = -E2BIG;
				goto out;
			}
			if (u.ndirs == u.capdirs) {
				size_t nc = u.capdirs ? 2 * u.capdirs : 64;
				void *nd = realloc(u.dirs, nc * sizeof(*u.dirs));
				if (!nd) {
					free(acc);
					free(def);
					r = -ENOMEM;
					goto out;
				}
				u.dirs = nd;
				u.capdirs = nc;
			}
			struct dir_fix *d = &u.dirs[u.ndirs];
			d->path = strdup(name);
			if (!d->path) {
				free(acc);
				free(def);
				r = -ENOMEM;
				goto out;
			}
			d->acc = acc, d->acclen = acclen, d->def = def, d->deflen = deflen;
			d->times = existed;
			d->ts[0].tv_sec = archive_entry_atime(e);
			d->ts[0].tv_nsec = archive_entry_atime_nsec(e);
			d->ts[1].tv_sec = archive_entry_mtime(e);
			d->ts[1].tv_nsec = archive_entry_mtime_nsec(e);
			if (!archive_entry_atime_is_set(e))
				d->ts[0].tv_nsec = UTIME_OMIT;
			if (!archive_entry_mtime_is_set(e))
				d->ts[1].tv_nsec = UTIME_OMIT;
			u.ndirs++;
		} else if (acc) {
			r = set_acl(name, XATTR_ACL_ACCESS, acc, acclen);
			free(acc);
			free(def);
			if (r < 0) {
				snprintf(why, whylen, "cannot restore the ACL of %s: %s", name, strerror(-r));
				r = -EIO;
				goto out;
			}
		} else {
			free(def);
		}
		progress(o, &u.st, &le, &lb, false);
	}
	if (archive_write_close(out) != ARCHIVE_OK) {
		snprintf(why, whylen, "cannot restore directories: %s", archive_error_string(out));
		r = -EIO;
		goto out;
	}
	for (size_t i = 0; i < u.ndirs; i++) {
		struct dir_fix *d = &u.dirs[i];
		r = set_acl(d->path, XATTR_ACL_ACCESS, d->acc, d->acclen);
		if (r == 0)
			r = set_acl(d->path, XATTR_ACL_DEFAULT, d->def, d->deflen);
		if (r == 0 && d->times && utimensat(AT_FDCWD, d->path, d->ts, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
		if (r < 0) {
			snprintf(why, whylen, "cannot restore the ACL or times of %s: %s", d->path, strerror(-r));
			r = -EIO;
			goto out;
		}
	}
	progress(o, &u.st, &le, &lb, true);
	if (ret_stats)
		*ret_stats = u.st;
	r = 0;
out:
	for (size_t i = 0; i < u.ndirs; i++) {
		free(u.dirs[i].path);
		free(u.dirs[i].acc);
		free(u.dirs[i].def);
	}
	free(u.dirs);
	if (in)
		archive_read_free(in);
	if (out)
		archive_write_free(out);
	cwd_restore(saved);
	if (rootfd >= 0)
		close(rootfd);
	return r;
}
