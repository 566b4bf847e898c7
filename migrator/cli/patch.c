/* patch.c — `migrator patch`: the CLI front of lib/patch. */
#include "cli.h"
#include "../lib/inventory.h"
#include "../lib/json.h"
#include "../lib/patch.h"
#include "../lib/udiff.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	fputs("Usage: migrator patch [--dry-run] [--target-bus=BUS] [--network=keep|dhcp]\n"
	      "                      [--reinstall-bootloader] [-J] DISK|IMAGE ...\n\n"
	      "Finds the installed system (etc/fstab and os-release) on the migrated disks and\n"
	      "makes it bootable on the target: kernel device names (/dev/sda1, /dev/vdb2,\n"
	      "/dev/nvme0n1p2, by-id/by-path links) in fstab, crypttab, /etc/default/grub,\n"
	      "grub.cfg, BLS entries and the resume setting become UUID= (PARTUUID= without\n"
	      "a filesystem UUID); GRUB's device.map, MAC-pinned udev rules and MAC matches\n"
	      "(netplan, systemd-networkd, ifcfg, NetworkManager) go; cdrom: apt sources and\n"
	      "local-media yum repos are disabled; an LVM devices file naming only the old\n"
	      "disks is removed. An ESP without EFI/BOOT/BOOTX64.EFI gets the vendor's shim (or\n"
	      "GRUB) there; failing BIOS boot code is reinstalled with the system's grub-install.\n"
	      "Every changed file keeps its original as FILE.migrator-orig\n"
	      "and is replaced atomically. Needs root.\n\n"
	      "Options:\n"
	      "      --dry-run         print a unified diff of every planned change; write nothing\n"
	      "      --target-bus=BUS  virtio, nvme, xen, hyperv or scsi: an initrd without the\n"
	      "                        bus's drivers gets them, rebuilt by the system's own tool\n"
	      "      --network=MODE    keep (default): only MAC pinning goes; dhcp: static IPv4\n"
	      "                        of ifupdown, ifcfg and NetworkManager switched to DHCP\n"
	      "      --reinstall-bootloader\n"
	      "                        run the system's grub-install --target=i386-pc on the disk\n"
	      "                        of /boot even when verify passes its BIOS boot chain (it\n"
	      "                        runs anyway when that chain fails)\n"
	      "  -J, --json            JSON report (docs/patch-json.md)\n"
	      "  -h, --help            this help\n\n"
	      "Exit status: 0 success (also: nothing to change); 1 no installed system found,\n"
	      "a disk unreadable or a change failed; 2 usage error.\n", stdout);
}

static void on_probe_error(const char *path, int err, void *userdata)
{
	cli_error(path, err);
}

static char *diff_of(const struct mig_change *c, size_t *len)
{
	char a[1024], b[1024], *out = NULL;

	snprintf(a, sizeof(a), "%s:%s", c->device, c->path);
	snprintf(b, sizeof(b), "%s:%s", c->device, c->path);
	if (c->action == MIG_CHANGE_CREATE)
		snprintf(a, sizeof(a), "/dev/null");
	if (mig_udiff(c->old_text, c->old_len, c->new_text, c->new_len, a,
		      c->action == MIG_CHANGE_REMOVE ? "/dev/null" : b, &out, len) < 0)
		return NULL;
	return out;
}

static const char *join_argv(const struct mig_patch_step *st, char *out, size_t len)
{
	size_t l = 0;

	out[0] = 0;
	for (size_t k = 0; st->argv[k] && l < len; k++)
		l += (size_t)snprintf(out + l, len - l, "%s%s", k ? " " : "", st->argv[k]);
	return out;
}

static void write_json(const struct mig_patch_report *rep, char **paths, size_t n,
		       const struct mig_patch_opts *o, bool dry_run, struct json_writer *w)
{
	json_object_begin(w, NULL);
	json_array_begin(w, "disks");
	for (size_t i = 0; i < n; i++)
		json_string(w, NULL, paths[i]);
	json_array_end(w);
	json_bool(w, "dry-run", dry_run);
	if (o->target_bus == MIG_BUS_ANY)
		json_null(w, "target-bus");
	else
		json_string(w, "target-bus", mig_bus_name(o->target_bus));
	json_string(w, "network", o->network == MIG_NET_DHCP ? "dhcp" : "keep");
	json_bool(w, "reinstall-bootloader", o->reinstall_bootloader);
	json_object_begin(w, "system");
	json_string(w, "device", rep->root_device);
	json_string(w, "name", rep->os_name);
	json_object_end(w);
	json_array_begin(w, "changes");
	for (size_t i = 0; i < rep->n; i++) {
		const struct mig_change *c = &rep->v[i];
		json_object_begin(w, NULL);
		json_string(w, "device", c->device);
		json_string(w, "path", c->path);
		json_string(w, "mountpath", c->mount_path);
		json_string(w, "action", mig_change_action_name(c->action));
		json_uint(w, "lines", c->lines);
		json_string(w, "reason", c->reason);
		if (dry_run) {
			size_t len = 0;
			char *d = diff_of(c, &len);
			json_string_len(w, "diff", d, d ? len : 0);
			free(d);
		} else {
			char backup[4200];
			snprintf(backup, sizeof(backup), "%s%s", c->path, MIG_PATCH_BACKUP_SUFFIX);
			json_bool(w, "applied", c->applied);
			json_string(w, "backup", c->action != MIG_CHANGE_CREATE && (c->applied || c->backup_kept) ?
						 backup : NULL);
			json_bool(w, "backup-kept", c->backup_kept);
			json_bool(w, "immutable", c->immutable);
			json_string(w, "error", c->error ? strerror(-c->error) : NULL);
		}
		json_object_end(w);
	}
	json_array_end(w);
	json_array_begin(w, "steps");
	for (size_t i = 0; i < rep->nsteps; i++) {
		const struct mig_patch_step *st = &rep->steps[i];
		char cmd[512];
		json_object_begin(w, NULL);
		json_string(w, "step", st->name);
		json_string(w, "command", join_argv(st, cmd, sizeof(cmd)));
		json_string(w, "reason", st->reason);
		json_bool(w, "builtin", st->builtin);
		if (!dry_run) {
			json_bool(w, "ran", st->ran);
			if (st->ran)
				json_int(w, "status", st->status);
			else
				json_null(w, "status");
			json_bool(w, "reverted", st->reverted);
			if (st->verified < 0)
				json_null(w, "verified");
			else
				json_bool(w, "verified", st->verified);
			json_string(w, "verify-reason", st->verify_reason);
			json_string(w, "output", st->output);
			json_string(w, "error", st->error ? strerror(-st->error) : NULL);
		}
		json_object_end(w);
	}
	json_array_end(w);
	json_array_begin(w, "skipped");
	for (size_t i = 0; i < rep->nskipped; i++) {
		json_object_begin(w, NULL);
		json_string(w, "step", rep->skipped[i].step);
		json_string(w, "reason", rep->skipped[i].reason);
		json_object_end(w);
	}
	json_array_end(w);
	json_object_begin(w, "summary");
	json_uint(w, "changes", rep->n);
	json_uint(w, "applied", rep->applied);
	json_uint(w, "failed", rep->failed);
	json_uint(w, "steps", rep->nsteps);
	json_uint(w, "steps-ok", rep->steps_ok);
	json_uint(w, "steps-failed", rep->steps_failed);
	json_object_end(w);
	json_object_end(w);
}

static void write_text(const struct mig_patch_report *rep, bool dry_run)
{
	printf("system: %s (%s)\n", rep->os_name ? rep->os_name : "unknown", rep->root_device);
	for (size_t i = 0; i < rep->n; i++) {
		const struct mig_change *c = &rep->v[i];
		if (dry_run) {
			size_t len = 0;
			char *d = diff_of(c, &len);
			printf("would %s %s:%s: %s\n", mig_change_action_name(c->action), c->device, c->path,
			       c->reason);
			if (d)
				fwrite(d, 1, len, stdout);
			free(d);
		} else if (c->applied) {
			if (c->action == MIG_CHANGE_CREATE)
				printf("created %s:%s: %s\n", c->device, c->path, c->reason);
			else
				printf("%s %s:%s%s: %s; original in %s%s%s\n",
				       c->action == MIG_CHANGE_REMOVE ? "removed" : "rewrote", c->device, c->path,
				       c->immutable ? " (immutable, restored)" : "", c->reason, c->path,
				       MIG_PATCH_BACKUP_SUFFIX, c->backup_kept ? " (kept from an earlier run)" : "");
		} else {
			printf("FAILED %s %s:%s: %s\n", mig_change_action_name(c->action), c->device, c->path,
			       strerror(-c->error));
		}
	}
	for (size_t i = 0; i < rep->nsteps; i++) {
		const struct mig_patch_step *st = &rep->steps[i];
		char cmd[512];
		join_argv(st, cmd, sizeof(cmd));
		if (dry_run && st->builtin)
			printf("would %s on the ESP: %s\n", cmd, st->reason);
		else if (dry_run)
			printf("would run %s in the system (chroot): %s\n", cmd, st->reason);
		else if (!st->error && st->reverted)
			printf("ran %s in the system (chroot): its grub.cfg was unusable (no kernel entry, or "
			       "root= by device name); the previous one, rewritten in place, was put back\n", cmd);
		else if (!st->error && st->builtin)
			printf("did %s on the ESP: %s%s\n%s", cmd, st->reason,
			       st->verified == 1 ? "; verify passes the UEFI chain now" : "", st->output ? st->output : "");
		else if (!st->error)
			printf("ran %s in the system (chroot): %s%s\n", cmd, st->reason,
			       st->verified == 1 ? "; verify passes the BIOS boot chain now" : "");
		else {
			printf("FAILED %s: %s\n", cmd, st->verify_reason ? st->verify_reason : strerror(-st->error));
			if (st->output && *st->output)
				printf("%s%s", st->output, st->output[strlen(st->output) - 1] == '\n' ? "" : "\n");
		}
	}
	for (size_t i = 0; i < rep->nskipped; i++)
		printf("skipped %s: %s\n", rep->skipped[i].step, rep->skipped[i].reason);
	if (dry_run)
		printf("%zu changes planned, %zu programs to run, nothing written\n", rep->n, rep->nsteps);
	else
		printf("%zu changes applied, %zu failed%s", rep->applied, rep->failed, rep->nsteps ? "; " : "\n");
	if (!dry_run && rep->nsteps)
		printf("%zu programs ran, %zu failed\n", rep->steps_ok, rep->steps_failed);
}

int cmd_patch(int argc, char **argv)
{
	enum { OPT_BUS = 0x100, OPT_NET, OPT_DRY, OPT_REINSTALL };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "dry-run", no_argument, NULL, OPT_DRY },
		{ "target-bus", required_argument, NULL, OPT_BUS },
		{ "network", required_argument, NULL, OPT_NET },
		{ "reinstall-bootloader", no_argument, NULL, OPT_REINSTALL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mig_patch_opts opts = { .target_bus = MIG_BUS_ANY, .network = MIG_NET_KEEP };
	struct mig_inventory *inv = NULL;
	struct mig_patch_report *rep = NULL;
	bool json = false, dry_run = false;
	int c, r, rc = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":Jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'J': json = true; break;
		case 'h': usage(); return 0;
		case OPT_DRY: dry_run = true; break;
		case OPT_REINSTALL: opts.reinstall_bootloader = true; break;
		case OPT_BUS:
			if (mig_bus_from_name(optarg, &opts.target_bus) < 0)
				return cli_usage_error("patch: unknown bus '%s' (virtio, nvme, xen, hyperv, scsi)",
						       optarg);
			break;
		case OPT_NET:
			if (!strcmp(optarg, "keep"))
				opts.network = MIG_NET_KEEP;
			else if (!strcmp(optarg, "dhcp"))
				opts.network = MIG_NET_DHCP;
			else
				return cli_usage_error("patch: unknown network mode '%s' (keep, dhcp)", optarg);
			break;
		case ':':
			return cli_usage_error("patch: option '%s' needs an argument", argv[optind - 1]);
		default:
			return cli_usage_error("patch: unrecognized option '%s'", argv[optind - 1]);
		}
	}
	char **paths = argv + optind;
	size_t n = (size_t)(argc - optind);
	if (n == 0)
		return cli_usage_error("patch: no disk or image given");

	r = mig_inventory_scan(paths, n, on_probe_error, NULL, &inv);
	if (r < 0) {
		cli_error("patch", r);
		return 1;
	}
	if (r > 0) {
		/* a disk missing from the set would shift /dev/sdX names */
		cli_errorx("patch: not every disk could be read; nothing patched");
		mig_inventory_free(inv);
		return 1;
	}
	r = mig_patch_plan(inv, &opts, &rep);
	if (r < 0) {
		if (r == -ENOENT)
			cli_errorx("patch: no installed system found (a filesystem with etc/fstab and os-release)");
		else if (r == -EPERM)
			cli_errorx("patch: cannot mount the filesystems: patch needs root");
		else
			cli_error("patch", r);
		mig_inventory_free(inv);
		return 1;
	}
	if (!dry_run && (rep->n || rep->nsteps)) {
		r = mig_patch_apply(inv, rep);
		if (r < 0) {
			cli_error("patch: applying the changes", r);
			rc = 1;
		}
	}
	mig_inventory_free(inv);
	if (json) {
		struct json_writer *w = json_new(stdout, true);
		if (!w) {
			cli_error("patch", -ENOMEM);
			mig_patch_report_free(rep);
			return 1;
		}
		write_json(rep, paths, n, &opts, dry_run, w);
		if ((r = json_finish(w)) < 0) {
			cli_error("writing JSON", r);
			rc = 1;
		}
	} else {
		write_text(rep, dry_run);
	}
	mig_patch_report_free(rep);
	return rc;
}
