/* verify.c — see verify.h. The run: mount every filesystem read-only, run
 * the boot-chain checks (verify-boot.c) and the system checks
 * (verify-os.c), resolve every reference they collected, unmount. */
#include "verify-int.h"

#include "fileio.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <strings.h>
#include <unistd.h>

const char *mig_verdict_name(enum mig_verdict v)
{
	switch (v) {
	case MIG_PASS: return "pass";
	case MIG_WARN: return "warn";
	case MIG_FAIL: return "fail";
	}
	return "?";
}

static const char *const bus_names[] = {
	[MIG_BUS_ANY] = "any", [MIG_BUS_VIRTIO] = "virtio", [MIG_BUS_NVME] = "nvme",
	[MIG_BUS_XEN] = "xen", [MIG_BUS_HYPERV] = "hyperv", [MIG_BUS_SCSI] = "scsi",
};

int mig_bus_from_name(const char *name, enum mig_bus *ret)
{
	for (size_t i = MIG_BUS_VIRTIO; name && i < sizeof(bus_names) / sizeof(bus_names[0]); i++)
		if (!strcmp(name, bus_names[i])) {
			*ret = (enum mig_bus)i;
			return 0;
		}
	return -EINVAL;
}

const char *mig_bus_name(enum mig_bus bus)
{
	return (size_t)bus < sizeof(bus_names) / sizeof(bus_names[0]) ? bus_names[bus] : "?";
}

void mig_verify_report_free(struct mig_verify_report *rep)
{
	if (!rep)
		return;
	for (size_t i = 0; i < rep->n; i++) {
		free(rep->v[i].id);
		free(rep->v[i].subject);
		free(rep->v[i].reason);
	}
	free(rep->v);
	free(rep);
}

void vresult(struct vctx *c, const char *id, enum mig_verdict v, const char *subject,
	     const char *fmt, ...)
{
	struct mig_verify_report *rep = c->rep;
	struct mig_check k = { .verdict = v };
	va_list ap;

	if (c->err || rep->n >= MIG_VERIFY_MAX_RESULTS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&k.reason, fmt, ap) < 0)
		k.reason = NULL;
	va_end(ap);
	/* one line, whatever a file name held */
	for (char *p = k.reason; p && *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	k.id = strdup(id);
	k.subject = strdup(subject ? subject : "");
	struct mig_check *nv = k.reason && k.id && k.subject ?
			       realloc(rep->v, (rep->n + 1) * sizeof(*nv)) : NULL;
	if (!nv) {
		free(k.id);
		free(k.subject);
		free(k.reason);
		c->err = -ENOMEM;
		return;
	}
	rep->v = nv;
	rep->v[rep->n++] = k;
	rep->count[v]++;
}

/* --- files inside a filesystem (mounted, or FAT read directly) ------------ */

int vpread(void *ctx, uint64_t off, void *buf, size_t len)
{
	return mig_pread_all((int)(intptr_t)ctx, buf, len, off);
}

bool vfs_readable(const struct vfs *f)
{
	return f->m || f->fat;
}

int vfs_open(const struct vfs *f, const char *rel, int flags)
{
	/* openat2 refuses O_PATH with flags beyond O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC */
	if (!(flags & O_PATH))
		flags |= O_NOCTTY;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd;

	if (f->root_fd < 0)
		return -ENOENT;
	if (!*rel)
		rel = ".";
	fd = syscall(SYS_openat2, f->root_fd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		/* before Linux 5.6: no symlinks at all rather than escaping */
		fd = openat(f->root_fd, rel, flags | O_CLOEXEC | O_NOFOLLOW);
	}
	return fd < 0 ? -errno : (int)fd;
}

int vfs_read(const struct vfs *f, const char *rel, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	int fd, r = 0;
	char *buf = NULL;
	size_t len = 0;

	if (f->fat) {
		struct mig_fat_entry e;
		if ((r = mig_fat_lookup(f->fat, rel, &e)) < 0)
			return r;
		return mig_fat_read(f->fat, &e, max, (uint8_t **)ret, ret_len);
	}
	fd = vfs_open(f, rel, O_RDONLY);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		r = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	*ret = buf;
	*ret_len = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

bool vfs_exists(const struct vfs *f, const char *rel, bool dir)
{
	struct stat st;
	int fd;
	bool ok;

	if (f->fat) {
		struct mig_fat_entry e;
		return mig_fat_lookup(f->fat, rel, &e) == 0 && e.dir == dir;
	}
	fd = vfs_open(f, rel, O_PATH);
	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && (dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
	close(fd);
	return ok;
}

static int fat_list_cb(const struct mig_fat_entry *e, void *data)
{
	struct { int (*fn)(const char *, bool, void *); void *data; } *w = data;

	return w->fn(e->name, e->dir, w->data);
}

struct nocase {
	const char *want;
	char *path;
	size_t len;
};

static int nocase_cb(const char *name, bool dir, void *data)
{
	struct nocase *n = data;

	if (strcasecmp(name, n->want))
		return 0;
	size_t have = strlen(n->path);
	snprintf(n->path + have, n->len - have, "%s%s", have ? "/" : "", name);
	return 1;
}

int vfs_list(const struct vfs *f, const char *rel, int (*fn)(const char *name, bool dir, void *data),
	     void *data)
{
	int r = 0;

	if (f->fat) {
		struct mig_fat_entry e;
		struct { int (*fn)(const char *, bool, void *); void *data; } w = { fn, data };
		if ((r = mig_fat_lookup(f->fat, rel, &e)) < 0)
			return r;
		return mig_fat_list(f->fat, &e, fat_list_cb, &w);
	}
	int fd = vfs_open(f, rel, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	DIR *d = fdopendir(fd);
	struct dirent *e;
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while (r == 0 && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = fn(e->d_name, e->d_type == DT_DIR, data);
	closedir(d);
	return r;
}

int vfs_find_nocase(const struct vfs *f, const char *rel, char *out, size_t outlen)
{
	char path[512] = "", comp[256];
	const char *p = rel;

	if (f->fat) {
		/* FAT is case-insensitive already; report the on-disk spelling */
		while (*p) {
			size_t l = strcspn(p, "/");
			if (l && l < sizeof(comp)) {
				struct nocase n = { comp, path, sizeof(path) };
				memcpy(comp, p, l);
				comp[l] = 0;
				char parent[512];
				snprintf(parent, sizeof(parent), "%s", path);
				if (vfs_list(f, parent, nocase_cb, &n) != 1)
					return -ENOENT;
			}
			p += l + (p[l] == '/');
		}
		if (strlen(path) >= outlen)
			return -ENAMETOOLONG;
		strcpy(out, path);
		return 0;
	}

	while (*p) {
		size_t l = strcspn(p, "/");
		if (l == 0 || l >= sizeof(comp)) {
			p += l + (p[l] == '/');
			continue;
		}
		memcpy(comp, p, l);
		comp[l] = 0;
		p += l + (p[l] == '/');
		int fd = vfs_open(f, path, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			return -ENOENT;
		DIR *d = fdopendir(fd);
		struct dirent *e;
		bool found = false;
		if (!d) {
			close(fd);
			return -ENOENT;
		}
		while ((e = readdir(d))) {
			if (!strcasecmp(e->d_name, comp)) {
				size_t have = strlen(path);
				snprintf(path + have, sizeof(path) - have, "%s%s", have ? "/" : "", e->d_name);
				found = true;
				break;
			}
		}
		closedir(d);
		if (!found)
			return -ENOENT;
	}
	if (strlen(path) >= outlen)
		return -ENAMETOOLONG;
	strcpy(out, path);
	return 0;
}

void vrefs_from_file(struct vctx *c, const struct vfs *f, const char *rel, vrefs_fn fn)
{
	char *text = NULL, source[512];
	size_t len;
	int r = vfs_read(f, rel, MIG_VERIFY_FILE_MAX, &text, &len);

	snprintf(source, sizeof(source), "%s:/%s", f->name, rel);
	if (r == -ENOENT || r == -ENOTDIR)
		return;
	if (r < 0) {
		vresult(c, "ref", MIG_FAIL, source, "cannot read: %s", strerror(-r));
		return;
	}
	r = fn(&c->refs, text, len, source);
	if (r == -ENOMEM)
		c->err = r;
	else if (r < 0)
		vresult(c, "ref", MIG_WARN, source, "not fully read: %s", strerror(-r));
	free(text);
}

/* --- mounting -------------------------------------------------------------- */

static int add_fs(struct vctx *c, const struct mig_disk *d, const struct mig_part *p)
{
	const struct mig_fs *fs = p ? &p->fs : &d->fs;
	struct vfs *v;

	if (fs->ambivalent || !mig_fsmount_supported(fs->type))
		return 0;
	if (!(v = realloc(c->fs, (c->nfs + 1) * sizeof(*v))))
		return -ENOMEM;
	c->fs = v;
	v = &c->fs[c->nfs++];
	*v = (struct vfs){ .disk = d, .part = p, .fs = fs, .name = p ? p->path : d->path, .root_fd = -1,
			   .disk_fd = -1 };
	uint64_t off = p ? p->start * d->log_sec : 0;
	uint64_t size = p ? p->sectors * d->log_sec : d->size;
	int r;

	if (!strcmp(fs->type, "vfat")) {
		/* FAT is read here, not mounted: no kernel driver needed */
		v->disk_fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (v->disk_fd < 0)
			r = -errno;
		else
			r = mig_fat_open(vpread, (void *)(intptr_t)v->disk_fd, off, size, &v->fat);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			vresult(c, "fs.mount", MIG_FAIL, v->name, "FAT filesystem not readable: %s",
				r == -EBADMSG ? "corrupt boot sector or FAT" : strerror(-r));
			return 0;
		}
		v->is_esp = (p && p->partno == d->boot.esp_partno) || vfs_exists(v, "EFI", true);
		return 0;
	}
	r = mig_fsmount_open(d->path, off, size, fs->type, &v->m);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		vresult(c, "fs.mount", MIG_FAIL, v->name, "%s filesystem not readable (mount read-only failed: %s)%s",
			fs->type, strerror(-r), r == -EPERM ? "; verify needs root" : "");
		v->m = NULL;
		return 0;
	}
	v->root_fd = open(mig_fsmount_dir(v->m), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (v->root_fd < 0)
		return -errno;
	v->is_root = vfs_exists(v, "etc/fstab", false);
	return 0;
}

static bool has_kernel_or_loader(const struct vfs *f, const char *dir)
{
	static const char *const marks[] = { "grub/grub.cfg", "grub2/grub.cfg", "loader/entries", "grub", "grub2" };
	char rel[64];

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		snprintf(rel, sizeof(rel), "%s%s%s", dir, *dir ? "/" : "", marks[i]);
		if (vfs_exists(f, rel, i == 0 || i == 1 ? false : true))
			return true;
	}
	int fd = vfs_open(f, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return false;
	DIR *d = fdopendir(fd);
	struct dirent *e;
	bool found = false;
	if (!d) {
		close(fd);
		return false;
	}
	while (!found && (e = readdir(d)))
		found = !strncmp(e->d_name, "vmlinuz", 7) || !strncmp(e->d_name, "vmlinux", 7);
	closedir(d);
	return found;
}

/* --- references ------------------------------------------------------------ */

/* UUIDs compared the way mdadm, cryptsetup and GRUB write them: hex digits
 * only, any case. */
static bool hex_equal(const char *a, const char *b)
{
	for (;;) {
		while (*a && !isxdigit((unsigned char)*a))
			a++;
		while (*b && !isxdigit((unsigned char)*b))
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if (tolower((unsigned char)*a++) != tolower((unsigned char)*b++))
			return false;
	}
}

static bool fs_type_is(const struct mig_fs *fs, const char *type)
{
	return fs->type && !strcmp(fs->type, type);
}

struct matches {
	size_t n;
	const char *where[2];
	const char *type[2];
};

static void match_one(struct matches *m, const char *where, const char *type)
{
	if (m->n < 2) {
		m->where[m->n] = where;
		m->type[m->n] = type;
	}
	m->n++;
}

static bool fs_matches(const struct mig_ref *r, const struct mig_fs *fs)
{
	switch (r->kind) {
	case MIG_REF_UUID:
		/* RAID members share the array's UUID: not a filesystem's */
		return fs->uuid && !fs->uuid_sub && !strcasecmp(fs->uuid, r->value);
	case MIG_REF_LABEL:
		return fs->label && !strcmp(fs->label, r->value);
	case MIG_REF_LUKSUUID:
		return fs->uuid && fs_type_is(fs, "crypto_LUKS") && hex_equal(fs->uuid, r->value);
	case MIG_REF_MDUUID:
		return fs->uuid && fs_type_is(fs, "linux_raid_member") && hex_equal(fs->uuid, r->value);
	default:
		return false;
	}
}

static struct matches find_matches(const struct mig_inventory *inv, const struct mig_ref *r)
{
	struct matches m = { 0 };

	for (size_t i = 0; i < inv->ndisks; i++) {
		const struct mig_disk *d = &inv->disks[i];

		if (!d->pttype && fs_matches(r, &d->fs))
			match_one(&m, d->path, d->fs.type);
		for (size_t k = 0; k < d->nparts; k++) {
			const struct mig_part *p = &d->parts[k];

			if (fs_matches(r, &p->fs) ||
			    (r->kind == MIG_REF_PARTUUID && p->uuid && !strcasecmp(p->uuid, r->value)) ||
			    (r->kind == MIG_REF_PARTLABEL && p->name && !strcmp(p->name, r->value)))
				match_one(&m, p->path, r->kind == MIG_REF_PARTUUID || r->kind == MIG_REF_PARTLABEL ?
						   (p->type_name ? p->type_name : "partition") : p->fs.type);
		}
	}
	return m;
}

/* Volumes verify cannot look into: a UUID not found may live inside. */
static const char *hidden_containers(const struct mig_inventory *inv)
{
	for (size_t i = 0; i < inv->ndisks; i++)
		for (size_t k = 0; k < inv->disks[i].nparts; k++) {
			const struct mig_fs *fs = &inv->disks[i].parts[k].fs;
			if (fs_type_is(fs, "LVM2_member") || fs_type_is(fs, "crypto_LUKS") ||
			    fs_type_is(fs, "linux_raid_member"))
				return fs->type;
		}
	return NULL;
}

static void resolve_refs(struct vctx *c)
{
	const char *hidden = hidden_containers(c->inv);

	for (size_t i = 0; i < c->refs.n && !c->err; i++) {
		const struct mig_ref *r = &c->refs.v[i];
		bool dup = false;

		/* one line per source, kind and value (grub.cfg repeats itself) */
		for (size_t j = 0; j < i && !dup; j++)
			dup = c->refs.v[j].kind == r->kind && !strcmp(c->refs.v[j].value, r->value) &&
			      !strcmp(c->refs.v[j].source, r->source);
		if (dup)
			continue;
		char subject[640];
		snprintf(subject, sizeof(subject), "%s:%u", r->source, r->line);
		const char *kind = mig_ref_kind_name(r->kind);
		bool optional = strstr(r->what, "noauto/nofail") != NULL;

		switch (r->kind) {
		case MIG_REF_DEVNAME:
			vresult(c, "ref", MIG_WARN, subject,
				"%s %s: a kernel device name, which depends on probe order and bus; use UUID=",
				r->what, r->value);
			continue;
		case MIG_REF_MACHINE:
			vresult(c, "ref", MIG_WARN, subject,
				"%s %s: names the old machine's hardware; it will not exist on the target",
				r->what, r->value);
			continue;
		case MIG_REF_ASSEMBLED:
			vresult(c, "ref", MIG_PASS, subject,
				"%s %s: assembled at boot (device-mapper, LVM or MD); not resolvable offline",
				r->what, r->value);
			continue;
		default:
			break;
		}
		struct matches m = find_matches(c->inv, r);
		if (m.n == 1 || (m.n > 1 && r->kind == MIG_REF_MDUUID))
			vresult(c, "ref", MIG_PASS, subject, "%s %s=%s: %s (%s)", r->what, kind, r->value,
				m.where[0], m.type[0] ? m.type[0] : "no filesystem");
		else if (m.n > 1)
			vresult(c, "ref", MIG_FAIL, subject,
				"%s %s=%s: ambiguous, matches %zu devices (%s, %s%s)", r->what, kind, r->value,
				m.n, m.where[0], m.where[1], m.n > 2 ? ", ..." : "");
		else if (optional)
			vresult(c, "ref", MIG_WARN, subject, "%s %s=%s: matches nothing on the verified disks",
				r->what, kind, r->value);
		else if (hidden && (r->kind == MIG_REF_UUID || r->kind == MIG_REF_LABEL))
			vresult(c, "ref", MIG_WARN, subject,
				"%s %s=%s: not on any visible filesystem; may be inside %s, which verify does not open",
				r->what, kind, r->value, hidden);
		else
			vresult(c, "ref", MIG_FAIL, subject, "%s %s=%s: matches nothing on the verified disks",
				r->what, kind, r->value);
	}
}

/* --- the run --------------------------------------------------------------- */

static void check_unique(struct vctx *c)
{
	bool any = false;

	for (size_t i = 0; i < c->inv->diags.n; i++) {
		const struct mig_diag *dg = &c->inv->diags.v[i];

		if (strcmp(dg->code, "duplicate-uuid"))
			continue;
		vresult(c, "uuid.unique", MIG_FAIL, "disk set", "%s", dg->message);
		any = true;
	}
	if (!any)
		vresult(c, "uuid.unique", MIG_PASS, "disk set", "every filesystem UUID and PARTUUID is unique");
}

static void check_any_loader(struct vctx *c)
{
	for (size_t i = 0; i < c->inv->ndisks; i++) {
		const struct mig_disk *d = &c->inv->disks[i];

		if (d->boot.mbr.boot_code || d->boot.esp_partno || d->boot.bios_boot_partno)
			return;
	}
	vresult(c, "boot.loader", MIG_FAIL, "disk set",
		"no disk has boot code in sector 0, a BIOS boot partition or an ESP: nothing would boot");
}

int mig_verify_run(const struct mig_inventory *inv, const struct mig_verify_opts *opts,
		   struct mig_verify_report **ret_report)
{
	static const struct mig_verify_opts defaults = { .target_bus = MIG_BUS_ANY };
	struct vctx c = { .inv = inv, .opts = opts ? opts : &defaults };
	int r = 0;

	if (!(c.rep = calloc(1, sizeof(*c.rep))))
		return -ENOMEM;
	for (size_t i = 0; i < inv->ndisks && r == 0; i++) {
		const struct mig_disk *d = &inv->disks[i];

		if (d->rescue_medium)
			continue;   /* our own boot medium is not part of the system */
		if (!d->pttype)
			r = add_fs(&c, d, NULL);
		for (size_t k = 0; k < d->nparts && r == 0; k++)
			if (!d->parts[k].container)
				r = add_fs(&c, d, &d->parts[k]);
	}
	if (r < 0)
		c.err = r;
	/* Which filesystem holds /boot: the root's boot/ or a separate one. */
	for (size_t i = 0; i < c.nfs; i++) {
		struct vfs *f = &c.fs[i];

		if (!f->m)
			continue;
		if (vfs_exists(f, "boot", true) && has_kernel_or_loader(f, "boot"))
			f->boot_dir = "boot";
		else if (!f->is_root && has_kernel_or_loader(f, ""))
			f->boot_dir = "";
	}

	check_any_loader(&c);
	for (size_t i = 0; i < inv->ndisks && !c.err; i++)
		if (!inv->disks[i].rescue_medium)
			verify_bios(&c, &inv->disks[i]);
	for (size_t i = 0; i < c.nfs && !c.err; i++)
		if (c.fs[i].fat && c.fs[i].is_esp)
			verify_uefi(&c, &c.fs[i]);
	if (!c.err && !c.opts->boot_only) {
		verify_os(&c);
		check_unique(&c);
		resolve_refs(&c);
	}

	for (size_t i = 0; i < c.nfs; i++) {
		if (c.fs[i].root_fd >= 0)
			close(c.fs[i].root_fd);
		mig_fat_close(c.fs[i].fat);
		if (c.fs[i].disk_fd >= 0)
			close(c.fs[i].disk_fd);
		int u = mig_fsmount_close(c.fs[i].m);
		if (u < 0 && !c.err)
			vresult(&c, "fs.mount", MIG_WARN, c.fs[i].name, "could not unmount cleanly: %s", strerror(-u));
	}
	free(c.fs);
	mig_refs_clear(&c.refs);
	if (c.err) {
		mig_verify_report_free(c.rep);
		return c.err;
	}
	*ret_report = c.rep;
	return 0;
}
