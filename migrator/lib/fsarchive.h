/* fsarchive.h — a directory tree as a pax archive and back (libarchive).
 *
 * Pack walks a tree (in a file-level copy: a source filesystem mounted
 * read-only) without crossing mount points and writes a pax stream through a
 * callback: regular files (holes stay holes: GNU sparse 1.0 entries), dirs,
 * symlinks, hard links (one entry with the data, the others as links),
 * character and block devices, FIFOs; numeric owners (no name lookup: the
 * rescue system's /etc/passwd is not the source's), modes, nanosecond
 * times, every extended attribute (user.*, trusted.*, security.selinux,
 * security.capability) and POSIX ACLs (SCHILY.acl.access/default, read
 * from the system.posix_acl_* attributes here, so the static build needs no
 * libacl), inode flags. Sockets cannot be archived: skipped and counted.
 * Entry names are relative to the root: "." for the root itself.
 *
 * Unpack reads such a stream through a callback into a directory (in a
 * file-level copy: the target filesystem, freshly made and mounted) with
 * libarchive's secure extraction (ARCHIVE_EXTRACT_SECURE_NODOTDOT,
 * _SECURE_SYMLINKS, _SECURE_NOABSOLUTEPATHS) plus the same checks of its
 * own, and restores everything pack carries. The first entry it cannot
 * restore exactly (a refused name, an attribute the target rejects) stops
 * it with the entry's name in why: a migration that silently drops a
 * SELinux label or a capability is the failure this module exists to avoid.
 *
 * Threads: libarchive walks and extracts with chdir()/fchdir(), so both
 * functions first unshare the calling thread's working directory
 * (unshare(CLONE_FS)): other threads keep theirs. The calling thread's
 * working directory is restored before they return. The callbacks run on
 * the calling thread.
 */
#ifndef MIGRATOR_FSARCHIVE_H
#define MIGRATOR_FSARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MIG_ARCHIVE_BLOCK (64u * 1024)   /* bytes per write callback (the last may be shorter) */
#define MIG_ARCHIVE_MAX_ACL_DIRS (1u << 20)  /* directories finished after the rest: with ACLs, or existing before (unpack) */

struct mig_archive_stats {
	uint64_t entries;         /* entries written or extracted, every type */
	uint64_t files;           /* regular files among them (hard links count once) */
	uint64_t data_bytes;      /* file content bytes (holes not counted) */
	uint64_t archive_bytes;   /* pax bytes through the callback */
	uint64_t sockets_skipped; /* pack: sockets (not archivable) */
};

struct mig_archive_opts {
	/* Called after each entry at most every 64 entries or 16 MiB of
	 * data, and once at the end; may be NULL. */
	void (*progress)(void *ud, const struct mig_archive_stats *st);
	void *ud;
};

/* Receives the archive's bytes in order: 0, or -errno to stop the pack
 * (which then returns that value). */
typedef int (*mig_archive_write_fn)(void *ud, const void *buf, size_t len);

/* Supplies the next bytes of the archive: their count with *ret_buf
 * pointing at them (valid until the next call), 0 at the end, -errno on
 * failure (unpack then returns that value). */
typedef ssize_t (*mig_archive_read_fn)(void *ud, const void **ret_buf);

/* Packs the tree under root (a directory) into a pax stream through wr.
 * Returns 0 and fills *ret_stats (may be NULL), or -errno with a one-line
 * reason naming the file in why: -ENOTDIR root is not a directory, -EIO a
 * file that cannot be read (or its attributes), the callback's error. */
int mig_archive_pack(const char *root, mig_archive_write_fn wr, void *ud,
		     const struct mig_archive_opts *o, struct mig_archive_stats *ret_stats,
		     char *why, size_t whylen);

/* Unpacks the pax stream rd supplies into root (an existing directory; the
 * entry "." restores root's own attributes). Returns 0 and fills
 * *ret_stats (may be NULL), or -errno with a one-line reason in why:
 * -EPERM an entry refused (absolute, "..", through a symlink, a hard link
 * carrying data), -EBADMSG a corrupt or non-tar stream, -EIO an entry or
 * attribute that could not be restored, the callback's error. Nothing is
 * written outside root; entries already extracted stay. */
int mig_archive_unpack(const char *root, mig_archive_read_fn rd, void *ud,
		       const struct mig_archive_opts *o, struct mig_archive_stats *ret_stats,
		       char *why, size_t whylen);

#endif
