/* inventory-json.h — an inventory as JSON, keys as `lsblk --json` names them
 * (name, path, size, log-sec, phy-sec, model, serial, rota, rm, ro, pttype,
 * ptuuid, partn, start, parttype, parttypename, partuuid, partlabel,
 * partflags, fstype, fsver, uuid, label, fssize; partitions are "children").
 * Fields lsblk has no name for use lower-case-dashed names of our own.
 * The schema is documented in docs/inventory-json.md. */
#ifndef MIGRATOR_INVENTORY_JSON_H
#define MIGRATOR_INVENTORY_JSON_H

#include "inventory.h"
#include "json.h"

/* Writes one JSON object describing inv. Errors surface in json_finish(). */
void mig_inventory_write_json(const struct mig_inventory *inv, struct json_writer *w);

/* Writes a diags list as an array value under key. */
void mig_diags_write_json(const struct mig_diags *d, const char *key, struct json_writer *w);

#endif
