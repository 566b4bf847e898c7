/* modules.h — kernel modules for the devices present, found by their modalias
 * (no hand-kept driver list): coldplug by walking /sys/devices, then hotplug
 * through a NETLINK_KOBJECT_UEVENT socket for as long as init runs, so a
 * device that shows up late (a USB stick, a disk behind a freshly loaded
 * HBA driver) gets its driver too. Aliases are matched against
 * modules.alias (modalias.h) here; each matching module is then loaded by
 * `modprobe -q MODULE` (BusyBox, either flavour; it resolves dependencies),
 * one at a time.
 *
 * With a kernel without modules (no /lib/modules/$(uname -r)) every function
 * is a no-op.
 */
#ifndef MIGRATOR_INIT_MODULES_H
#define MIGRATOR_INIT_MODULES_H

#include <stdbool.h>

#define MODPROBE_PATH "/sbin/modprobe"

/* True when /lib/modules/$(uname -r) exists. */
bool modules_available(void);

/* Opens the uevent socket and hooks it into the loop. Returns 0, or -errno
 * (then only coldplug works). */
int modules_listen(void);

/* Walks /sys/devices for modalias files and loads what matches, in rounds
 * (a bus driver reveals new devices) until nothing new appears or budget_ms
 * is spent. Logs the modules that were loaded. Returns 0 or -errno. */
int modules_coldplug(unsigned budget_ms);

/* True when no modprobe is running and none is queued. */
bool modules_idle(void);

#endif
