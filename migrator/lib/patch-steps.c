/* patch-steps.c — see patch-int.h and patch.h. */
#include "patch-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "chroot.h"
#include "verify.h"
#include "fileio.h"
#include "initrd.h"
#include "refs.h"
#include "rewrite.h"

int patch_add_step(struct mig_patch_report *rep, const char *name, const char *const *argv,
		    const char *reason)
{
	struct mig_patch_step *v = realloc(rep->steps, (rep->nsteps + 1) * sizeof(*v));
	struct mig_patch_step st = { .verified = -1 };
	bool ok = true;

	if (!v)
		return -ENOMEM;
	rep->steps = v;
	st.name = strdup(name);
	st.reason = strdup(reason);
	ok = st.name && st.reason;
	for (size_t k = 0; argv[k] && k + 1 < sizeof(st.argv) / sizeof(st.argv[0]); k++)
		ok = ok && (st.argv[k] = strdup(argv[k]));
	rep->steps[rep->nsteps++] = st;   /* freed with the report, even half-made */
	return ok ? 0 : -ENOMEM;
}

static size_t bus_modules(enum mig_bus b, const char **m)
{
	switch (b) {
	case MIG_BUS_VIRTIO: m[0] = "virtio_pci"; m[1] = "virtio_blk"; m[2] = "virtio_scsi"; return 3;
	case MIG_BUS_NVME: m[0] = "nvme"; return 1;
	case MIG_BUS_XEN: m[0] = "xen_blkfront"; return 1;
	case MIG_BUS_HYPERV: m[0] = "hv_vmbus"; m[1] = "hv_storvsc"; return 2;
	case MIG_BUS_SCSI: m[0] = "virtio_pci"; m[1] = "virtio_scsi"; m[2] = "sd_mod"; return 3;
	case MIG_BUS_ANY: break;
	}
	return 0;
}

struct initrd_scan {
	int root_fd;
	enum mig_bus bus;
	size_t checked, lacking;
	uint64_t largest;
};

/* Checks boot/initrd.img-VERSION (with boot/config-VERSION's built-ins). */
static void scan_one_initrd(struct initrd_scan *s, const char *name)
{
	char rel[512];
	struct stat st;
	struct mig_initrd_info info;

	snprintf(rel, sizeof(rel), "boot/%s", name);
	int fd = patch_open_beneath(s->root_fd, rel, O_RDONLY);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || mig_initrd_scan_fd(fd, &info) < 0) {
		close(fd);
		return;
	}
	close(fd);
	if ((uint64_t)st.st_size > s->largest)
		s->largest = (uint64_t)st.st_size;
	unsigned have = info.modules | info.builtin;
	char *kc = NULL;
	size_t kl;
	char ver[256];
	if (!strncmp(name, "initrd.img-", 11))
		snprintf(ver, sizeof(ver), "%s", name + 11);
	else   /* initramfs-VERSION.img */
		snprintf(ver, sizeof(ver), "%.*s", (int)(strlen(name) - 14), name + 10);
	snprintf(rel, sizeof(rel), "boot/config-%s", ver);
	if (patch_read_beneath(s->root_fd, rel, 4u << 20, &kc, &kl, NULL) == 0) {
		have |= mig_drivers_builtin_kconfig(kc, kl);
		free(kc);
	}
	s->checked++;
	if (!mig_bus_drivers_ok(s->bus, have))
		s->lacking++;
}

/* initramfs-tools: the modules appended to /etc/initramfs-tools/modules.
 * 0, 1 (a skip recorded) or -errno. */
static int plan_initramfs_modules(struct pctx *c, const char *const *mods, size_t nm)
{
	char *text = NULL;
	size_t len = 0;
	struct mig_rewrite out;
	int r = patch_read_beneath(c->f->root_fd, "etc/initramfs-tools/modules", MIG_PATCH_FILE_MAX, &text, &len, NULL);

	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		r = patch_add_skip(c->rep, "initrd", "etc/initramfs-tools/modules not read: %s", strerror(-r));
		return r < 0 ? r : 1;
	}
	if ((r = mig_rewrite_add_modules(text, len, mods, nm, &out)) < 0) {
		free(text);
		return r;
	}
	if (!out.changes) {
		free(text);
		mig_rewrite_free(&out);
		return 0;
	}
	return patch_add_change(c, "etc/initramfs-tools/modules", MIG_CHANGE_REWRITE, text, len, out.text, out.len,
			  out.changes, "storage drivers for the target bus added to the initrd");
}

/* dracut: /etc/dracut.conf.d/90-migrator.conf with add_drivers+=. */
static int plan_dracut_conf(struct pctx *c, const char *const *mods, size_t nm)
{
	static const char *const rel = "etc/dracut.conf.d/90-migrator.conf";
	char want[256];
	size_t l = (size_t)snprintf(want, sizeof(want), "# migrator patch: storage drivers for the target\nadd_drivers+=\" ");
	char *text = NULL, *nt;
	size_t len = 0;
	int r;

	for (size_t i = 0; i < nm; i++)
		l += (size_t)snprintf(want + l, sizeof(want) - l, "%s ", mods[i]);
	snprintf(want + l, sizeof(want) - l, "\"\n");
	if (!patch_exists_beneath(c->f->root_fd, "etc/dracut.conf.d")) {
		r = patch_add_skip(c->rep, "initrd", "dracut system without etc/dracut.conf.d: drivers not added");
		return r < 0 ? r : 1;
	}
	r = patch_read_beneath(c->f->root_fd, rel, MIG_PATCH_FILE_MAX, &text, &len, NULL);
	if (r == 0 && len == strlen(want) && !memcmp(text, want, len)) {
		free(text);
		return 0;
	}
	if (r < 0 && r != -ENOENT) {
		r = r == -ENOMEM ? r : patch_add_skip(c->rep, "initrd", "%s not read: %s", rel, strerror(-r));
		return r < 0 ? r : 1;
	}
	if (!(nt = strdup(want))) {
		free(text);
		return -ENOMEM;
	}
	if (r == -ENOENT && !(text = strdup(""))) {
		free(nt);
		return -ENOMEM;
	}
	return patch_add_change(c, rel, r == -ENOENT ? MIG_CHANGE_CREATE : MIG_CHANGE_REWRITE, text, len, nt,
			  strlen(nt), 1, "storage drivers for the target bus added to dracut's initrd");
}

int patch_plan_initramfs(struct pctx *c)
{
	struct initrd_scan s = { .root_fd = c->f->root_fd, .bus = c->opts->target_bus };
	int fd = patch_open_beneath(c->f->root_fd, "boot", O_RDONLY | O_DIRECTORY);

	if (c->opts->target_bus == MIG_BUS_ANY)
		return patch_add_skip(c->rep, "initrd", "no --target-bus: the initrd's drivers were not checked");
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *e;
	for (size_t n = 0; (e = readdir(d)) && n < MIG_PATCH_DIR_MAX; n++)
		if ((!strncmp(e->d_name, "initrd.img-", 11) && !strstr(e->d_name, ".bak") &&
		     !strstr(e->d_name, MIG_PATCH_BACKUP_SUFFIX)) ||
		    (!strncmp(e->d_name, "initramfs-", 10) && strlen(e->d_name) > 14 &&
		     !strcmp(e->d_name + strlen(e->d_name) - 4, ".img") && !strstr(e->d_name, "kdump") &&
		     !strstr(e->d_name, "rescue")))
			scan_one_initrd(&s, e->d_name);
	closedir(d);
	if (!s.checked)
		return patch_add_skip(c->rep, "initrd", "no /boot/initrd.img-* or /boot/initramfs-*.img on the root "
				"filesystem (a separate /boot, or mkinitcpio): drivers not checked");
	if (!s.lacking)
		return 0;
	bool dracut = false;
	if (!patch_exists_beneath(c->f->root_fd, "usr/sbin/update-initramfs")) {
		dracut = patch_exists_beneath(c->f->root_fd, "usr/bin/dracut") ||
			 patch_exists_beneath(c->f->root_fd, "usr/sbin/dracut");
		if (!dracut)
			return patch_add_skip(c->rep, "initrd", "%zu initrd(s) lack %s drivers, but the system has neither "
					"update-initramfs nor dracut (mkinitcpio is not handled yet)", s.lacking,
					mig_bus_name(s.bus));
	}
	/* update-initramfs writes the new image beside the old one */
	int bfd = patch_open_beneath(c->f->root_fd, "boot", O_RDONLY | O_DIRECTORY);
	struct statvfs sv;
	if (bfd >= 0 && fstatvfs(bfd, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < 2 * s.largest) {
		close(bfd);
		return patch_add_skip(c->rep, "initrd", "refused: /boot has %llu KiB free, rebuilding needs %llu "
				"(twice the largest initrd)", (unsigned long long)((uint64_t)sv.f_bavail * sv.f_frsize >> 10),
				(unsigned long long)(2 * s.largest >> 10));
	}
	if (bfd >= 0)
		close(bfd);

	const char *mods[4];
	size_t nm = bus_modules(s.bus, mods);
	int r = dracut ? plan_dracut_conf(c, mods, nm) : plan_initramfs_modules(c, mods, nm);
	if (r < 0)
		return r;
	if (r > 0)
		return 0;   /* a skip was recorded */
	static const char *const argv[] = { "/usr/sbin/update-initramfs", "-u", "-k", "all", NULL };
	static const char *const dargv_usr[] = { "/usr/bin/dracut", "-f", "--regenerate-all", NULL };
	static const char *const dargv_sbin[] = { "/usr/sbin/dracut", "-f", "--regenerate-all", NULL };
	char why[160];
	snprintf(why, sizeof(why), "%zu of %zu initrd(s) lack %s drivers", s.lacking, s.checked,
		 mig_bus_name(s.bus));
	c->boot_changed = true;
	return patch_add_step(c->rep, "initramfs", !dracut ? argv :
			patch_exists_beneath(c->f->root_fd, "usr/bin/dracut") ? dargv_usr : dargv_sbin, why);
}

int patch_plan_grub_mkconfig(struct pctx *c)
{
	static const char *const debian[] = { "/usr/sbin/update-grub", NULL };
	static const char *const grub2[] = { "/usr/sbin/grub2-mkconfig", "-o", "/boot/grub2/grub.cfg", NULL };
	static const char *const grub[] = { "/usr/sbin/grub-mkconfig", "-o", "/boot/grub/grub.cfg", NULL };
	const char *const *argv = NULL;

	if (!c->boot_changed)
		return 0;
	if (patch_exists_beneath(c->f->root_fd, "usr/sbin/update-grub"))
		argv = debian;
	else if (patch_exists_beneath(c->f->root_fd, "usr/sbin/grub2-mkconfig"))
		argv = grub2;
	else if (patch_exists_beneath(c->f->root_fd, "usr/sbin/grub-mkconfig"))
		argv = grub;
	if (!argv)
		return patch_add_skip(c->rep, "grub.cfg", "not regenerated (no update-grub or grub-mkconfig on the "
				"system); device names rewritten in place instead");
	return patch_add_step(c->rep, "grub.cfg", argv,
			"boot configuration changed: grub.cfg regenerated by the system's own tool");
}

/* The first failing check of vr whose id starts with prefix, on subject. */
static const struct mig_check *failure(const struct mig_verify_report *vr, const char *prefix, const char *subject)
{
	for (size_t i = 0; i < vr->n; i++)
		if (!strncmp(vr->v[i].id, prefix, strlen(prefix)) && vr->v[i].verdict == MIG_FAIL &&
		    !strcmp(vr->v[i].subject, subject))
			return &vr->v[i];
	return NULL;
}

static const struct mig_check *bios_failure(const struct mig_verify_report *vr, const char *path)
{
	return failure(vr, "bios.", path);
}

int patch_plan_boot_code(struct pctx *c)
{
	static const struct mig_verify_opts vo = { .target_bus = MIG_BUS_ANY, .boot_only = true };
	struct mig_verify_report *vr = NULL;
	const struct mig_disk *d;
	int r;

	if (c->boot_disk >= c->inv->ndisks)
		return 0;
	d = &c->inv->disks[c->boot_disk];
	if ((r = mig_verify_run(c->inv, &vo, &vr)) < 0)
		return r;
	if ((r = patch_plan_uefi(c, vr)) < 0)
		goto out;
	const struct mig_check *fail = bios_failure(vr, d->path);
	char why[400];
	bool gpt = d->pttype && !strcmp(d->pttype, "gpt");
	r = 0;
	for (size_t i = 0; i < c->inv->ndisks && r == 0; i++) {
		const struct mig_check *o = i != c->boot_disk ? bios_failure(vr, c->inv->disks[i].path) : NULL;
		if (o)
			r = patch_add_skip(c->rep, "boot-code", "%s: %s fails (%s), but the disk holds neither / nor "
					   "/boot: not reinstalled", c->inv->disks[i].path, o->id, o->reason);
	}
	if (r < 0 || (!fail && !c->opts->reinstall_bootloader))
		goto out;
	if (fail)
		snprintf(why, sizeof(why), "%s fails: %s", fail->id, fail->reason);
	else
		snprintf(why, sizeof(why), "--reinstall-bootloader");
	if (gpt && !d->boot.bios_boot_partno) {
		r = patch_add_skip(c->rep, "boot-code", "%s: %s; not reinstalled: a GPT disk without a BIOS boot "
				   "partition has no place for core.img (UEFI systems need the fallback loader instead)",
				   d->path, why);
		goto out;
	}
	if (!d->pttype) {
		r = patch_add_skip(c->rep, "boot-code", "%s: %s; not reinstalled: no partition table", d->path, why);
		goto out;
	}
	if (!c->grub_install) {
		r = patch_add_skip(c->rep, "boot-code", "%s: %s; not reinstalled: the system has no GRUB for "
				   "i386-pc (usr/lib/grub/i386-pc) or no grub-install", d->path, why);
		goto out;
	}
	const char *argv[] = { c->grub_install, "--target=i386-pc", d->path, NULL };
	if ((r = patch_add_step(c->rep, "boot-code", argv, why)) == 0)
		c->rep->steps[c->rep->nsteps - 1].disk_arg = c->boot_disk + 1;
out:
	mig_verify_report_free(vr);
	return r;
}

int patch_reverify_boot_code(const struct mig_inventory *inv, struct mig_patch_report *rep)
{
	static const struct mig_verify_opts vo = { .target_bus = MIG_BUS_ANY, .boot_only = true };
	struct mig_verify_report *vr = NULL;
	struct mig_inventory *now = NULL;
	int r = 0;

	for (size_t i = 0; i < rep->nsteps && r == 0; i++) {
		struct mig_patch_step *st = &rep->steps[i];
		bool uefi = !strcmp(st->name, "uefi-fallback");
		if ((strcmp(st->name, "boot-code") && !uefi) || !st->ran || st->error || !st->disk_arg ||
		    st->disk_arg > inv->ndisks)
			continue;
		if (!vr) {
			/* the disks as they are now: the inventory holds sector 0 as it was */
			char **paths = calloc(inv->ndisks, sizeof(*paths));
			if (!paths)
				return -ENOMEM;
			for (size_t k = 0; k < inv->ndisks; k++)
				paths[k] = inv->disks[k].path;
			r = mig_inventory_scan(paths, inv->ndisks, NULL, NULL, &now);
			free(paths);
			if (r > 0) {
				mig_inventory_free(now);
				r = -EIO;
			}
			if (r < 0)
				return r;
			if ((r = mig_verify_run(now, &vo, &vr)) < 0) {
				mig_inventory_free(now);
				return r;
			}
		}
		const struct mig_check *fail = NULL;
		if (!uefi) {
			fail = bios_failure(vr, now->disks[st->disk_arg - 1].path);
		} else {
			const struct mig_disk *d = &now->disks[st->disk_arg - 1];
			for (size_t j = 0; j < d->nparts && !fail; j++)
				if (d->parts[j].partno == st->part_arg)
					fail = failure(vr, "uefi.", d->parts[j].path);
		}
		st->verified = !fail;
		if (fail) {
			if (asprintf(&st->verify_reason, "%s: %s", fail->id, fail->reason) < 0)
				st->verify_reason = NULL;
			st->error = -EIO;
			rep->steps_ok--;
			rep->steps_failed++;
			r = st->error;
		}
	}
	mig_verify_report_free(vr);
	mig_inventory_free(now);
	return r;
}

/* A generated grub.cfg we can boot: some kernel entry, and no root= (or
 * other reference) by kernel device name or old-hardware path. */
static bool grub_cfg_usable(const char *text, size_t len)
{
	struct mig_refs refs = { 0 };
	bool linux_line = false, bad = false;

	for (const char *l = text; l && l < text + len; l = memchr(l, '\n', (size_t)(text + len - l))) {
		while (l < text + len && (*l == '\n' || *l == ' ' || *l == '\t'))
			l++;
		if (!strncmp(l, "linux", 5) && (l[5] == ' ' || l[5] == '\t' || !strncmp(l + 5, "efi", 3) ||
						 !strncmp(l + 5, "16", 2)))
			linux_line = true;
	}
	if (mig_refs_from_grub_cfg(&refs, text, len, "grub.cfg") < 0)
		bad = true;
	for (size_t i = 0; i < refs.n; i++)
		if (refs.v[i].kind == MIG_REF_DEVNAME || refs.v[i].kind == MIG_REF_MACHINE)
			bad = true;
	mig_refs_clear(&refs);
	return linux_line && !bad;
}

void patch_fail_steps(struct mig_patch_report *rep, int err, const char *why)
{
	for (size_t i = 0; i < rep->nsteps; i++) {
		struct mig_patch_step *st = &rep->steps[i];
		if (st->ran)
			continue;
		st->error = err;
		free(st->output);
		st->output = strdup(why);
		rep->steps_failed++;
	}
}

/* Mounts f read-write from its partition's device (patch-devs.c). */
static int open_from_dev(struct pfs *f, const struct patch_devs *devs)
{
	char node[64];
	int r = patch_devs_node(devs, f->disk_idx, f->part ? f->part->partno : 0, node, sizeof(node));

	return r < 0 ? r : patch_fs_open_dev(f, node, MIG_FSMOUNT_RW);
}

/* Runs the planned steps in a chroot of the root filesystem, with /boot
 * and /boot/efi mounted as its fstab says, every filesystem mounted from
 * its partition's device, and those devices (with udev's links) in the
 * chroot's /dev. */
int patch_run_steps(const struct mig_inventory *inv, struct mig_patch_report *rep)
{
	static const char *const mps[] = { "/boot", "/boot/efi" };
	struct pfs root = { 0 }, sub[2];
	struct mig_chroot_bind binds[2];
	struct patch_devs devs = { 0 };
	char why[300] = "";
	size_t nsub = 0;
	int r, first = 0;

	if (rep->root_disk >= inv->ndisks)
		return -EINVAL;
	root = (struct pfs){ .disk = &inv->disks[rep->root_disk], .disk_idx = rep->root_disk, .root_fd = -1 };
	for (size_t j = 0; j < root.disk->nparts; j++)
		if (root.disk->parts[j].partno == rep->root_part)
			root.part = &root.disk->parts[j];
	root.name = root.part ? root.part->path : root.disk->path;
	if ((r = patch_devs_open(inv, &devs, why, sizeof(why))) < 0) {
		char msg[400];
		snprintf(msg, sizeof(msg), "the disks' block devices for the chroot: %s", why);
		patch_fail_steps(rep, r, msg);
		return r;
	}
	if ((r = open_from_dev(&root, &devs)) < 0) {
		patch_fail_steps(rep, r, "the root filesystem could not be mounted read-write");
		patch_devs_close(&devs);
		return r;
	}
	char *fstab = NULL;
	size_t flen = 0;
	struct mig_refs refs = { 0 };
	if (patch_read_beneath(root.root_fd, "etc/fstab", MIG_PATCH_FILE_MAX, &fstab, &flen, NULL) == 0)
		mig_refs_from_fstab(&refs, fstab, flen, "etc/fstab");
	free(fstab);
	for (size_t m = 0; m < 2 && !first; m++) {
		char what[64];
		snprintf(what, sizeof(what), "fstab %s", mps[m]);
		for (size_t i = 0; i < refs.n; i++) {
			size_t wl = strlen(what);
			if (strncmp(refs.v[i].what, what, wl) || (refs.v[i].what[wl] && refs.v[i].what[wl] != ' '))
				continue;
			char spec[600];
			snprintf(spec, sizeof(spec), "%s%s", refs.v[i].kind == MIG_REF_UUID ? "UUID=" :
				 refs.v[i].kind == MIG_REF_PARTUUID ? "PARTUUID=" :
				 refs.v[i].kind == MIG_REF_LABEL ? "LABEL=" : "", refs.v[i].value);
			/* /boot is needed (the kernels, initrds and grub.cfg live
			 * there); /boot/efi only by tools these steps do not run,
			 * and the rescue kernel may lack vfat: go on without it */
			if (!patch_find_fs(inv, spec, &sub[nsub])) {
				if (m == 1)
					break;
				first = -ENODEV;
				patch_fail_steps(rep, first, "the filesystem the system mounts at /boot is not on the disks");
				break;
			}
			if ((r = open_from_dev(&sub[nsub], &devs)) < 0) {
				if (m == 1)
					break;
				first = r;
				patch_fail_steps(rep, r, "the system's /boot could not be mounted");
				break;
			}
			binds[nsub] = (struct mig_chroot_bind){ mig_fsmount_dir(sub[nsub].m), mps[m] };
			nsub++;
			break;
		}
	}
	mig_refs_clear(&refs);
	for (size_t i = 0; i < rep->nsteps && !first; i++) {
		struct mig_patch_step *st = &rep->steps[i];
		char *out = NULL;
		size_t len = 0;
		int status = 0;

		/* grub.cfg: keep the current one to put back if the new one is unusable */
		char cfg[4200] = "", *before = NULL;
		size_t blen = 0;
		mode_t bmode = 0644;
		if (!strcmp(st->name, "grub.cfg")) {
			const char *rel = st->argv[1] && st->argv[2] && !strcmp(st->argv[1], "-o") ? st->argv[2] :
					  "/boot/grub/grub.cfg";
			if (nsub && !strcmp(binds[0].target, "/boot") && !strncmp(rel, "/boot/", 6))
				snprintf(cfg, sizeof(cfg), "%s/%s", binds[0].source, rel + 6);
			else
				snprintf(cfg, sizeof(cfg), "%s%s", mig_fsmount_dir(root.m), rel);
			struct stat bst;
			if (mig_read_file(cfg, MIG_PATCH_FILE_MAX, &before, &blen) < 0)
				before = NULL;
			else if (stat(cfg, &bst) == 0)
				bmode = bst.st_mode & 07777;
		}
		if (st->disk_arg) {
			/* the disk as the chroot names it */
			char node[64];
			size_t last = 0;
			while (st->argv[last + 1])
				last++;
			if (patch_devs_node(&devs, st->disk_arg - 1, 0, node, sizeof(node)) == 0) {
				char *n = strdup(node);
				if (n) {
					free(st->argv[last]);
					st->argv[last] = n;
				}
			}
		}
		if (st->builtin) {
			st->ran = true;
			st->error = patch_run_uefi(&devs, st, &st->output);
			if (st->error)
				rep->steps_failed++;
			else
				rep->steps_ok++;
			continue;
		}
		r = mig_chroot_run(mig_fsmount_dir(root.m), binds, nsub, devs.devs, devs.ndevs, st->argv,
				   MIG_PATCH_STEP_TIMEOUT, &status, &out, &len);
		if (before) {
			char *after = NULL;
			size_t alen = 0;
			bool usable = r == 0 && mig_read_file(cfg, MIG_PATCH_FILE_MAX, &after, &alen) == 0 &&
				      grub_cfg_usable(after, alen);
			if (!usable && mig_write_file_atomic(cfg, before, blen, bmode) == 0)
				st->reverted = true;
			free(after);
			free(before);
		}
		if (r == 0 || r == -ETIMEDOUT) {
			st->ran = true;
			st->output = out;
			st->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			st->error = r < 0 ? r : st->status ? -EIO : 0;
			if (st->reverted && !st->error && !st->status)
				st->error = 0;   /* a fallback, not a failure: the in-place rewrite stands */
		} else {
			st->error = r;
		}
		if (st->error)
			rep->steps_failed++;
		else
			rep->steps_ok++;
	}
	while (nsub > 0)
		patch_fs_close(&sub[--nsub]);
	int dfd = open(mig_fsmount_dir(root.m), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		syncfs(dfd);
		close(dfd);
	}
	patch_fs_close(&root);
	patch_devs_close(&devs);
	for (size_t i = 0; i < rep->nsteps && !first; i++)
		if (rep->steps[i].error)
			first = rep->steps[i].error;
	return first;
}
