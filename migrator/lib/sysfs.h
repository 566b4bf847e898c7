/* sysfs.h — small readers for /sys attribute files. */
#ifndef MIGRATOR_SYSFS_H
#define MIGRATOR_SYSFS_H

#include <stddef.h>
#include <stdint.h>

#define MIG_SYSFS_ATTR_MAX 4096   /* longest attribute read */

/* Reads dir/name into a new string with trailing white space removed.
 * Returns 0 and *ret (caller frees), -errno (-ENOENT if absent), or -ENODATA
 * if the value is empty. */
int mig_sysfs_read_str(const char *dir, const char *name, char **ret);

/* Reads an unsigned decimal attribute. Returns 0, -errno, or -EINVAL. */
int mig_sysfs_read_u64(const char *dir, const char *name, uint64_t *ret);

#endif
