/* rewrite.h — pure text rewriters for the files `migrator patch` changes.
 *
 * Each rewriter takes a file's text and returns a new text, changing only
 * the bytes it must: everything else (comments, blank lines, spacing, line
 * endings, a missing final newline) is copied as it was. No I/O; device
 * names are resolved by a caller-supplied mig_devmap_fn (patch.c resolves
 * them against the disk inventory; the unit tests use a table).
 *
 * Limits (the texts come from a foreign disk): texts above
 * MIG_REWRITE_TEXT_MAX give -EFBIG; lines longer than MIG_REWRITE_LINE_MAX
 * are copied unchanged; a replacement longer than MIG_REWRITE_SPEC_MAX
 * gives -E2BIG. NUL bytes are copied like any other byte.
 *
 * Every rewriter returns 0 and fills *ret (ret->text is NUL-terminated and
 * the caller's to free; ret->changes counts changed or removed lines; with
 * no change ret->text is an identical copy), or -errno (-ENOMEM, -EFBIG,
 * -E2BIG, or an error the map function returned). *ret is written only on
 * success.
 */
#ifndef MIGRATOR_REWRITE_H
#define MIGRATOR_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#define MIG_REWRITE_TEXT_MAX (4u << 20)
#define MIG_REWRITE_LINE_MAX 8192
#define MIG_REWRITE_SPEC_MAX 256

struct mig_rewrite {
	char *text;
	size_t len;
	unsigned changes;
};

/* Maps a device specification ("/dev/sda1", "/dev/disk/by-id/...-part2")
 * to its replacement ("UUID=...", "PARTUUID=..."). Returns 1 and a new
 * string in *ret_new (the rewriter frees it) to replace spec, 0 to leave
 * it, or -errno to abort the rewrite. */
typedef int (*mig_devmap_fn)(const char *spec, char **ret_new, void *data);

void mig_rewrite_free(struct mig_rewrite *rw);

/* /etc/fstab: the first field of each entry. Fields holding octal escapes
 * (\040) are left alone. */
int mig_rewrite_fstab(const char *text, size_t len, mig_devmap_fn map, void *data,
		      struct mig_rewrite *ret);

/* /etc/crypttab: the second field (the encrypted device). */
int mig_rewrite_crypttab(const char *text, size_t len, mig_devmap_fn map, void *data,
			 struct mig_rewrite *ret);

/* A kernel command line span: the values of root= and resume= (the only
 * parameters that name a block device by kernel name). */
int mig_rewrite_cmdline(const char *text, size_t len, mig_devmap_fn map, void *data,
			struct mig_rewrite *ret);

/* /etc/default/grub: root= and resume= inside GRUB_CMDLINE_LINUX and
 * GRUB_CMDLINE_LINUX_DEFAULT (quoted or not). */
int mig_rewrite_default_grub(const char *text, size_t len, mig_devmap_fn map, void *data,
			     struct mig_rewrite *ret);

/* grub.cfg: root= and resume= on linux, linux16 and linuxefi lines. */
int mig_rewrite_grub_cfg(const char *text, size_t len, mig_devmap_fn map, void *data,
			 struct mig_rewrite *ret);

/* A BLS entry (/boot/loader/entries/ *.conf): root= and resume= on its
 * "options" lines. */
int mig_rewrite_bls(const char *text, size_t len, mig_devmap_fn map, void *data,
		    struct mig_rewrite *ret);

/* initramfs-tools conf.d/resume: the value of RESUME=. */
int mig_rewrite_resume_conf(const char *text, size_t len, mig_devmap_fn map, void *data,
			    struct mig_rewrite *ret);

/* apt sources.list: "deb cdrom:[...]/ ..." entries commented out ("# "
 * prefixed): the installation medium is not on the target. */
int mig_rewrite_sources_list(const char *text, size_t len, struct mig_rewrite *ret);

/* A yum/dnf .repo file: sections whose baseurl is file:// or a media
 * path (/media, /mnt, cdrom) get enabled=0 (an existing enabled= line is
 * changed, else one is added after the baseurl line). */
int mig_rewrite_yum_repo(const char *text, size_t len, struct mig_rewrite *ret);

/* An ifcfg file (RHEL/SUSE network-scripts): HWADDR=, MACADDR= and LLADDR= lines
 * commented out. dhcp: BOOTPROTO set to dhcp, and IPADDR*, PREFIX*,
 * NETMASK*, GATEWAY lines commented out. */
int mig_rewrite_ifcfg(const char *text, size_t len, bool dhcp, struct mig_rewrite *ret);

/* A systemd .link or .network file: MACAddress= and PermanentMACAddress=
 * lines of its [Match] section commented out. A [Match] section left
 * empty would match every interface, which is what a migrated single-NIC
 * system wants. */
int mig_rewrite_networkd_match(const char *text, size_t len, struct mig_rewrite *ret);

/* A NetworkManager keyfile (.nmconnection): mac-address= in [ethernet]
 * removed (commented out); dhcp: [ipv4] method=auto and its address*=,
 * gateway= lines commented out. */
int mig_rewrite_nm_keyfile(const char *text, size_t len, bool dhcp, struct mig_rewrite *ret);

/* A netplan YAML file: "macaddress:" keys under a "match:" commented out;
 * when that was the match's only key, the "match:" line and a sibling
 * "set-name:" (which netplan only accepts with a match) are commented out
 * too, so the YAML stays valid and the stanza applies by its own name. */
int mig_rewrite_netplan(const char *text, size_t len, struct mig_rewrite *ret);

/* /etc/network/interfaces with --network=dhcp: every "iface X inet static"
 * becomes "iface X inet dhcp" and that stanza's address, netmask, gateway,
 * broadcast and network lines are commented out. Interface names are kept
 * (patch removes the MAC-pinned naming rules that would rename them). */
int mig_rewrite_interfaces_dhcp(const char *text, size_t len, struct mig_rewrite *ret);

/* initramfs-tools' /etc/initramfs-tools/modules (one module per line,
 * with optional arguments): appends each of mods (n names) that no
 * uncommented line names yet. ret->changes counts the lines added. */
int mig_rewrite_add_modules(const char *text, size_t len, const char *const *mods, size_t n,
			    struct mig_rewrite *ret);

#endif
