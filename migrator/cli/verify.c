/* verify.c — `migrator verify`: the CLI front of lib/verify. */
#include "cli.h"
#include "../lib/inventory.h"
#include "../lib/json.h"
#include "../lib/verify.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
	fputs("Usage: migrator verify [-J|--json] [--target-bus=BUS] DISK|IMAGE ...\n\n"
	      "Checks, read-only, that a set of disks will boot: the BIOS chain (boot.img,\n"
	      "diskboot.img, core.img and its embedded config), the UEFI chain (ESP,\n"
	      "EFI/BOOT/BOOTX64.EFI, shim's siblings), every UUID/LABEL/PARTUUID reference in\n"
	      "fstab, crypttab, grub.cfg, /etc/default/grub, BLS entries, mdadm.conf and the\n"
	      "resume setting, each kernel's initrd and its storage drivers, /boot's free\n"
	      "space, immutable files. Filesystems are mounted read-only without journal\n"
	      "replay; nothing is written. Needs root.\n\n"
	      "Options:\n"
	      "  -J, --json            JSON output (docs/verify-json.md)\n"
	      "      --target-bus=BUS  virtio, nvme, xen, hyperv or scsi (virtio-scsi): an\n"
	      "                        initrd without drivers for it fails (else: warns)\n"
	      "  -h, --help            this help\n\n"
	      "Exit status: 0 nothing failed (warnings allowed); 1 a check failed or a disk\n"
	      "could not be read; 2 usage error.\n", stdout);
}

static void on_probe_error(const char *path, int err, void *userdata)
{
	cli_error(path, err);
}

static void write_json(const struct mig_verify_report *rep, char **paths, size_t n, enum mig_bus bus,
		       struct json_writer *w)
{
	json_object_begin(w, NULL);
	json_array_begin(w, "disks");
	for (size_t i = 0; i < n; i++)
		json_string(w, NULL, paths[i]);
	json_array_end(w);
	if (bus == MIG_BUS_ANY)
		json_null(w, "target-bus");
	else
		json_string(w, "target-bus", mig_bus_name(bus));
	json_array_begin(w, "checks");
	for (size_t i = 0; i < rep->n; i++) {
		json_object_begin(w, NULL);
		json_string(w, "check", rep->v[i].id);
		json_string(w, "subject", rep->v[i].subject);
		json_string(w, "result", mig_verdict_name(rep->v[i].verdict));
		json_string(w, "reason", rep->v[i].reason);
		json_object_end(w);
	}
	json_array_end(w);
	json_object_begin(w, "summary");
	json_uint(w, "pass", rep->count[MIG_PASS]);
	json_uint(w, "warn", rep->count[MIG_WARN]);
	json_uint(w, "fail", rep->count[MIG_FAIL]);
	json_object_end(w);
	json_object_end(w);
}

static void write_text(const struct mig_verify_report *rep, bool tty)
{
	size_t wid = 5, wsub = 7;

	for (size_t i = 0; i < rep->n; i++) {
		if (strlen(rep->v[i].id) > wid)
			wid = strlen(rep->v[i].id);
		if (strlen(rep->v[i].subject) > wsub)
			wsub = strlen(rep->v[i].subject);
	}
	if (wsub > 48)
		wsub = 48;
	if (tty)
		printf("%-6s %-*s %-*s %s\n", "RESULT", (int)wid, "CHECK", (int)wsub, "SUBJECT", "REASON");
	for (size_t i = 0; i < rep->n; i++) {
		const struct mig_check *k = &rep->v[i];

		if (tty)
			printf("%-6s %-*s %-*s %s\n", mig_verdict_name(k->verdict), (int)wid, k->id, (int)wsub,
			       k->subject, k->reason);
		else
			printf("%s %s %s: %s\n", mig_verdict_name(k->verdict), k->id, k->subject, k->reason);
	}
	printf("%zu passed, %zu warnings, %zu failed\n", rep->count[MIG_PASS], rep->count[MIG_WARN],
	       rep->count[MIG_FAIL]);
}

int cmd_verify(int argc, char **argv)
{
	enum { OPT_BUS = 0x100 };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "target-bus", required_argument, NULL, OPT_BUS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mig_verify_opts opts = { .target_bus = MIG_BUS_ANY };
	struct mig_inventory *inv = NULL;
	struct mig_verify_report *rep = NULL;
	bool json = false;
	int c, r, rc = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "Jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'J': json = true; break;
		case 'h': usage(); return 0;
		case OPT_BUS:
			if (mig_bus_from_name(optarg, &opts.target_bus) < 0)
				return cli_usage_error("verify: unknown bus '%s' (virtio, nvme, xen, hyperv, scsi)",
						       optarg);
			break;
		case ':':
			return cli_usage_error("verify: option '%s' needs an argument", argv[optind - 1]);
		default:
			return cli_usage_error("verify: unrecognized option '%s'", argv[optind - 1]);
		}
	}
	char **paths = argv + optind;
	size_t n = (size_t)(argc - optind);
	if (n == 0)
		return cli_usage_error("verify: no disk or image given");

	r = mig_inventory_scan(paths, n, on_probe_error, NULL, &inv);
	if (r < 0) {
		cli_error("verify", r);
		return 1;
	}
	if (r > 0)
		rc = 1;
	r = mig_verify_run(inv, &opts, &rep);
	mig_inventory_free(inv);
	if (r < 0) {
		cli_error("verify", r);
		return 1;
	}
	if (json) {
		struct json_writer *w = json_new(stdout, true);

		if (!w) {
			cli_error("verify", -ENOMEM);
			mig_verify_report_free(rep);
			return 1;
		}
		write_json(rep, paths, n, opts.target_bus, w);
		if ((r = json_finish(w)) < 0) {
			cli_error("writing JSON", r);
			rc = 1;
		}
	} else {
		write_text(rep, isatty(STDOUT_FILENO));
	}
	if (rep->count[MIG_FAIL])
		rc = 1;
	mig_verify_report_free(rep);
	return rc;
}
