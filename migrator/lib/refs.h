/* refs.h — device references in a system's configuration files.
 *
 * A migrated system boots only if every place that names a disk, partition
 * or filesystem (fstab, crypttab, grub.cfg, /etc/default/grub, BLS entries,
 * mdadm.conf, the resume setting) still names exactly one of them. These
 * parsers pull those references out of the text; verify.h resolves them
 * against an inventory.
 *
 * Pure functions on strings; no I/O. Every parser takes the text and its
 * length (NUL bytes end a line), a source name that is copied into each
 * reference (e.g. "etc/fstab"), and appends to a caller-owned struct
 * mig_refs. Limits: texts above MIG_REFS_TEXT_MAX give -EFBIG; lines longer
 * than MIG_REFS_LINE_MAX are skipped; after MIG_REFS_MAX references -E2BIG.
 */
#ifndef MIGRATOR_REFS_H
#define MIGRATOR_REFS_H

#include <stdbool.h>
#include <stddef.h>

#define MIG_REFS_MAX       4096
#define MIG_REFS_TEXT_MAX  (4u << 20)
#define MIG_REFS_LINE_MAX  8192

enum mig_ref_kind {
	MIG_REF_UUID,        /* UUID=, /dev/disk/by-uuid/, search --fs-uuid: a filesystem UUID */
	MIG_REF_PARTUUID,    /* PARTUUID=, /dev/disk/by-partuuid/ */
	MIG_REF_LABEL,       /* LABEL=, /dev/disk/by-label/, search --label */
	MIG_REF_PARTLABEL,   /* PARTLABEL=, /dev/disk/by-partlabel/ */
	MIG_REF_MDUUID,      /* an MD array UUID (mdadm.conf, rd.md.uuid=), any punctuation */
	MIG_REF_LUKSUUID,    /* rd.luks.uuid=, cryptomount -u: a LUKS header UUID, dashes optional */
	MIG_REF_DEVNAME,     /* /dev/sda1, /dev/vdb, /dev/nvme0n1p2: enumeration order, fragile */
	MIG_REF_MACHINE,     /* /dev/disk/by-id/, by-path/: tied to the old hardware */
	MIG_REF_ASSEMBLED,   /* /dev/mapper/, /dev/md*, /dev/VG/LV: built at boot, not on disk */
};

struct mig_ref {
	enum mig_ref_kind kind;
	char *value;        /* decoded: the UUID, label or path */
	char *source;       /* as the caller named the file */
	unsigned line;      /* 1-based line in source */
	char *what;         /* where in the line: "fstab /boot", "root=", "search --fs-uuid" ... */
};

struct mig_refs {
	struct mig_ref *v;
	size_t n;
};

/* Frees the entries; refs itself is the caller's. */
void mig_refs_clear(struct mig_refs *refs);

/* "UUID", "PARTUUID", "LABEL", ... */
const char *mig_ref_kind_name(enum mig_ref_kind kind);

/* Classifies one device specification as fstab, crypttab and root= write it:
 * "UUID=...", "PARTUUID=...", "LABEL=...", "PARTLABEL=...", a /dev path, or
 * a /dev/disk/by-* link (whose \xNN escapes are decoded). Returns 0 with
 * *ret_kind and a new string *ret_value (caller frees); -ENOENT if spec names
 * no block device ("tmpfs", "none", "proc", an NFS share, a file);
 * -ENOMEM. */
int mig_ref_parse_spec(const char *spec, enum mig_ref_kind *ret_kind, char **ret_value);

/* /etc/fstab (fields separated by blanks, octal escapes such as \040,
 * comments): the first field of each entry. what = "fstab MOUNTPOINT". */
int mig_refs_from_fstab(struct mig_refs *refs, const char *text, size_t len, const char *source);

/* /etc/crypttab: the second field (the encrypted device). what = "crypttab NAME". */
int mig_refs_from_crypttab(struct mig_refs *refs, const char *text, size_t len, const char *source);

/* A kernel command line: root=, resume=, rd.luks.uuid=, rd.md.uuid=,
 * cryptdevice=. line is recorded as given. */
int mig_refs_from_cmdline(struct mig_refs *refs, const char *cmdline, size_t len,
			  const char *source, unsigned line);

/* grub.cfg, or the config embedded in a core.img: search (--fs-uuid, -u,
 * --label, -l, search.fs_uuid, search.fs_label), cryptomount -u, and the
 * command line of linux/linux16/linuxefi. */
int mig_refs_from_grub_cfg(struct mig_refs *refs, const char *text, size_t len, const char *source);

/* /etc/default/grub: GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT
 * (shell quoting), read as kernel command lines. */
int mig_refs_from_default_grub(struct mig_refs *refs, const char *text, size_t len,
			       const char *source);

/* A BLS entry (a .conf file in /boot/loader/entries): its "options" lines, with
 * $kernelopts / ${kernelopts} replaced by kernelopts (from grubenv; NULL or
 * "" if none). */
int mig_refs_from_bls(struct mig_refs *refs, const char *text, size_t len, const char *source,
		      const char *kernelopts);

/* mdadm.conf: UUID= of ARRAY lines (kind MDUUID) and their devices= lists. */
int mig_refs_from_mdadm_conf(struct mig_refs *refs, const char *text, size_t len,
			     const char *source);

/* initramfs-tools conf.d/resume (RESUME=...), and any KEY=SPEC file of that shape. */
int mig_refs_from_resume_conf(struct mig_refs *refs, const char *text, size_t len,
			      const char *source);

/* A file GRUB loads: a `linux`/`initrd` path of grub.cfg or a BLS entry. */
struct mig_boot_file {
	char *path;        /* as written, without a "($root)" prefix: "/boot/vmlinuz-6.1" */
	char *what;        /* "linux", "initrd" */
	char *search_uuid; /* grub.cfg: the UUID of the last `search --fs-uuid` (or
			      search.fs_uuid) before it, NULL when none; BLS: NULL */
	unsigned line;
};

struct mig_boot_files {
	struct mig_boot_file *v;
	size_t n;
};

#define MIG_BOOT_FILES_MAX 1024

/* The kernel and initrd paths of a grub.cfg (linux, linuxefi, linux16,
 * initrd, initrdefi, initrd16: every path argument of initrd) or, with bls,
 * of a BLS entry (linux, initrd lines). Paths with a GRUB variable or an
 * explicit device other than ($root) are left out: they cannot be resolved
 * offline. Appends to files (free with mig_boot_files_clear). Returns 0,
 * -E2BIG past MIG_BOOT_FILES_MAX, -ENOMEM. Pure. */
int mig_boot_files_parse(struct mig_boot_files *files, const char *text, size_t len, bool bls);
void mig_boot_files_clear(struct mig_boot_files *files);

/* Looks key up in a GRUB environment block (grubenv: "key=value" lines,
 * '#' padding). Returns 0 and a new string in *ret_value, -ENOENT, -ENOMEM. */
int mig_grubenv_get(const char *text, size_t len, const char *key, char **ret_value);

#endif
