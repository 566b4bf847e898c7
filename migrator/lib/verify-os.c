/* verify-os.c — the installed system of verify.h: its configuration files
 * (references), kernels and initrds (drivers), /boot's free space, immutable
 * files and ostree. */
#include "verify-int.h"
#include "initrd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_KERNELS   64
#define MAX_BLS       256
#define KCONFIG_MAX   (4u << 20)

static void join(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s%s%s", dir, *dir ? "/" : "", name);
}

static void root_refs(struct vctx *c, const struct vfs *f)
{
	vrefs_from_file(c, f, "etc/fstab", mig_refs_from_fstab);
	vrefs_from_file(c, f, "etc/crypttab", mig_refs_from_crypttab);
	vrefs_from_file(c, f, "etc/default/grub", mig_refs_from_default_grub);
	vrefs_from_file(c, f, "etc/mdadm/mdadm.conf", mig_refs_from_mdadm_conf);
	vrefs_from_file(c, f, "etc/mdadm.conf", mig_refs_from_mdadm_conf);
	vrefs_from_file(c, f, "etc/initramfs-tools/conf.d/resume", mig_refs_from_resume_conf);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir (regular files or all), sorted, NULL-terminated; at most max. */
static char **list_dir(const struct vfs *f, const char *dir, size_t max, size_t *ret_n)
{
	int fd = vfs_open(f, dir, O_RDONLY | O_DIRECTORY);
	char **v = NULL;
	size_t n = 0;

	*ret_n = 0;
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	struct dirent *e;
	if (!d) {
		close(fd);
		return NULL;
	}
	if (!(v = calloc(max + 1, sizeof(*v)))) {
		closedir(d);
		return NULL;
	}
	while (n < max && (e = readdir(d)))
		if (e->d_name[0] != '.' && (v[n] = strdup(e->d_name)))
			n++;
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_str);
	*ret_n = n;
	return v;
}

static void free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && !strcmp(s + a - b, suf);
}

static void check_boot_files(struct vctx *c, const struct vfs *f, const char *rel, bool bls);

static void bls_refs(struct vctx *c, const struct vfs *f, const char *boot)
{
	char dir[64], rel[512], *env = NULL, *kernelopts = NULL;
	size_t n, len;

	join(dir, sizeof(dir), boot, "loader/entries");
	char **names = list_dir(f, dir, MAX_BLS, &n);
	if (!names)
		return;
	static const char *const envs[] = { "grub2/grubenv", "grub/grubenv" };
	for (size_t i = 0; i < 2 && !kernelopts; i++) {
		join(rel, sizeof(rel), boot, envs[i]);
		if (vfs_read(f, rel, 1u << 16, &env, &len) == 0) {
			if (mig_grubenv_get(env, len, "kernelopts", &kernelopts) == -ENOMEM)
				c->err = -ENOMEM;
			free(env);
		}
	}
	for (size_t i = 0; i < n && !c->err; i++) {
		char *text, source[640];

		if (!has_suffix(names[i], ".conf"))
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", dir, names[i]);
		if (vfs_read(f, rel, MIG_VERIFY_FILE_MAX, &text, &len) < 0)
			continue;
		snprintf(source, sizeof(source), "%s:/%s", f->name, rel);
		int r = mig_refs_from_bls(&c->refs, text, len, source, kernelopts);
		if (r == -ENOMEM)
			c->err = r;
		free(text);
		check_boot_files(c, f, rel, true);
	}
	free(kernelopts);
	free_list(names);
}

static void describe_drivers(char *out, size_t len, unsigned mods, unsigned builtin)
{
	size_t l = 0;

	out[0] = 0;
	for (unsigned bit = 1; bit < 1u << MIG_DRV_COUNT; bit <<= 1) {
		if (!((mods | builtin) & bit))
			continue;
		l += (size_t)snprintf(out + l, l < len ? len - l : 0, "%s%s%s", l ? ", " : "",
				       mig_driver_name(bit), mods & bit ? "" : " (built in)");
		if (l >= len)
			break;
	}
	if (!out[0])
		snprintf(out, len, "none of virtio_blk, virtio_scsi, virtio_pci, nvme, xen_blkfront, hv_storvsc");
}

bool mig_bus_drivers_ok(enum mig_bus b, unsigned have)
{
	switch (b) {
	case MIG_BUS_VIRTIO:
		return (have & (MIG_DRV_VIRTIO_BLK | MIG_DRV_VIRTIO_SCSI)) && (have & MIG_DRV_VIRTIO_PCI);
	case MIG_BUS_NVME:
		return have & MIG_DRV_NVME;
	case MIG_BUS_XEN:
		return have & MIG_DRV_XEN_BLKFRONT;
	case MIG_BUS_HYPERV:
		return have & MIG_DRV_HV_STORVSC;
	case MIG_BUS_SCSI:
		return (have & MIG_DRV_VIRTIO_SCSI) && (have & MIG_DRV_VIRTIO_PCI);
	case MIG_BUS_ANY:
		break;
	}
	return true;
}

/* One kernel: its initrd, and the drivers the pair brings. Returns the
 * initrd's size (0 if none). */
static uint64_t check_kernel(struct vctx *c, const struct vfs *f, const char *boot, const char *kernel)
{
	const char *ver = strchr(kernel, '-') + 1;
	char rel[512], subject[640], cand[5][300];
	size_t nc = 0;
	struct stat st;

	snprintf(cand[nc++], sizeof(cand[0]), "initrd.img-%s", ver);     /* Debian */
	snprintf(cand[nc++], sizeof(cand[0]), "initramfs-%s.img", ver);  /* RHEL, Fedora */
	snprintf(cand[nc++], sizeof(cand[0]), "initrd-%s", ver);         /* SUSE */
	snprintf(cand[nc++], sizeof(cand[0]), "initrd-%s.img", ver);
	snprintf(cand[nc++], sizeof(cand[0]), "initramfs-%s", ver);
	int fd = -1;
	const char *found = NULL;
	for (size_t i = 0; i < nc && fd < 0; i++) {
		join(rel, sizeof(rel), boot, cand[i]);
		fd = vfs_open(f, rel, O_RDONLY);
		if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0)
			found = cand[i];
	}
	join(rel, sizeof(rel), boot, kernel);
	snprintf(subject, sizeof(subject), "%s:/%s", f->name, rel);
	if (fd < 0) {
		vresult(c, "kernel.initrd", MIG_FAIL, subject, "kernel %s has no initrd (looked for %s, %s, %s)",
			ver, cand[0], cand[1], cand[2]);
		return 0;
	}
	vresult(c, "kernel.initrd", MIG_PASS, subject, "initrd %s", found);

	struct mig_initrd_info info;
	int r = mig_initrd_scan_fd(fd, &info);
	close(fd);
	join(rel, sizeof(rel), boot, found);
	snprintf(subject, sizeof(subject), "%s:/%s", f->name, rel);
	if (r == -ENOMEM) {
		c->err = r;
		return 0;
	}
	if (r < 0) {
		vresult(c, "initrd.drivers", MIG_FAIL, subject, "cannot read the initrd: %s",
			r == -EBADMSG ? "not a cpio archive, or its compressed data is corrupt" :
			r == -ENOTSUP ? "compressed with a method this build cannot decode (lz4/bzip2)" :
			strerror(-r));
		return (uint64_t)st.st_size;
	}
	/* drivers the kernel builds in */
	char *kconfig;
	size_t klen;
	unsigned kbuiltin = 0;
	snprintf(cand[0], sizeof(cand[0]), "config-%s", ver);
	join(rel, sizeof(rel), boot, cand[0]);
	if (vfs_read(f, rel, KCONFIG_MAX, &kconfig, &klen) == 0) {
		kbuiltin = mig_drivers_builtin_kconfig(kconfig, klen);
		free(kconfig);
	}
	unsigned builtin = info.builtin | kbuiltin, have = info.modules | builtin;
	char drivers[256], missing[128] = "";
	describe_drivers(drivers, sizeof(drivers), info.modules, builtin);
	enum mig_bus target = c->opts->target_bus;
	enum mig_verdict v = MIG_PASS;

	if (target != MIG_BUS_ANY) {
		if (!mig_bus_drivers_ok(target, have)) {
			v = MIG_FAIL;
			snprintf(missing, sizeof(missing), "; no %s drivers for the target", mig_bus_name(target));
		}
	} else {
		size_t l = 0;
		for (enum mig_bus b = MIG_BUS_VIRTIO; b <= MIG_BUS_HYPERV; b++)
			if (!mig_bus_drivers_ok(b, have))
				l += (size_t)snprintf(missing + l, sizeof(missing) - l, "%s%s", l ? ", " : "; nothing for ",
						       mig_bus_name(b));
		if (l)
			v = MIG_WARN;
	}
	vresult(c, "initrd.drivers", v, subject, "%zu cpio archive(s), %s, %zu entries; drivers: %s%s",
		info.segments, info.compression, info.entries, drivers, missing);
	return (uint64_t)st.st_size;
}

/* The mounted filesystem with this UUID, or NULL. */
static const struct vfs *fs_by_uuid(const struct vctx *c, const char *uuid)
{
	for (size_t i = 0; i < c->nfs; i++)
		if (c->fs[i].m && c->fs[i].fs && c->fs[i].fs->uuid && !strcasecmp(c->fs[i].fs->uuid, uuid))
			return &c->fs[i];
	return NULL;
}

/* Every linux/initrd path of the config rel (grub.cfg, or a BLS entry with
 * bls) on f exists on the filesystem GRUB looks in: the one of the last
 * `search --fs-uuid` before it, else the one holding the config (GRUB's
 * root starts as its prefix's device). */
static void check_boot_files(struct vctx *c, const struct vfs *f, const char *rel, bool bls)
{
	struct mig_boot_files bf = { 0 };
	char *text = NULL, subject[700];
	size_t len, found = 0, missing = 0;
	int r;

	if (vfs_read(f, rel, MIG_VERIFY_FILE_MAX, &text, &len) < 0)
		return;
	r = mig_boot_files_parse(&bf, text, len, bls);
	free(text);
	if (r == -ENOMEM) {
		c->err = r;
		return;
	}
	for (size_t i = 0; i < bf.n; i++) {
		const struct mig_boot_file *b = &bf.v[i];
		const struct vfs *t = b->search_uuid ? fs_by_uuid(c, b->search_uuid) : f;
		if (!t)
			continue;   /* a UUID on no readable filesystem: the ref check reports it */
		bool ok = vfs_exists(t, b->path + 1, false);
		/* BLS paths are relative to /boot, which may be the root's directory */
		if (!ok && bls && t == f && f->boot_dir && *f->boot_dir) {
			char alt[600];
			snprintf(alt, sizeof(alt), "%s%s", f->boot_dir, b->path);
			ok = vfs_exists(t, alt, false);
		}
		if (ok) {
			found++;
			continue;
		}
		missing++;
		snprintf(subject, sizeof(subject), "%s:/%s:%u", f->name, rel, b->line);
		if (b->search_uuid)
			vresult(c, "boot.files", MIG_FAIL, subject, "%s %s: not found on UUID=%s (%s)", b->what, b->path,
				b->search_uuid, t->name);
		else
			vresult(c, "boot.files", MIG_FAIL, subject, "%s %s: not found on %s, which holds the %s",
				b->what, b->path, t->name, bls ? "BLS entry" : "grub.cfg");
	}
	if (found && !missing) {
		snprintf(subject, sizeof(subject), "%s:/%s", f->name, rel);
		vresult(c, "boot.files", MIG_PASS, subject, "%zu kernel and initrd path(s) found", found);
	}
	mig_boot_files_clear(&bf);
}

static void check_boot_dir(struct vctx *c, const struct vfs *f)
{
	const char *boot = f->boot_dir;
	char rel[512], subject[640];
	size_t n, nk = 0;
	uint64_t largest = 0;

	join(rel, sizeof(rel), boot, "grub/grub.cfg");
	vrefs_from_file(c, f, rel, mig_refs_from_grub_cfg);
	check_boot_files(c, f, rel, false);
	join(rel, sizeof(rel), boot, "grub2/grub.cfg");
	vrefs_from_file(c, f, rel, mig_refs_from_grub_cfg);
	check_boot_files(c, f, rel, false);
	bls_refs(c, f, boot);

	char **names = list_dir(f, boot, 4096, &n);
	for (size_t i = 0; names && i < n && nk < MAX_KERNELS && !c->err; i++) {
		if (strncmp(names[i], "vmlinuz-", 8) && strncmp(names[i], "vmlinux-", 8))
			continue;
		nk++;
		uint64_t sz = check_kernel(c, f, boot, names[i]);
		if (sz > largest)
			largest = sz;
	}
	free_list(names);
	snprintf(subject, sizeof(subject), "%s:/%s", f->name, boot);
	if (nk == 0)
		vresult(c, "kernel.initrd", MIG_WARN, subject, "no kernel (vmlinuz-VERSION) in /boot");

	struct statvfs sv;
	int fd = vfs_open(f, boot, O_RDONLY | O_DIRECTORY);
	if (fd >= 0 && fstatvfs(fd, &sv) == 0 && largest) {
		uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		enum mig_verdict v = avail >= 2 * largest ? MIG_PASS : avail >= largest ? MIG_WARN : MIG_FAIL;
		vresult(c, "boot.space", v, subject, "%.1f MiB free, largest initrd %.1f MiB%s",
			(double)avail / (1 << 20), (double)largest / (1 << 20),
			v == MIG_PASS ? "" : ": too little room to rebuild an initrd (2x needed)");
	}
	if (fd >= 0)
		close(fd);
}

/* Is rel immutable (chattr +i)? */
static bool immutable(const struct vfs *f, const char *rel)
{
	int fd = vfs_open(f, rel, O_RDONLY | O_NONBLOCK), flags = 0;
	struct stat st;
	bool r;

	if (fd < 0)
		return false;
	r = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
	    ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL);
	close(fd);
	return r;
}

struct imm {
	char list[256];
	size_t n;
};

static void imm_check(const struct vfs *f, const char *rel, struct imm *im)
{
	if (!immutable(f, rel))
		return;
	size_t l = strlen(im->list);
	if (im->n++ < 4)
		snprintf(im->list + l, sizeof(im->list) - l, "%s/%s", l ? ", " : "", rel);
}

/* Every entry of dir, and dir itself. */
static void imm_dir(const struct vfs *f, const char *dir, struct imm *im)
{
	char rel[512];
	size_t n;
	char **names = list_dir(f, dir, 1024, &n);

	imm_check(f, dir, im);
	for (size_t i = 0; i < n; i++) {
		join(rel, sizeof(rel), dir, names[i]);
		imm_check(f, rel, im);
	}
	free_list(names);
}

/* Immutable files where a migration writes: /etc's boot configuration,
 * /boot and its GRUB directory. */
static void check_immutable(struct vctx *c, const struct vfs *f)
{
	static const char *const etc[] = { "etc", "etc/fstab", "etc/crypttab", "etc/default/grub" };
	struct imm im = { "", 0 };
	char rel[64];

	if (f->is_root)
		for (size_t i = 0; i < sizeof(etc) / sizeof(etc[0]); i++)
			imm_check(f, etc[i], &im);
	if (f->boot_dir) {
		imm_dir(f, f->boot_dir, &im);
		join(rel, sizeof(rel), f->boot_dir, "grub");
		imm_dir(f, rel, &im);
		join(rel, sizeof(rel), f->boot_dir, "grub2");
		imm_dir(f, rel, &im);
	}
	if (im.n)
		vresult(c, "fs.immutable", MIG_WARN, f->name,
			"%zu immutable file(s) (chattr +i): %s%s; patching them fails until chattr -i", im.n,
			im.list, im.n > 4 ? ", ..." : "");
	else
		vresult(c, "fs.immutable", MIG_PASS, f->name, "no immutable files in %s",
			f->is_root && f->boot_dir ? "/etc and /boot" : f->is_root ? "/etc" : "/boot");
}

void verify_os(struct vctx *c)
{
	bool root = false, boot = false;

	for (size_t i = 0; i < c->nfs && !c->err; i++) {
		struct vfs *f = &c->fs[i];

		if (!f->m)
			continue;
		if (f->is_root) {
			root = true;
			root_refs(c, f);
			if (vfs_exists(f, "ostree/deploy", true) || vfs_exists(f, "sysroot/ostree/deploy", true))
				vresult(c, "fs.ostree", MIG_WARN, f->name,
					"an ostree deployment: /boot and the kernel command line belong to ostree (change them with ostree admin)");
		}
		if (f->boot_dir) {
			boot = true;
			check_boot_dir(c, f);
		}
		if (f->is_root || f->boot_dir)
			check_immutable(c, f);
	}
	if (!root)
		vresult(c, "ref", MIG_WARN, "disk set", "no root filesystem (one with /etc/fstab) among the readable filesystems");
	if (!boot)
		vresult(c, "kernel.initrd", MIG_WARN, "disk set", "no /boot with kernels or a boot loader among the readable filesystems");
}
