/* fileio.h — whole reads and writes, and atomic file replacement.
 * Every function returns >= 0 on success or -errno; nothing prints. */
#ifndef MIGRATOR_FILEIO_H
#define MIGRATOR_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes all n bytes, retrying short writes and EINTR. 0 or -errno. */
int mig_write_all(int fd, const void *buf, size_t n);
/* pwrite of all n bytes at off. 0 or -errno. */
int mig_pwrite_all(int fd, const void *buf, size_t n, uint64_t off);
/* pread of exactly n bytes at off: 0, -EIO at end of file, or -errno. */
int mig_pread_all(int fd, void *buf, size_t n, uint64_t off);

/* Replaces path with buf atomically: a temp file in the same directory,
 * written, fsynced, renamed over path, then the directory fsynced, so after
 * a crash path is either the old or the new content. 0 or -errno. */
int mig_write_file_atomic(const char *path, const void *buf, size_t n, mode_t mode);

/* Reads a whole file of at most max bytes into a NUL-terminated malloc'd
 * buffer (*ret_buf; caller frees). -EFBIG when longer than max. */
int mig_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len);

#endif
