/* initrd.h — which storage drivers an initramfs carries.
 *
 * An initrd is one or more cpio (newc) archives back to back: typically an
 * uncompressed early cpio (CPU microcode), then the main archive compressed
 * with gzip, xz, lzma, zstd or lz4. libarchive decompresses (its filters,
 * "raw" format); the cpio headers, compressed or not, are walked here,
 * header by header as the kernel does, so every size stays under the
 * limits below. Modules are recognised by file name (virtio_blk.ko,
 * virtio_blk.ko.xz, ...; '-' and '_' are the same) and by the
 * lib/modules/VERSION/modules.builtin list inside the archive.
 *
 * Read-only; no output; libarchive never runs an external program here (a
 * compression this build cannot decode gives -ENOTSUP).
 */
#ifndef MIGRATOR_INITRD_H
#define MIGRATOR_INITRD_H

#include <stddef.h>
#include <stdint.h>

#define MIG_INITRD_MAX_ENTRIES   (1u << 20)
#define MIG_INITRD_MAX_SEGMENTS  64
#define MIG_INITRD_NAME_MAX      4096
#define MIG_INITRD_BUILTIN_MAX   (1u << 20)   /* modules.builtin read at most */

/* The drivers verify asks about, as bits. */
enum {
	MIG_DRV_VIRTIO_BLK   = 1u << 0,
	MIG_DRV_VIRTIO_SCSI  = 1u << 1,
	MIG_DRV_VIRTIO_PCI   = 1u << 2,
	MIG_DRV_NVME         = 1u << 3,
	MIG_DRV_XEN_BLKFRONT = 1u << 4,
	MIG_DRV_HV_STORVSC   = 1u << 5,
	MIG_DRV_COUNT        = 6,
};

struct mig_initrd_info {
	unsigned modules;        /* MIG_DRV_* found as module files */
	unsigned builtin;        /* MIG_DRV_* listed in modules.builtin */
	size_t segments;         /* cpio archives read */
	size_t entries;          /* files, directories ... in all of them */
	const char *compression; /* of the last archive: "none", "gzip", "xz", "lzma", "zstd", "lz4", "bzip2" */
};

/* Scans the initrd in fd (from offset 0; the fd's position is moved).
 * Returns 0 and fills *ret; -EBADMSG if the data is no cpio archive (or a
 * compressed stream does not decode); -ENOTSUP for a compression this build
 * lacks; -E2BIG past MIG_INITRD_MAX_ENTRIES or _SEGMENTS; -ENOMEM; -EIO. */
int mig_initrd_scan_fd(int fd, struct mig_initrd_info *ret);

/* The same on a memory buffer (for tests and fuzzing). */
int mig_initrd_scan_mem(const void *buf, size_t len, struct mig_initrd_info *ret);

/* The MIG_DRV_* bit a module file name or modules.builtin path stands for
 * ("drivers/block/virtio_blk.ko.zst" -> MIG_DRV_VIRTIO_BLK), or 0. */
unsigned mig_driver_from_path(const char *path);

/* The drivers a kernel config (/boot/config-VERSION) builds in (=y). */
unsigned mig_drivers_builtin_kconfig(const char *text, size_t len);

/* "virtio_blk", "virtio_scsi", ... for one bit; NULL for others. */
const char *mig_driver_name(unsigned bit);

#endif
