/* uevent.h — kernel uevent messages and the set of module aliases already
 * asked for. Pure: bytes in, values out. */
#ifndef MIGRATOR_INIT_UEVENT_H
#define MIGRATOR_INIT_UEVENT_H

#include <stddef.h>

#define MODALIAS_MAX 512        /* longest alias we pass to modprobe */
#define ALIAS_SET_MAX 8192      /* distinct aliases remembered */

/* Looks at one NETLINK_KOBJECT_UEVENT message ("add@/devices/...\0ACTION=add\0
 * ...MODALIAS=pci:v...\0"). Returns 1 and copies the alias into ret when it
 * is an "add" event carrying a MODALIAS; 0 for any other event; -EINVAL for a message that is not a kernel uevent (udev's
 * "libudev" messages included) or an alias that does not fit / has blanks. */
int uevent_modalias(const char *buf, size_t n, char *ret, size_t retn);

/* A set of strings, kept sorted. */
struct alias_set {
	char **v;
	size_t n, cap;
};

/* Adds s. Returns 1 when it was new, 0 when already there, -E2BIG when the
 * set is full (ALIAS_SET_MAX), -ENOMEM. */
int alias_set_add(struct alias_set *set, const char *s);

void alias_set_free(struct alias_set *set);

#endif
