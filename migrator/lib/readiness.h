/* readiness.h — migration-readiness findings visible at the partition level.
 *
 * Pure: looks only at a filled struct mig_inventory and appends diags to its
 * disks and to the inventory. Checks that need a filesystem's contents
 * (fstab, initrds, ...) belong to verify.
 *
 * Codes (stable, for scripts):
 *   grub-gpt-no-bios-boot  GRUB boot code on a GPT disk without a BIOS boot partition
 *   gpt-no-esp             GPT disk with neither boot code nor an ESP
 *   duplicate-uuid         a filesystem UUID (or PARTUUID) seen more than once
 *   no-partition-table     a filesystem directly on the whole disk
 *   ambivalent             more than one signature in one area
 */
#ifndef MIGRATOR_READINESS_H
#define MIGRATOR_READINESS_H

#include "inventory.h"

/* Returns 0 or -ENOMEM. Safe to call once per inventory. */
int mig_readiness_check(struct mig_inventory *inv);

#endif
