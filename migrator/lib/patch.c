/* patch.c — see patch.h. */
#include "patch.h"
#include "patch-int.h"

#include "fileio.h"
#include "fsmount.h"
#include "refs.h"
#include "rewrite.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

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
		free(rep->steps[i].verify_reason);
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

/* --- the report -------------------------------------------------------------------- */

int patch_add_skip(struct mig_patch_report *rep, const char *step, const char *fmt, ...)
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
int patch_add_change(struct pctx *c, const char *rel, enum mig_change_action action, char *old,
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
	int r = patch_read_beneath(c->f->root_fd, rel, MIG_PATCH_FILE_MAX, &text, &len, NULL);

	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return patch_add_skip(c->rep, "file", "%s:/%s not read: %s", c->f->name, rel,
				r == -ELOOP || r == -EXDEV ? "reached through a symlink" :
				r == -EINVAL ? "not a regular file" : strerror(-r));
	switch (w->kind) {
	case RW_DEV: r = w->dev(text, len, patch_devmap, (void *)c->inv, &out); break;
	case RW_NET: r = w->net(text, len, c->opts->network == MIG_NET_DHCP, &out); break;
	default: r = w->plain(text, len, &out); break;
	}
	if (r < 0) {
		free(text);
		return r == -ENOMEM ? r : patch_add_skip(c->rep, "file", "%s:/%s not rewritten: %s", c->f->name, rel,
						   strerror(-r));
	}
	if (!out.changes) {
		free(text);
		mig_rewrite_free(&out);
		return 0;
	}
	if (w->kind == RW_DEV)
		c->boot_changed = true;
	return patch_add_change(c, rel, MIG_CHANGE_REWRITE, text, len, out.text, out.len, out.changes, w->reason);
}

/* Plans the removal of rel, if it exists (the backup keeps it). */
static int plan_remove(struct pctx *c, const char *rel, const char *reason)
{
	char *text = NULL;
	size_t len;
	int r = patch_read_beneath(c->f->root_fd, rel, MIG_PATCH_FILE_MAX, &text, &len, NULL);

	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return patch_add_skip(c->rep, "file", "%s:/%s not removed: %s", c->f->name, rel,
				r == -ELOOP || r == -EXDEV ? "reached through a symlink" : strerror(-r));
	return patch_add_change(c, rel, MIG_CHANGE_REMOVE, text, len, NULL, 0, 0, reason);
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
	int fd = patch_open_beneath(c->f->root_fd, dir, O_RDONLY | O_DIRECTORY), r = 0;
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
	int r = patch_read_beneath(c->f->root_fd, rel, MIG_PATCH_FILE_MAX, &text, &len, NULL);

	if (r < 0)
		return r == -ENOMEM ? r : 0;
	if (devices_file_names_our_disks(c->inv, text)) {
		free(text);
		return 0;
	}
	return patch_add_change(c, rel, MIG_CHANGE_REMOVE, text, len, NULL, 0, 0,
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
		if (patch_read_beneath(root_fd, paths[i], 65536, &text, &len, NULL) < 0)
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

struct plan_state {
	struct pctx *c;
	int mount_err;
	size_t roots;
};

static int plan_one(struct pfs *f, void *data)
{
	struct plan_state *s = data;
	struct pctx *c = s->c;
	int r = patch_fs_open(f, 0);

	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (!s->mount_err)
			s->mount_err = r;
		return patch_add_skip(c->rep, "mount", "%s: %s filesystem not mounted: %s", f->name, patch_fs_info(f)->type,
				strerror(-r));
	}
	c->f = f;
	bool root = patch_exists_beneath(f->root_fd, "etc/fstab") &&
		    (patch_exists_beneath(f->root_fd, "etc/os-release") || patch_exists_beneath(f->root_fd, "usr/lib/os-release"));
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
			c->have_root = true;
			/* else a separate /boot holds GRUB (planned before or after this) */
			if (patch_exists_beneath(f->root_fd, "boot/grub/grub.cfg") ||
			    patch_exists_beneath(f->root_fd, "boot/grub2/grub.cfg"))
				c->boot_disk = f->disk_idx;
			if (patch_exists_beneath(f->root_fd, "usr/lib/grub/i386-pc/boot.img"))
				c->grub_install = patch_exists_beneath(f->root_fd, "usr/sbin/grub-install") ?
					"/usr/sbin/grub-install" : patch_exists_beneath(f->root_fd, "usr/sbin/grub2-install") ?
					"/usr/sbin/grub2-install" : NULL;
			c->rep->root_disk = f->disk_idx;
			c->rep->root_part = f->part ? f->part->partno : 0;
			r = patch_plan_initramfs(c);
			if (r == 0)
				r = patch_plan_grub_mkconfig(c);
		}
	} else if (patch_exists_beneath(f->root_fd, "grub/grub.cfg") || patch_exists_beneath(f->root_fd, "grub2/grub.cfg") ||
		   patch_exists_beneath(f->root_fd, "loader/entries")) {
		c->mount_prefix = "/boot";
		if (c->boot_disk == SIZE_MAX)
			c->boot_disk = f->disk_idx;
		r = plan_boot(c, "");
	}
	c->f = NULL;
	patch_fs_close(f);
	return r;
}

int mig_patch_plan(const struct mig_inventory *inv, const struct mig_patch_opts *opts,
		   struct mig_patch_report **ret_report)
{
	struct mig_patch_report *rep = calloc(1, sizeof(*rep));
	struct pctx c = { .inv = inv, .opts = opts, .rep = rep, .boot_disk = SIZE_MAX };
	struct plan_state s = { .c = &c };
	int r;

	if (!rep)
		return -ENOMEM;
	r = patch_each_fs(inv, plan_one, &s);
	if (r == 0 && !s.roots)
		r = s.mount_err == -EPERM ? -EPERM : -ENOENT;
	if (r == 0 && s.roots > 1)
		r = patch_add_skip(rep, "system", "%zu installed systems found; patched all of them, "
			     "device names resolved against the same disks", s.roots);
	if (r == 0 && c.have_root) {
		if (c.boot_disk == SIZE_MAX)
			c.boot_disk = rep->root_disk;   /* no separate /boot found: / holds the loader, if any */
		r = patch_plan_boot_code(&c);
	}
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

/* Replaces path atomically with the original's owner and SELinux label
 * (a relabel-less RHEL would deny access to an unlabeled /etc/fstab). */
static int replace_keeping_owner(const char *path, const char *text, size_t len, mode_t mode)
{
	struct stat st;
	char label[256];
	ssize_t ln = getxattr(path, "security.selinux", label, sizeof(label));
	bool have = stat(path, &st) == 0;
	int r = mig_write_file_atomic(path, text, len, mode);

	if (r < 0)
		return r;
	if (have && (st.st_uid != 0 || st.st_gid != 0) && chown(path, st.st_uid, st.st_gid) < 0)
		return -errno;
	if (ln > 0 && setxattr(path, "security.selinux", label, (size_t)ln, 0) < 0 && errno != ENOTSUP)
		return -errno;
	return 0;
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
		int pfd = patch_open_beneath(root_fd, slash ? parent : ".", O_PATH | O_DIRECTORY);
		if (pfd < 0)
			return pfd;
		close(pfd);
		int efd = patch_open_beneath(root_fd, rel, O_PATH);
		if (efd >= 0) {
			close(efd);
			return -EEXIST;
		}
		if (efd != -ENOENT)
			return efd;
		return mig_write_file_atomic(path, ch->new_text, ch->new_len, 0644);
	}
	/* still what was planned, and still reached without symlinks */
	r = patch_read_beneath(root_fd, rel, MIG_PATCH_FILE_MAX, &cur, &cur_len, &mode);
	if (r < 0)
		return r;
	bool same = cur_len == ch->old_len && !memcmp(cur, ch->old_text, cur_len);
	free(cur);
	if (!same)
		return -ESTALE;

	int fd = patch_open_beneath(root_fd, rel, O_RDONLY);
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
	int bfd = patch_open_beneath(root_fd, brel, O_PATH);
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
			r = replace_keeping_owner(path, ch->new_text, ch->new_len, mode);
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
	r = patch_fs_open(f, MIG_FSMOUNT_RW);
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
	patch_fs_close(f);
	return r == -ENOMEM ? r : 0;
}

int mig_patch_apply(const struct mig_inventory *inv, struct mig_patch_report *rep)
{
	struct apply_state s = { .rep = rep };
	int r;

	rep->applied = rep->failed = rep->steps_ok = rep->steps_failed = 0;
	r = patch_each_fs(inv, apply_fs, &s);
	if (r < 0)
		return r;
	/* the tools read the changed files: only after every change went in */
	if (rep->nsteps && !s.first_err) {
		s.first_err = patch_run_steps(inv, rep);
		int v = patch_reverify_boot_code(inv, rep);
		if (!s.first_err)
			s.first_err = v;
	}
	else if (rep->nsteps)
		patch_fail_steps(rep, -ECANCELED, "not run: a file change failed");
	return s.first_err;
}
