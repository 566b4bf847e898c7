/* inventory-json.c — see inventory-json.h. */
#include "inventory-json.h"

#include <string.h>

void mig_diags_write_json(const struct mig_diags *d, const char *key, struct json_writer *w)
{
	json_array_begin(w, key);
	for (size_t i = 0; i < d->n; i++) {
		json_object_begin(w, NULL);
		json_string(w, "severity", mig_severity_name(d->v[i].severity));
		json_string(w, "code", d->v[i].code);
		json_string(w, "message", d->v[i].message);
		json_object_end(w);
	}
	json_array_end(w);
}

static void write_tristate(struct json_writer *w, const char *key, int v)
{
	if (v < 0)
		json_null(w, key);
	else
		json_bool(w, key, v);
}

static void write_fs(struct json_writer *w, const struct mig_fs *fs)
{
	json_string(w, "fstype", fs->type);
	json_string(w, "fsver", fs->version);
	json_string(w, "fsusage", fs->usage);
	json_string(w, "uuid", fs->uuid);
	json_string(w, "uuid-sub", fs->uuid_sub);
	json_string(w, "label", fs->label);
	if (fs->size)
		json_uint(w, "fssize", fs->size);
	else
		json_null(w, "fssize");
	if (fs->block_size)
		json_uint(w, "fs-block-size", fs->block_size);
	else
		json_null(w, "fs-block-size");
	json_array_begin(w, "signatures");
	for (size_t i = 0; i < fs->nsignatures; i++)
		json_string(w, NULL, fs->signatures[i]);
	json_array_end(w);
}

static void write_boot(struct json_writer *w, const struct mig_boot *b)
{
	json_object_begin(w, "boot");
	json_bool(w, "mbr-signature", b->mbr.signature);
	json_bool(w, "boot-code", b->mbr.boot_code);
	json_bool(w, "grub-boot-img", b->mbr.grub);
	if (b->mbr.grub)
		json_uint(w, "grub-core-lba", b->mbr.grub_core_lba);
	else
		json_null(w, "grub-core-lba");
	json_bool(w, "hybrid-mbr", b->hybrid_mbr);
	if (b->bios_boot_partno)
		json_uint(w, "bios-boot-partn", b->bios_boot_partno);
	else
		json_null(w, "bios-boot-partn");
	if (b->esp_partno)
		json_uint(w, "esp-partn", b->esp_partno);
	else
		json_null(w, "esp-partn");
	json_object_end(w);
}

static void write_part(struct json_writer *w, const struct mig_disk *d, const struct mig_part *p)
{
	const char *base = strrchr(p->path, '/');

	json_object_begin(w, NULL);
	json_string(w, "name", base ? base + 1 : p->path);
	json_string(w, "path", p->path);
	json_string(w, "type", "part");
	json_uint(w, "partn", p->partno);
	json_uint(w, "start", p->start);
	json_uint(w, "sectors", p->sectors);
	json_uint(w, "size", p->sectors * d->log_sec);
	json_string(w, "parttype", p->type);
	json_string(w, "parttypename", p->type_name);
	json_string(w, "partuuid", p->uuid);
	json_string(w, "partlabel", p->name);
	json_string(w, "partflags", p->attrs);
	json_bool(w, "bootable", p->bootable);
	json_bool(w, "legacy-bios-bootable", p->legacy_bios_bootable);
	json_bool(w, "container", p->container);
	write_fs(w, &p->fs);
	mig_diags_write_json(&p->diags, "warnings", w);
	json_object_end(w);
}

static void write_disk(struct json_writer *w, const struct mig_disk *d)
{
	json_object_begin(w, NULL);
	json_string(w, "name", d->name);
	json_string(w, "path", d->path);
	json_string(w, "type", d->is_image ? "image" : "disk");
	json_uint(w, "size", d->size);
	json_uint(w, "log-sec", d->log_sec);
	json_uint(w, "phy-sec", d->phy_sec);
	json_string(w, "model", d->model);
	json_string(w, "serial", d->serial);
	write_tristate(w, "rota", d->rotational);
	write_tristate(w, "rm", d->removable);
	write_tristate(w, "ro", d->read_only);
	json_bool(w, "rescue-medium", d->rescue_medium);
	json_string(w, "pttype", d->pttype);
	json_string(w, "ptuuid", d->ptuuid);
	write_fs(w, &d->fs);
	write_boot(w, &d->boot);
	mig_diags_write_json(&d->diags, "warnings", w);
	json_array_begin(w, "children");
	for (size_t i = 0; i < d->nparts; i++)
		write_part(w, d, &d->parts[i]);
	json_array_end(w);
	json_object_end(w);
}

void mig_inventory_write_json(const struct mig_inventory *inv, struct json_writer *w)
{
	json_object_begin(w, NULL);
	json_string(w, "firmware", inv->uefi ? "uefi" : "bios");
	json_array_begin(w, "blockdevices");
	for (size_t i = 0; i < inv->ndisks; i++)
		write_disk(w, &inv->disks[i]);
	json_array_end(w);
	mig_diags_write_json(&inv->diags, "warnings", w);
	json_object_end(w);
}
