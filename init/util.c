/* util.c — small file and time helpers for init. */
#include "util.h"
#include "../migrator/lib/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int write_all(int fd, const void *buf, size_t n)
{
	return mig_write_all(fd, buf, n);
}

int read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	return mig_read_file(path, max, ret_buf, ret_len);
}

int read_line(const char *path, char *buf, size_t n)
{
	ssize_t k;
	int fd;

	if (n == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do
		k = read(fd, buf, n - 1);
	while (k < 0 && errno == EINTR);
	if (k < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	buf[k] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return (int)strlen(buf);
}

int write_string(const char *path, const char *s)
{
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	r = write_all(fd, s, strlen(s));
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	return r;
}

int write_file_atomic(const char *path, const void *buf, size_t n, mode_t mode)
{
	return mig_write_file_atomic(path, buf, n, mode);
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

uint64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
