/* sysfs.c — see sysfs.h. */
#include "sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mig_sysfs_read_str(const char *dir, const char *name, char **ret)
{
	char path[4096], buf[MIG_SYSFS_ATTR_MAX];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (n == 0)
		return -ENODATA;
	buf[n] = '\0';
	char *s = strdup(buf);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int mig_sysfs_read_u64(const char *dir, const char *name, uint64_t *ret)
{
	char *s = NULL, *end;
	int r = mig_sysfs_read_str(dir, name, &s);

	if (r < 0)
		return r;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	r = (errno || *end || end == s) ? -EINVAL : 0;
	free(s);
	if (r == 0)
		*ret = v;
	return r;
}
