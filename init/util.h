/* util.h — small file and time helpers for init. Every function returns
 * >= 0 on success or -errno; nothing prints. The file helpers are
 * libmigrator's (migrator/lib/fileio.h) under init's names. */
#ifndef MIGRATOR_INIT_UTIL_H
#define MIGRATOR_INIT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes all n bytes, retrying short writes and EINTR. Returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t n);

/* Reads a whole file of at most max bytes into a NUL-terminated malloc'd
 * buffer (*ret_buf, caller frees; *ret_len may be NULL). Returns 0, -EFBIG
 * when the file is longer than max, or -errno. */
int read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len);

/* Reads the first line of a small file (sysfs attribute) into buf without
 * the newline. Returns its length or -errno. */
int read_line(const char *path, char *buf, size_t n);

/* Writes a small string to a file (sysfs/procfs attribute, or creates it
 * 0644). Returns 0 or -errno. */
int write_string(const char *path, const char *s);

/* Replaces path atomically: temp file in the same directory, write, fsync,
 * rename. Returns 0 or -errno. */
int write_file_atomic(const char *path, const void *buf, size_t n, mode_t mode);

/* mkdir -p. Returns 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/* Milliseconds of CLOCK_BOOTTIME: since the kernel started, suspend included. */
uint64_t now_ms(void);

/* Sleeps ms milliseconds, resuming after signals. */
void sleep_ms(unsigned ms);

#endif
