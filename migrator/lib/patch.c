/* patch.c — see patch.h. */
#include "patch.h"

#include "chroot.h"
#include "fileio.h"
#include "initrd.h"
#include "fsmount.h"
#include "refs.h"
#include "rewrite.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

/* One filesystem of the disk set while planning. */
struct pfs {
	const struct mig_disk *disk;
	const struct mig_part *part;   /* NULL: the whole disk */
	size_t disk_idx;
	const char *name;
	struct mig_fsmount *m;
	int root_fd;
};

struct pctx {
	const struct mig_inventory *inv;
	const struct mig_patch_opts *opts;
	struct mig_patch_report *rep;
	struct pfs *f;                 /* the one being planned */
	const char *mount_prefix;      /* "" for the root filesystem, "/boot" for a separate /boot */
	bool boot_changed;             /* a change that grub.cfg or the initrd depend on */
};

const char *mig_change_action_name(enum mig_change_action a)
{
	return a == MIG_CHANGE_REMOVE ? "remove" : a == MIG_CHANGE_CREATE ? "create" : "rewrite";
}

void mig_patch_report_free(struct mig_patch_report *rep)
{
	if (!rep)
		return;
	for (size_t i = 0; i < rep->n; i++) {
		struct mig_change *c = &rep->v[i];
		free(c->device);
		free(c->path);
		free(c->mount_path);
		free(c->old_text);
		free(c->new_text);
		free(c->reason);
	}
	for (size_t i = 0; i < rep->nsteps; i++) {
		free(rep->steps[i].name);
		for (size_t k = 0; k < sizeof(rep->steps[i].argv) / sizeof(rep->steps[i].argv[0]); k++)
			free(rep->steps[i].argv[k]);
		free(rep->steps[i].reason);
		free(rep->steps[i].output);
	}
	free(rep->steps);
	for (size_t i = 0; i < rep->nskipped; i++) {
		free(rep->skipped[i].step);
		free(rep->skipped[i].reason);
	}
	free(rep->skipped);
	free(rep->v);
	free(rep->root_device);
	free(rep->os_name);
	free(rep);
}

/* --- files inside a foreign filesystem ---------------------------------------- */

/* Opens rel beneath dirfd without following any symlink. */
static int open_beneath(int dirfd, const char *rel, int flags)
{
	/* openat2 refuses O_PATH with flags beyond O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC */
	if (!(flags & O_PATH))
		flags |= O_NOCTTY;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		return -ENOSYS;   /* before Linux 5.6: refuse rather than risk an escape */
	return fd < 0 ? -errno : (int)fd;
}

/* Reads rel (a regular file of at most max bytes). 0, -ENOENT, -EFBIG,
 * -ELOOP (reached through a symlink), -EINVAL (not a regular file). */
static int read_beneath(int dirfd, const char *rel, size_t max, char **ret, size_t *ret_len,
			mode_t *ret_mode)
{
	struct stat st;
	int fd = open_beneath(dirfd, rel, O_RDONLY), r;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t n = 0;
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			free(buf);
			close(fd);
			return r;
		}
		if (k == 0 || (n += (size_t)k) == (size_t)st.st_size)
			break;
	}
	close(fd);
	buf[n] = 0;
	*ret = buf;
	*ret_len = n;
	if (ret_mode)
		*ret_mode = st.st_mode & 07777;
	return 0;
}

/* --- the report -------------------------------------------------------------------- */

static int add_skip(struct mig_patch_report *rep, const char *step, const char *fmt, ...)
{
	struct mig_patch_skip *v = realloc(rep->skipped, (rep->nskipped + 1) * sizeof(*v));
	va_list ap;
	char *reason = NULL;

	if (!v)
		return -ENOMEM;
	rep->skipped = v;
	va_start(ap, fmt);
	int k = vasprintf(&reason, fmt, ap);
	va_end(ap);
	char *s = strdup(step);
	if (k < 0 || !s) {
		free(s);
		if (k >= 0)
			free(reason);
		return -ENOMEM;
	}
	rep->skipped[rep->nskipped++] = (struct mig_patch_skip){ s, reason };
	return 0;
}

/* Takes ownership of old/new (freed on failure). */
static int add_change(struct pctx *c, const char *rel, enum mig_change_action action, char *old,
		      size_t old_len, char *new, size_t new_len, unsigned lines, const char *reason)
{
	struct mig_patch_report *rep = c->rep;
	struct mig_change ch = {
		.disk = c->f->disk_idx, .part = c->f->part ? c->f->part->partno : 0, .action = action,
		.old_text = old, .old_len = old_len, .new_text = new, .new_len = new_len, .lines = lines,
	};
	struct mig_change *v;

	if (rep->n >= MIG_PATCH_MAX_CHANGES) {
		free(old);
		free(new);
		return -E2BIG;
	}
	ch.device = strdup(c->f->name);
	ch.reason = strdup(reason);
	if (asprintf(&ch.path, "/%s", rel) < 0)
		ch.path = NULL;
	if (asprintf(&ch.mount_path, "%s/%s", c->mount_prefix, rel) < 0)
		ch.mount_path = NULL;
	v = ch.device && ch.reason && ch.path && ch.mount_path ? realloc(rep->v, (rep->n + 1) * sizeof(*v)) : NULL;
	if (!v) {
		free(ch.device);
		free(ch.reason);
		free(ch.path);
		free(ch.mount_path);
		free(old);
		free(new);
		return -ENOMEM;
	}
	rep->v = v;
	rep->v[rep->n++] = ch;
	return 0;
}

/* --- device names -> UUID= ------------------------------------------------------------ */

/* "sda" style letters: a=0 ... z=25, aa=26 (bijective base 26). */
static bool letters_index(const char **p, size_t *ret)
{
	size_t v = 0, n = 0;

	while (**p >= 'a' && **p <= 'z' && n < 4) {
		v = v * 26 + (size_t)(**p - 'a' + 1);
		(*p)++;
		n++;
	}
	if (!n)
		return false;
	*ret = v - 1;
	return true;
}

static bool number(const char **p, size_t *ret)
{
	size_t v = 0, n = 0;

	while (isdigit((unsigned char)**p) && n < 6) {
		v = v * 10 + (size_t)(**p - '0');
		(*p)++;
		n++;
	}
	if (!n)
		return false;
	*ret = v;
	return true;
}

/* The disk (by index in the naming scheme, or SIZE_MAX for "the only one")
 * and partition number a kernel device name or by-id/by-path link means.
 * Returns false for anything else. */
static bool parse_devname(const char *spec, size_t *ret_disk, size_t *ret_part)
{
	static const char *const letter_prefixes[] = { "/dev/sd", "/dev/vd", "/dev/hd", "/dev/xvd" };
	const char *p;
	size_t d = 0, part = 0, ns;

	for (size_t i = 0; i < sizeof(letter_prefixes) / sizeof(letter_prefixes[0]); i++) {
		if (strncmp(spec, letter_prefixes[i], strlen(letter_prefixes[i])))
			continue;
		p = spec + strlen(letter_prefixes[i]);
		if (!letters_index(&p, &d))
			return false;
		if (*p && !number(&p, &part))
			return false;
		if (*p)
			return false;
		*ret_disk = d;
		*ret_part = part;
		return true;
	}
	if (!strncmp(spec, "/dev/nvme", 9)) {
		p = spec + 9;
		if (!number(&p, &d) || *p++ != 'n' || !number(&p, &ns))
			return false;
		if (*p == 'p' && (p++, !number(&p, &part)))
			return false;
		if (*p)
			return false;
		*ret_disk = d;
		*ret_part = part;
		return true;
	}
	if (!strncmp(spec, "/dev/mmcblk", 11)) {
		p = spec + 11;
		if (!number(&p, &d))
			return false;
		if (*p == 'p' && (p++, !number(&p, &part)))
			return false;
		if (*p)
			return false;
		*ret_disk = d;
		*ret_part = part;
		return true;
	}
	if (!strncmp(spec, "/dev/disk/by-id/", 16) || !strncmp(spec, "/dev/disk/by-path/", 18)) {
		const char *s = strrchr(spec, '-');
		if (!s || strncmp(s, "-part", 5))
			return false;
		p = s + 5;
		if (!number(&p, &part) || *p || part == 0)
			return false;
		*ret_disk = SIZE_MAX;
		*ret_part = part;
		return true;
	}
	return false;
}

static bool fs_uuid_usable(const struct mig_fs *fs)
{
	if (!fs->type || fs->ambivalent || !fs->uuid || !*fs->uuid)
		return false;
	return (fs->usage && (!strcmp(fs->usage, "filesystem") || !strcmp(fs->usage, "crypto"))) ||
	       !strcmp(fs->type, "swap");
}

static int devmap(const char *spec, char **ret_new, void *data)
{
	const struct mig_inventory *inv = data;
	enum mig_ref_kind kind;
	char *value = NULL;
	size_t di, pn;
	int r = mig_ref_parse_spec(spec, &kind, &value);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	free(value);
	if ((kind != MIG_REF_DEVNAME && kind != MIG_REF_MACHINE) || !parse_devname(spec, &di, &pn))
		return 0;
	const struct mig_disk *d = NULL;
	if (inv->ndisks == 1)
		d = &inv->disks[0];
	else if (di != SIZE_MAX && di < inv->ndisks)
		d = &inv->disks[di];
	if (!d)
		return 0;
	const struct mig_fs *fs = NULL;
	const char *partuuid = NULL;
	if (pn == 0) {
		if (d->nparts)
			return 0;   /* a whole partitioned disk: nothing to name */
		fs = &d->fs;
	} else {
		for (size_t i = 0; i < d->nparts; i++)
			if (d->parts[i].partno == pn && !d->parts[i].container) {
				fs = &d->parts[i].fs;
				partuuid = d->parts[i].uuid;
			}
		if (!fs)
			return 0;
	}
	if (fs_uuid_usable(fs))
		r = asprintf(ret_new, "UUID=%s", fs->uuid);
	else if (partuuid && *partuuid)
		r = asprintf(ret_new, "PARTUUID=%s", partuuid);
	else
		return 0;
	return r < 0 ? -ENOMEM : 1;
}

/* --- planning ---------------------------------------------------------------------- */

typedef int (*dev_rewriter)(const char *, size_t, mig_devmap_fn, void *, struct mig_rewrite *);
typedef int (*net_rewriter)(const char *, size_t, bool, struct mig_rewrite *);
typedef int (*plain_rewriter)(const char *, size_t, struct mig_rewrite *);

enum rw_kind { RW_DEV, RW_NET, RW_PLAIN };

struct rw {
	enum rw_kind kind;
	dev_rewriter dev;
	net_rewriter net;
	plain_rewriter plain;
	const char *reason;
};

/* Reads rel and, when the rewriter changes it, adds the change. A missing
 * file is no change; an unreadable one is a skip note. */
static int plan_file(struct pctx *c, const char *rel, const struct rw *w)
{
	char *text = NULL;
	size_t len;
	struct mig_rewrite out;
	int r = read_beneath(c->f->root_fd, rel, MIG_PATCH_FILE_MAX, &text, &len, NULL);

	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return add_skip(c->rep, "file", "%s:/%s not read: %s", c->f->name, rel,
				r == -ELOOP || r == -EXDEV ? "reached through a symlink" :
				r == -EINVAL ? "not a regular file" : strerror(-r));
	switch (w->kind) {
	case RW_DEV: r = w->dev(text, len, devmap, (void *)c->inv, &out); break;
	case RW_NET: r = w->net(text, len, c->opts->network == MIG_NET_DHCP, &out); break;
	default: r = w->plain(text, len, &out); break;
	}
	if (r < 0) {
		free(text);
		return r == -ENOMEM ? r : add_skip(c->rep, "file", "%s:/%s not rewritten: %s", c->f->name, rel,
						   strerror(-r));
	}
	if (!out.changes) {
		free(text);
		mig_rewrite_free(&out);
		return 0;
	}
	if (w->kind == RW_DEV)
		c->boot_changed = true;
	return add_change(c, rel, MIG_CHANGE_REWRITE, text, len, out.text, out.len, out.changes, w->reason);
}

/* Plans the removal of rel, if it exists (the backup keeps it). */
static int plan_remove(struct pctx *c, const char *rel, const char *reason)
{
	char *text = NULL;
	size_t len;
	int r = read_beneath(c->f->root_fd, rel, MIG_PATCH_FILE_MAX, &text, &len, NULL);

	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return add_skip(c->rep, "file", "%s:/%s not removed: %s", c->f->name, rel,
				r == -ELOOP || r == -EXDEV ? "reached through a symlink" : strerror(-r));
	return add_change(c, rel, MIG_CHANGE_REMOVE, text, len, NULL, 0, 0, reason);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular entry of dir whose name ends with suffix (or starts with
 * prefix, when suffix is NULL), in name order. */
static int plan_dir(struct pctx *c, const char *dir, const char *prefix, const char *suffix,
		    const struct rw *w)
{
	int fd = open_beneath(c->f->root_fd, dir, O_RDONLY | O_DIRECTORY), r = 0;
	char *names[MIG_PATCH_DIR_MAX];
	size_t n = 0;

	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *e;
	while ((e = readdir(d)) && n < MIG_PATCH_DIR_MAX) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		if (suffix && (l <= strlen(suffix) || strcmp(e->d_name + l - strlen(suffix), suffix)))
			continue;
		if (prefix && strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		if (strstr(e->d_name, MIG_PATCH_BACKUP_SUFFIX))
			continue;
		if (!(names[n] = strdup(e->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char rel[512];
		if (r == 0 && snprintf(rel, sizeof(rel), "%s/%s", dir, names[i]) < (int)sizeof(rel))
			r = plan_file(c, rel, w);
		free(names[i]);
	}
	return r;
}

/* The boot loader files under boot ("boot" on the root filesystem, "" on a
 * separate /boot). */
static int plan_boot(struct pctx *c, const char *boot)
{
	static const struct rw grubcfg = { RW_DEV, .dev = mig_rewrite_grub_cfg,
		.reason = "kernel device names in root=/resume= replaced by UUID=" };
	static const struct rw bls = { RW_DEV, .dev = mig_rewrite_bls,
		.reason = "kernel device names in root=/resume= of the BLS entry replaced by UUID=" };
	const char *sl = *boot ? "/" : "";
	char rel[128];
	int r = 0;

	for (int g = 0; g < 2 && r == 0; g++) {
		const char *gd = g ? "grub2" : "grub";
		snprintf(rel, sizeof(rel), "%s%s%s/grub.cfg", boot, sl, gd);
		r = plan_file(c, rel, &grubcfg);
		snprintf(rel, sizeof(rel), "%s%s%s/device.map", boot, sl, gd);
		size_t before = c->rep->n;
		if (r == 0)
			r = plan_remove(c, rel, "device.map pins BIOS drive numbers to the old disks; "
					"GRUB probes without it");
		if (c->rep->n > before)
			c->boot_changed = true;
	}
	snprintf(rel, sizeof(rel), "%s%sloader/entries", boot, sl);
	if (r == 0)
		r = plan_dir(c, rel, NULL, ".conf", &bls);
	return r;
}

static bool exists_beneath(int root_fd, const char *rel)
{
	int fd = open_beneath(root_fd, rel, O_PATH);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* --- steps run in a chroot ---------------------------------------------------------- */

static int add_step(struct mig_patch_report *rep, const char *name, const char *const *argv,
		    const char *reason)
{
	struct mig_patch_step *v = realloc(rep->steps, (rep->nsteps + 1) * sizeof(*v));
	struct mig_patch_step st = { 0 };
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

/* The drivers a target bus needs in the initrd (as verify judges them). */
static bool bus_ok(enum mig_bus b, unsigned have)
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
	int fd = open_beneath(s->root_fd, rel, O_RDONLY);
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
	if (read_beneath(s->root_fd, rel, 4u << 20, &kc, &kl, NULL) == 0) {
		have |= mig_drivers_builtin_kconfig(kc, kl);
		free(kc);
	}
	s->checked++;
	if (!bus_ok(s->bus, have))
		s->lacking++;
}

/* initramfs-tools: the modules appended to /etc/initramfs-tools/modules.
 * 0, 1 (a skip recorded) or -errno. */
static int plan_initramfs_modules(struct pctx *c, const char *const *mods, size_t nm)
{
	char *text = NULL;
	size_t len = 0;
	struct mig_rewrite out;
	int r = read_beneath(c->f->root_fd, "etc/initramfs-tools/modules", MIG_PATCH_FILE_MAX, &text, &len, NULL);

	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		r = add_skip(c->rep, "initrd", "etc/initramfs-tools/modules not read: %s", strerror(-r));
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
	return add_change(c, "etc/initramfs-tools/modules", MIG_CHANGE_REWRITE, text, len, out.text, out.len,
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
	if (!exists_beneath(c->f->root_fd, "etc/dracut.conf.d")) {
		r = add_skip(c->rep, "initrd", "dracut system without etc/dracut.conf.d: drivers not added");
		return r < 0 ? r : 1;
	}
	r = read_beneath(c->f->root_fd, rel, MIG_PATCH_FILE_MAX, &text, &len, NULL);
	if (r == 0 && len == strlen(want) && !memcmp(text, want, len)) {
		free(text);
		return 0;
	}
	if (r < 0 && r != -ENOENT) {
		r = r == -ENOMEM ? r : add_skip(c->rep, "initrd", "%s not read: %s", rel, strerror(-r));
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
	return add_change(c, rel, r == -ENOENT ? MIG_CHANGE_CREATE : MIG_CHANGE_REWRITE, text, len, nt,
			  strlen(nt), 1, "storage drivers for the target bus added to dracut's initrd");
}

static int plan_initramfs(struct pctx *c)
{
	struct initrd_scan s = { .root_fd = c->f->root_fd, .bus = c->opts->target_bus };
	int fd = open_beneath(c->f->root_fd, "boot", O_RDONLY | O_DIRECTORY);

	if (c->opts->target_bus == MIG_BUS_ANY)
		return add_skip(c->rep, "initrd", "no --target-bus: the initrd's drivers were not checked");
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
		return add_skip(c->rep, "initrd", "no /boot/initrd.img-* or /boot/initramfs-*.img on the root "
				"filesystem (a separate /boot, or mkinitcpio): drivers not checked");
	if (!s.lacking)
		return 0;
	bool dracut = false;
	if (!exists_beneath(c->f->root_fd, "usr/sbin/update-initramfs")) {
		dracut = exists_beneath(c->f->root_fd, "usr/bin/dracut") ||
			 exists_beneath(c->f->root_fd, "usr/sbin/dracut");
		if (!dracut)
			return add_skip(c->rep, "initrd", "%zu initrd(s) lack %s drivers, but the system has neither "
					"update-initramfs nor dracut (mkinitcpio is not handled yet)", s.lacking,
					mig_bus_name(s.bus));
	}
	/* update-initramfs writes the new image beside the old one */
	int bfd = open_beneath(c->f->root_fd, "boot", O_RDONLY | O_DIRECTORY);
	struct statvfs sv;
	if (bfd >= 0 && fstatvfs(bfd, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < 2 * s.largest) {
		close(bfd);
		return add_skip(c->rep, "initrd", "refused: /boot has %llu KiB free, rebuilding needs %llu "
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
	return add_step(c->rep, "initramfs", !dracut ? argv :
			exists_beneath(c->f->root_fd, "usr/bin/dracut") ? dargv_usr : dargv_sbin, why);
}

static int plan_grub_mkconfig(struct pctx *c)
{
	static const char *const debian[] = { "/usr/sbin/update-grub", NULL };
	static const char *const grub2[] = { "/usr/sbin/grub2-mkconfig", "-o", "/boot/grub2/grub.cfg", NULL };
	static const char *const grub[] = { "/usr/sbin/grub-mkconfig", "-o", "/boot/grub/grub.cfg", NULL };
	const char *const *argv = NULL;

	if (!c->boot_changed)
		return 0;
	if (c->f->disk->is_image)
		return add_skip(c->rep, "grub.cfg", "not regenerated: the disk is an image file, and GRUB's "
				"10_linux writes no kernel entry for a filesystem loop-mounted from a file; "
				"device names rewritten in place instead");
	if (exists_beneath(c->f->root_fd, "usr/sbin/update-grub"))
		argv = debian;
	else if (exists_beneath(c->f->root_fd, "usr/sbin/grub2-mkconfig"))
		argv = grub2;
	else if (exists_beneath(c->f->root_fd, "usr/sbin/grub-mkconfig"))
		argv = grub;
	if (!argv)
		return add_skip(c->rep, "grub.cfg", "not regenerated (no update-grub or grub-mkconfig on the "
				"system); device names rewritten in place instead");
	return add_step(c->rep, "grub.cfg", argv,
			"boot configuration changed: grub.cfg regenerated by the system's own tool");
}

/* lvm devices file: "IDTYPE=sys_wwid IDNAME=naa.xxx DEVNAME=/dev/sda PVID=..." */
static bool devices_file_names_our_disks(const struct mig_inventory *inv, const char *text)
{
	for (size_t i = 0; i < inv->ndisks; i++) {
		const char *serial = inv->disks[i].serial;
		if (serial && strlen(serial) >= 4 && strstr(text, serial))
			return true;
	}
	return false;
}

static int plan_lvm(struct pctx *c)
{
	const char *rel = "etc/lvm/devices/system.devices";
	char *text = NULL;
	size_t len;
	int r = read_beneath(c->f->root_fd, rel, MIG_PATCH_FILE_MAX, &text, &len, NULL);

	if (r < 0)
		return r == -ENOMEM ? r : 0;
	if (devices_file_names_our_disks(c->inv, text)) {
		free(text);
		return 0;
	}
	return add_change(c, rel, MIG_CHANGE_REMOVE, text, len, NULL, 0, 0,
			  "the LVM devices file names only the source's disk IDs: LVM would ignore "
			  "the target's disks; without it LVM scans all disks");
}

static int plan_root(struct pctx *c)
{
	static const struct rw fstab = { RW_DEV, .dev = mig_rewrite_fstab,
		.reason = "kernel device names replaced by UUID= (PARTUUID= without a filesystem UUID)" };
	static const struct rw crypttab = { RW_DEV, .dev = mig_rewrite_crypttab,
		.reason = "kernel device names of encrypted devices replaced by UUID=" };
	static const struct rw defgrub = { RW_DEV, .dev = mig_rewrite_default_grub,
		.reason = "root=/resume= kernel device names replaced by UUID= (for the next update-grub)" };
	static const struct rw resume = { RW_DEV, .dev = mig_rewrite_resume_conf,
		.reason = "RESUME kernel device name replaced by UUID=" };
	static const struct rw sources = { RW_PLAIN, .plain = mig_rewrite_sources_list,
		.reason = "cdrom: entries commented out: the installation medium is not on the target" };
	static const struct rw yum = { RW_PLAIN, .plain = mig_rewrite_yum_repo,
		.reason = "repositories on local installation media disabled" };
	static const struct rw ifcfg = { RW_NET, .net = mig_rewrite_ifcfg,
		.reason = "MAC address pinning removed (the target's NIC has another MAC)" };
	static const struct rw networkd = { RW_PLAIN, .plain = mig_rewrite_networkd_match,
		.reason = "MACAddress= match removed (the target's NIC has another MAC)" };
	static const struct rw nm = { RW_NET, .net = mig_rewrite_nm_keyfile,
		.reason = "mac-address binding removed (the target's NIC has another MAC)" };
	static const struct rw netplan = { RW_PLAIN, .plain = mig_rewrite_netplan,
		.reason = "match: macaddress removed (the target's NIC has another MAC)" };
	static const struct rw interfaces = { RW_PLAIN, .plain = mig_rewrite_interfaces_dhcp,
		.reason = "static IPv4 configuration switched to DHCP (--network=dhcp)" };
	int r = 0;

	r = plan_file(c, "etc/fstab", &fstab);
	if (!r) r = plan_file(c, "etc/crypttab", &crypttab);
	if (!r) r = plan_file(c, "etc/default/grub", &defgrub);
	if (!r) r = plan_file(c, "etc/initramfs-tools/conf.d/resume", &resume);
	if (!r) r = plan_boot(c, "boot");
	if (!r) r = plan_remove(c, "etc/udev/rules.d/70-persistent-net.rules",
				"udev rules pin interface names to the old NICs' MAC addresses");
	if (!r) r = plan_dir(c, "etc/sysconfig/network-scripts", "ifcfg-", NULL, &ifcfg);
	if (!r) r = plan_dir(c, "etc/sysconfig/network", "ifcfg-", NULL, &ifcfg);
	if (!r) r = plan_dir(c, "etc/systemd/network", NULL, ".link", &networkd);
	if (!r) r = plan_dir(c, "etc/systemd/network", NULL, ".network", &networkd);
	if (!r) r = plan_dir(c, "etc/NetworkManager/system-connections", NULL, ".nmconnection", &nm);
	if (!r) r = plan_dir(c, "etc/netplan", NULL, ".yaml", &netplan);
	if (!r && c->opts->network == MIG_NET_DHCP)
		r = plan_file(c, "etc/network/interfaces", &interfaces);
	if (!r) r = plan_file(c, "etc/apt/sources.list", &sources);
	if (!r) r = plan_dir(c, "etc/yum.repos.d", NULL, ".repo", &yum);
	if (!r) r = plan_dir(c, "etc/zypp/repos.d", NULL, ".repo", &yum);
	if (!r) r = plan_lvm(c);
	return r;
}


/* PRETTY_NAME="..." of os-release. */
static char *os_name(int root_fd)
{
	static const char *const paths[] = { "etc/os-release", "usr/lib/os-release" };
	char *text = NULL, *name = NULL;
	size_t len;

	for (size_t i = 0; i < 2 && !text; i++)
		if (read_beneath(root_fd, paths[i], 65536, &text, &len, NULL) < 0)
			text = NULL;
	if (!text)
		return NULL;
	for (char *l = text; l && *l && !name; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, "PRETTY_NAME=", 12))
			continue;
		char *v = l + 12, *e = strchr(v, '\n');
		size_t n = e ? (size_t)(e - v) : strlen(v);
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
			v++;
			n -= 2;
		}
		name = strndup(v, n < 200 ? n : 200);
	}
	free(text);
	return name;
}

static void fs_area(const struct mig_disk *d, const struct mig_part *p, uint64_t *off, uint64_t *size)
{
	*off = p ? p->start * d->log_sec : 0;
	*size = p ? p->sectors * d->log_sec : d->size;
}

static const struct mig_fs *pfs_fs(const struct pfs *f)
{
	return f->part ? &f->part->fs : &f->disk->fs;
}

static void pfs_close(struct pfs *f)
{
	if (f->root_fd >= 0)
		close(f->root_fd);
	f->root_fd = -1;
	mig_fsmount_close(f->m);
	f->m = NULL;
}

static int pfs_open(struct pfs *f, unsigned flags)
{
	uint64_t off, size;
	int r;

	fs_area(f->disk, f->part, &off, &size);
	r = mig_fsmount_open_flags(f->disk->path, off, size, pfs_fs(f)->type, flags, &f->m);
	if (r < 0) {
		f->m = NULL;
		return r;
	}
	f->root_fd = open(mig_fsmount_dir(f->m), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (f->root_fd < 0) {
		r = -errno;
		pfs_close(f);
	}
	return r;
}

/* Calls fn for each mountable (non-FAT) filesystem of inv. */
static int each_fs(const struct mig_inventory *inv, int (*fn)(struct pfs *f, void *data), void *data)
{
	for (size_t i = 0; i < inv->ndisks; i++) {
		const struct mig_disk *d = &inv->disks[i];
		size_t n = d->nparts ? d->nparts : 1;

		for (size_t j = 0; j < n; j++) {
			struct pfs f = { .disk = d, .part = d->nparts ? &d->parts[j] : NULL, .disk_idx = i,
					 .root_fd = -1 };
			const struct mig_fs *fs = pfs_fs(&f);
			f.name = f.part ? f.part->path : d->path;
			if (fs->ambivalent || !mig_fsmount_supported(fs->type) || !strcmp(fs->type, "vfat"))
				continue;
			int r = fn(&f, data);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

struct plan_state {
	struct pctx *c;
	int mount_err;
	size_t roots;
};

static int plan_one(struct pfs *f, void *data)
{
	struct plan_state *s = data;
	struct pctx *c = s->c;
	int r = pfs_open(f, 0);

	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (!s->mount_err)
			s->mount_err = r;
		return add_skip(c->rep, "mount", "%s: %s filesystem not mounted: %s", f->name, pfs_fs(f)->type,
				strerror(-r));
	}
	c->f = f;
	bool root = exists_beneath(f->root_fd, "etc/fstab") &&
		    (exists_beneath(f->root_fd, "etc/os-release") || exists_beneath(f->root_fd, "usr/lib/os-release"));
	if (root) {
		s->roots++;
		if (!c->rep->root_device) {
			c->rep->root_device = strdup(f->name);
			c->rep->os_name = os_name(f->root_fd);
			if (!c->rep->root_device)
				r = -ENOMEM;
		}
		c->mount_prefix = "";
		c->boot_changed = false;
		if (r == 0)
			r = plan_root(c);
		if (r == 0 && s->roots == 1) {
			c->rep->root_disk = f->disk_idx;
			c->rep->root_part = f->part ? f->part->partno : 0;
			r = plan_initramfs(c);
			if (r == 0)
				r = plan_grub_mkconfig(c);
		}
	} else if (exists_beneath(f->root_fd, "grub/grub.cfg") || exists_beneath(f->root_fd, "grub2/grub.cfg") ||
		   exists_beneath(f->root_fd, "loader/entries")) {
		c->mount_prefix = "/boot";
		r = plan_boot(c, "");
	}
	c->f = NULL;
	pfs_close(f);
	return r;
}

int mig_patch_plan(const struct mig_inventory *inv, const struct mig_patch_opts *opts,
		   struct mig_patch_report **ret_report)
{
	struct mig_patch_report *rep = calloc(1, sizeof(*rep));
	struct pctx c = { .inv = inv, .opts = opts, .rep = rep };
	struct plan_state s = { .c = &c };
	int r;

	if (!rep)
		return -ENOMEM;
	r = each_fs(inv, plan_one, &s);
	if (r == 0 && !s.roots)
		r = s.mount_err == -EPERM ? -EPERM : -ENOENT;
	if (r == 0 && s.roots > 1)
		r = add_skip(rep, "system", "%zu installed systems found; patched all of them, "
			     "device names resolved against the same disks", s.roots);
	if (r == 0)
		r = add_skip(rep, "boot-code", "BIOS boot code and the UEFI fallback loader are not "
			     "reinstalled; see bios.* and uefi.* of `migrator verify`");
	if (r < 0) {
		mig_patch_report_free(rep);
		return r;
	}
	*ret_report = rep;
	return 0;
}

/* --- applying ------------------------------------------------------------------- */

static int get_flags(int fd, int *flags)
{
	return ioctl(fd, FS_IOC_GETFLAGS, flags) < 0 ? -errno : 0;
}

/* Applies one change below the mount point dir (root_fd). */
static int apply_one(int root_fd, const char *dir, struct mig_change *ch)
{
	const char *rel = ch->path + 1;
	char *cur = NULL, path[4096], backup[4096];
	size_t cur_len;
	mode_t mode;
	int r, flags = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >= (int)sizeof(path) ||
	    snprintf(backup, sizeof(backup), "%s%s", path, MIG_PATCH_BACKUP_SUFFIX) >= (int)sizeof(backup))
		return -ENAMETOOLONG;
	if (ch->action == MIG_CHANGE_CREATE) {
		/* a new file: its directory reached without symlinks, the name free */
		char parent[4096];
		snprintf(parent, sizeof(parent), "%s", rel);
		char *slash = strrchr(parent, '/');
		if (slash)
			*slash = 0;
		int pfd = open_beneath(root_fd, slash ? parent : ".", O_PATH | O_DIRECTORY);
		if (pfd < 0)
			return pfd;
		close(pfd);
		int efd = open_beneath(root_fd, rel, O_PATH);
		if (efd >= 0) {
			close(efd);
			return -EEXIST;
		}
		if (efd != -ENOENT)
			return efd;
		return mig_write_file_atomic(path, ch->new_text, ch->new_len, 0644);
	}
	/* still what was planned, and still reached without symlinks */
	r = read_beneath(root_fd, rel, MIG_PATCH_FILE_MAX, &cur, &cur_len, &mode);
	if (r < 0)
		return r;
	bool same = cur_len == ch->old_len && !memcmp(cur, ch->old_text, cur_len);
	free(cur);
	if (!same)
		return -ESTALE;

	int fd = open_beneath(root_fd, rel, O_RDONLY);
	if (fd < 0)
		return fd;
	if (get_flags(fd, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
		int nf = flags & ~FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &nf) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		ch->immutable = true;
	}
	close(fd);

	/* the backup: the first run's original is never overwritten */
	char brel[4096];
	snprintf(brel, sizeof(brel), "%s%s", rel, MIG_PATCH_BACKUP_SUFFIX);
	int bfd = open_beneath(root_fd, brel, O_PATH);
	if (bfd >= 0) {
		close(bfd);
		ch->backup_kept = true;
	} else if (bfd == -ENOENT) {
		r = mig_write_file_atomic(backup, ch->old_text, ch->old_len, mode);
	} else {
		r = bfd;
	}
	if (r == 0) {
		if (ch->action == MIG_CHANGE_REMOVE)
			r = unlink(path) < 0 ? -errno : 0;
		else
			r = mig_write_file_atomic(path, ch->new_text, ch->new_len, mode);
	}
	if (ch->immutable) {
		/* set again on whatever is there now: the new file, or the old
		 * one if the write failed */
		const char *again = ch->action == MIG_CHANGE_REMOVE && r == 0 ? backup : path;
		int afd = open(again, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		int nf = 0;
		if (afd >= 0 && get_flags(afd, &nf) == 0) {
			nf |= FS_IMMUTABLE_FL;
			if (ioctl(afd, FS_IOC_SETFLAGS, &nf) < 0 && r == 0)
				r = -errno;
		}
		if (afd >= 0)
			close(afd);
	}
	return r;
}

struct apply_state {
	struct mig_patch_report *rep;
	int first_err;
};

static int apply_fs(struct pfs *f, void *data)
{
	struct apply_state *s = data;
	struct mig_patch_report *rep = s->rep;
	size_t partno = f->part ? f->part->partno : 0;
	bool any = false;
	int r;

	for (size_t i = 0; i < rep->n && !any; i++)
		any = rep->v[i].disk == f->disk_idx && rep->v[i].part == partno;
	if (!any)
		return 0;
	r = pfs_open(f, MIG_FSMOUNT_RW);
	for (size_t i = 0; i < rep->n; i++) {
		struct mig_change *ch = &rep->v[i];
		if (ch->disk != f->disk_idx || ch->part != partno)
			continue;
		ch->error = r < 0 ? r : apply_one(f->root_fd, mig_fsmount_dir(f->m), ch);
		ch->applied = ch->error == 0;
		if (ch->applied)
			rep->applied++;
		else
			rep->failed++;
		if (ch->error && !s->first_err)
			s->first_err = ch->error;
	}
	if (r == 0) {
		int dfd = open(mig_fsmount_dir(f->m), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if ((dfd < 0 || syncfs(dfd) < 0) && !s->first_err)
			s->first_err = -errno;
		if (dfd >= 0)
			close(dfd);
	}
	pfs_close(f);
	return r == -ENOMEM ? r : 0;
}

/* The filesystem an fstab spec names, resolved against the inventory. */
static bool find_fs(const struct mig_inventory *inv, const char *spec, struct pfs *ret)
{
	enum mig_ref_kind kind;
	char *value = NULL, *mapped = NULL;

	if (mig_ref_parse_spec(spec, &kind, &value) < 0)
		return false;
	if ((kind == MIG_REF_DEVNAME || kind == MIG_REF_MACHINE) && devmap(spec, &mapped, (void *)inv) == 1) {
		free(value);
		value = NULL;
		if (mig_ref_parse_spec(mapped, &kind, &value) < 0)
			value = NULL;
		free(mapped);
		if (!value)
			return false;
	}
	bool found = false;
	for (size_t i = 0; i < inv->ndisks && !found; i++) {
		const struct mig_disk *d = &inv->disks[i];
		for (size_t j = 0; j < d->nparts && !found; j++) {
			const struct mig_part *p = &d->parts[j];
			const char *have = kind == MIG_REF_UUID ? p->fs.uuid : kind == MIG_REF_PARTUUID ? p->uuid :
					   kind == MIG_REF_LABEL ? p->fs.label : NULL;
			if (have && !strcasecmp(have, value)) {
				*ret = (struct pfs){ .disk = d, .part = p, .disk_idx = i, .name = p->path, .root_fd = -1 };
				found = true;
			}
		}
	}
	free(value);
	return found;
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

static void fail_steps(struct mig_patch_report *rep, int err, const char *why)
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

/* Runs the planned steps in a chroot of the root filesystem, with /boot
 * and /boot/efi mounted as its fstab says. */
static int run_steps(const struct mig_inventory *inv, struct mig_patch_report *rep)
{
	static const char *const mps[] = { "/boot", "/boot/efi" };
	struct pfs root = { 0 }, sub[2];
	struct mig_chroot_bind binds[2];
	size_t nsub = 0;
	int r, first = 0;

	if (rep->root_disk >= inv->ndisks)
		return -EINVAL;
	root = (struct pfs){ .disk = &inv->disks[rep->root_disk], .disk_idx = rep->root_disk, .root_fd = -1 };
	for (size_t j = 0; j < root.disk->nparts; j++)
		if (root.disk->parts[j].partno == rep->root_part)
			root.part = &root.disk->parts[j];
	root.name = root.part ? root.part->path : root.disk->path;
	if ((r = pfs_open(&root, MIG_FSMOUNT_RW)) < 0) {
		fail_steps(rep, r, "the root filesystem could not be mounted read-write");
		return r;
	}
	char *fstab = NULL;
	size_t flen = 0;
	struct mig_refs refs = { 0 };
	if (read_beneath(root.root_fd, "etc/fstab", MIG_PATCH_FILE_MAX, &fstab, &flen, NULL) == 0)
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
			if (!find_fs(inv, spec, &sub[nsub])) {
				if (m == 1)
					break;
				first = -ENODEV;
				fail_steps(rep, first, "the filesystem the system mounts at /boot is not on the disks");
				break;
			}
			if ((r = pfs_open(&sub[nsub], MIG_FSMOUNT_RW)) < 0) {
				if (m == 1)
					break;
				first = r;
				fail_steps(rep, r, "the system's /boot could not be mounted");
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
		r = mig_chroot_run(mig_fsmount_dir(root.m), binds, nsub, st->argv, MIG_PATCH_STEP_TIMEOUT,
				   &status, &out, &len);
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
		pfs_close(&sub[--nsub]);
	int dfd = open(mig_fsmount_dir(root.m), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		syncfs(dfd);
		close(dfd);
	}
	pfs_close(&root);
	for (size_t i = 0; i < rep->nsteps && !first; i++)
		if (rep->steps[i].error)
			first = rep->steps[i].error;
	return first;
}

int mig_patch_apply(const struct mig_inventory *inv, struct mig_patch_report *rep)
{
	struct apply_state s = { .rep = rep };
	int r;

	rep->applied = rep->failed = rep->steps_ok = rep->steps_failed = 0;
	r = each_fs(inv, apply_fs, &s);
	if (r < 0)
		return r;
	/* the tools read the changed files: only after every change went in */
	if (rep->nsteps && !s.first_err)
		s.first_err = run_steps(inv, rep);
	else if (rep->nsteps)
		fail_steps(rep, -ECANCELED, "not run: a file change failed");
	return s.first_err;
}
