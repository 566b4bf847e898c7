/* inventory.c — `migrator inventory`: the CLI front of lib/inventory. */
#include "cli.h"
#include "../lib/inventory.h"
#include "../lib/inventory-json.h"
#include "../lib/human.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	fputs("Usage: migrator inventory [-J|--json] [DEVICE|IMAGE ...]\n\n"
	      "Shows disks, partition tables, filesystems and boot facts, and warns about\n"
	      "what would break a migration. Without arguments: every disk in /sys/block\n"
	      "(ram, zram and loop devices only when named). Arguments may be block devices\n"
	      "or raw disk image files. Everything is opened read-only.\n\n"
	      "Options:\n"
	      "  -J, --json   JSON output (keys as lsblk --json names them)\n"
	      "  -h, --help   this help\n\n"
	      "Exit status: 0 success; 1 a device could not be read or a finding of\n"
	      "severity error (e.g. a corrupt partition table); 2 usage error.\n", stdout);
}

static void print_fs(const struct mig_fs *fs)
{
	if (fs->ambivalent) {
		printf("  AMBIVALENT:");
		for (size_t i = 0; i < fs->nsignatures; i++)
			printf(" %s", fs->signatures[i]);
		return;
	}
	if (fs->type)
		printf("  %s", fs->type);
	if (fs->version)
		printf(" %s", fs->version);
	if (fs->uuid)
		printf("  UUID=%s", fs->uuid);
	if (fs->uuid_sub)
		printf("  UUID_SUB=%s", fs->uuid_sub);
	if (fs->label)
		printf("  LABEL=\"%s\"", fs->label);
}

static void print_diags(const struct mig_diags *d, const char *indent)
{
	for (size_t i = 0; i < d->n; i++)
		printf("%s! %s: %s\n", indent, mig_severity_name(d->v[i].severity), d->v[i].message);
}

static void print_disk(const struct mig_disk *d)
{
	char sz[32];

	mig_human_bytes(d->size, sz, sizeof(sz));
	printf("%s  %s", d->path, sz);
	if (d->log_sec != 512 || d->phy_sec != 512)
		printf("  sectors %u/%u", d->log_sec, d->phy_sec);
	if (d->pttype)
		printf("  %s %s", d->pttype, d->ptuuid ? d->ptuuid : "");
	else
		printf("  no partition table");
	if (d->model)
		printf("  \"%s\"", d->model);
	if (d->serial)
		printf("  serial %s", d->serial);
	if (d->rotational == 1)
		printf("  rotational");
	if (d->removable == 1)
		printf("  removable");
	if (d->read_only == 1)
		printf("  read-only");
	if (d->rescue_medium)
		printf("  [rescue medium]");
	print_fs(&d->fs);
	putchar('\n');

	const struct mig_boot *b = &d->boot;
	printf("│ boot: ");
	if (b->mbr.grub)
		printf("GRUB boot.img, core.img at LBA %llu", (unsigned long long)b->mbr.grub_core_lba);
	else if (b->mbr.boot_code)
		printf("MBR boot code (not GRUB)");
	else
		printf("no MBR boot code");
	if (b->hybrid_mbr)
		printf(", hybrid MBR");
	if (b->bios_boot_partno)
		printf(", BIOS boot partition %zu", b->bios_boot_partno);
	if (b->esp_partno)
		printf(", ESP %zu", b->esp_partno);
	putchar('\n');
	print_diags(&d->diags, "│ ");

	for (size_t i = 0; i < d->nparts; i++) {
		const struct mig_part *p = &d->parts[i];
		bool last = i + 1 == d->nparts;

		mig_human_bytes(p->sectors * d->log_sec, sz, sizeof(sz));
		printf("%s%s  %10s  start %llu  %s", last ? "└─" : "├─", p->path, sz,
		       (unsigned long long)p->start, p->type_name ? p->type_name : p->type ? p->type : "?");
		if (p->bootable)
			printf(" (boot)");
		if (p->legacy_bios_bootable)
			printf(" (legacy BIOS bootable)");
		if (p->name)
			printf("  PARTLABEL=\"%s\"", p->name);
		print_fs(&p->fs);
		putchar('\n');
		print_diags(&p->diags, last ? "    " : "│   ");
	}
}

static void on_probe_error(const char *path, int err, void *userdata)
{
	cli_error(path, err);
}

int cmd_inventory(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mig_inventory *inv = NULL;
	char **listed = NULL;
	bool json = false;
	int c, r, rc = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "Jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'J': json = true; break;
		case 'h': usage(); return 0;
		default: return cli_usage_error("inventory: unrecognized option '%s'", argv[optind - 1]);
		}
	}
	char **paths = argv + optind;
	size_t n = (size_t)(argc - optind);
	if (n == 0) {
		r = mig_list_disks("/sys/block", &listed);
		if (r < 0) {
			cli_error("/sys/block", r);
			return 1;
		}
		paths = listed;
		n = (size_t)r;
	}
	r = mig_inventory_scan(paths, n, on_probe_error, NULL, &inv);
	mig_strv_free(listed);
	if (r < 0) {
		cli_error("inventory", r);
		return 1;
	}
	if (r > 0)
		rc = 1;

	if (json) {
		struct json_writer *w = json_new(stdout, true);

		if (!w) {
			cli_error("inventory", -ENOMEM);
			mig_inventory_free(inv);
			return 1;
		}
		mig_inventory_write_json(inv, w);
		if ((r = json_finish(w)) < 0) {
			cli_error("writing JSON", r);
			rc = 1;
		}
	} else if (inv->ndisks > 0 || n == 0) {
		for (size_t i = 0; i < inv->ndisks; i++) {
			print_disk(&inv->disks[i]);
			putchar('\n');
		}
		print_diags(&inv->diags, "");
		printf("firmware: %s\n", inv->uefi ? "UEFI" : "BIOS");
	}
	/* An error-level finding (corrupt table, truncated image) fails the run. */
	for (size_t i = 0; i < inv->ndisks; i++) {
		const struct mig_disk *d = &inv->disks[i];

		if (mig_diags_worst(&d->diags) >= MIG_SEV_ERROR)
			rc = 1;
		for (size_t k = 0; k < d->nparts; k++)
			if (mig_diags_worst(&d->parts[k].diags) >= MIG_SEV_ERROR)
				rc = 1;
	}
	mig_inventory_free(inv);
	return rc;
}
