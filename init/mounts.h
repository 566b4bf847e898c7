/* mounts.h — the API filesystems of the rescue system, and taking every
 * mount down cleanly before poweroff/reboot. Failures are reported to the log
 * and never stop the boot. */
#ifndef MIGRATOR_INIT_MOUNTS_H
#define MIGRATOR_INIT_MOUNTS_H

#include <stddef.h>

/* Mounts /proc, /sys, /dev (devtmpfs) with /dev/pts and /dev/shm, /run,
 * /tmp, securityfs, and efivarfs when booted through UEFI; creates /dev/fd,
 * /dev/stdin, /dev/stdout, /dev/stderr. Returns how many mounts failed. */
int mounts_early(void);

/* Mounts efivarfs if UEFI and not mounted yet (its module may only now be
 * loadable). Returns 0 or -errno. */
int mounts_efivarfs(void);

/* Mounts dev read-only (MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC) at dir,
 * trying fstype, or when NULL every block filesystem the kernel knows.
 * Returns 0 or -errno of the last attempt. */
int mount_readonly(const char *dev, const char *dir, const char *fstype);

/* Pure: undoes the octal escapes of /proc/self/mounts ("\040" → ' ') in
 * place. */
void mounts_unescape(char *s);

/* Swaps off everything, then unmounts every filesystem except the API ones
 * (/, /proc, /sys, /dev, /run and their children), deepest first; a busy
 * one is remounted read-only. Returns how many could do neither. */
int mounts_teardown(void);

#endif
