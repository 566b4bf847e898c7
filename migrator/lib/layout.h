/* layout.h — what a source disk looks like for a file-level copy, and its
 * JSON form.
 *
 * A layout is the partition table (type, PTUUID, sector size, every
 * partition's place, type, PARTUUID, name, attributes) plus, per partition,
 * the filesystem on it with the parameters needed to recreate it (ext2/3/4
 * features, block and inode size, inode count, reserved blocks; XFS
 * features, block and inode size; vfat serial and FAT size; swap UUID and
 * label), the bytes in use, and the copy method the file-level copy uses
 * for it. Probing opens the disk O_RDONLY and never writes.
 *
 * The JSON form is what travels in a file-mode stream's disk header; the
 * reader (mig_layout_from_json) treats it as untrusted: limits on sizes,
 * counts and string lengths, every value checked.
 *
 * Ownership: a struct mig_layout and everything under it is freed by
 * mig_layout_free(); all strings are heap copies (NULL when unknown).
 */
#ifndef MIGRATOR_LAYOUT_H
#define MIGRATOR_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define MIG_LAYOUT_MAX_PARTS   128          /* GPT's usual entry count */
#define MIG_LAYOUT_MAX_STR     256          /* any string field, bytes */
#define MIG_LAYOUT_MAX_JSON    (256 * 1024) /* the JSON text */

/* How a file-level copy carries a partition's content. */
enum mig_copy_method {
	MIG_COPY_NONE = 0,   /* unknown content: refused unless told to skip it */
	MIG_COPY_FILES,      /* ext2/3/4, xfs: recreated, filled from a pax archive */
	MIG_COPY_RAW,        /* BIOS boot partition, ESP/vfat: bytes, same size */
	MIG_COPY_RECREATE,   /* swap: mkswap with the same UUID and label, no data */
	MIG_COPY_CONTAINER,  /* MBR extended partition: holds the logical ones */
};

/* "none", "files", "raw", "recreate", "container"; NULL for a bad value. */
const char *mig_copy_method_name(enum mig_copy_method m);
/* The inverse; -EINVAL for an unknown name. */
int mig_copy_method_parse(const char *name, enum mig_copy_method *ret);

struct mig_layout_fs {
	char *type;             /* blkid TYPE: "ext4", "xfs", "vfat", "swap", ...; NULL none */
	char *uuid;             /* as blkid prints it (vfat: "ABCD-1234") */
	char *label;
	char *version;          /* blkid VERSION ("FAT32", "1.0", ...) */
	uint64_t size;          /* filesystem size, bytes (0 unknown) */
	uint64_t used;          /* bytes in use; == size when not known */
	bool used_known;        /* used came from the filesystem, not the whole size */
	uint32_t block_size;    /* bytes (swap: page size) */
	uint32_t inode_size;    /* ext, xfs */
	uint64_t inode_count;   /* ext: s_inodes_count */
	uint64_t inodes_used;   /* ext: s_inodes_count - s_free_inodes_count */
	uint32_t reserved_permille; /* ext: reserved blocks per thousand blocks */
	/* Comma-separated feature names as the mkfs tool spells them:
	 * ext: mke2fs -O names ("has_journal,ext_attr,...,metadata_csum");
	 * xfs: "crc,finobt,reflink,rmapbt,bigtime,inobtcount,ftype" subset. */
	char *features;
};

struct mig_layout_part {
	uint32_t partno;        /* 1-based */
	uint64_t start;         /* bytes from the disk start */
	uint64_t size;          /* bytes */
	char *type;             /* lowercase GPT type GUID, or MBR "0x83" */
	char *uuid;             /* PARTUUID: GPT entry GUID; MBR "<ptuuid>-NN" */
	char *name;             /* GPT partition name */
	char *attrs;            /* GPT attribute names (libfdisk's spelling) */
	bool bootable;          /* MBR active flag */
	bool logical;           /* MBR logical partition (inside the container) */
	enum mig_copy_method method;
	struct mig_layout_fs fs;
};

struct mig_layout {
	char *source;           /* the disk's path on the source, e.g. /dev/sda */
	uint64_t size;          /* bytes */
	uint32_t sector;        /* logical sector size */
	char *pttype;           /* "gpt" or "dos" */
	char *ptuuid;           /* GPT disk GUID, MBR "1234abcd" */
	uint64_t first_lba, last_lba;  /* GPT usable area (sectors); 0 for dos */
	struct mig_layout_part *parts; /* in table order */
	size_t nparts;
};

/* Probes the disk or image at disk (libfdisk, libblkid, the filesystems'
 * superblocks), read-only. Used bytes: ext2/3/4 from the superblock's free
 * block count; xfs from its superblock's free data blocks; everything else
 * counts whole. Returns 0 and a new layout in *ret, or -errno:
 * -ENOENT/-EIO/... reading, -ENOMEDIUM no partition table (a filesystem on
 * the whole disk is not handled), -EOPNOTSUPP a table other than gpt/dos,
 * -E2BIG more than MIG_LAYOUT_MAX_PARTS partitions. */
int mig_layout_probe(const char *disk, struct mig_layout **ret);

/* Writes the layout as one JSON object (docs/file-copy.md) onto w, as the
 * value of key (NULL at top level or inside an array). Returns 0, or the
 * writer's error (json_finish reports it too). */
int mig_layout_to_json(const struct mig_layout *l, struct json_writer *w, const char *key);

/* Writes the layout as compact JSON into a new NUL-terminated string
 * (*ret, caller frees; *ret_len without the NUL). 0 or -errno. */
int mig_layout_to_json_string(const struct mig_layout *l, char **ret, size_t *ret_len);

/* Parses len bytes of JSON made by mig_layout_to_json. Returns 0 and a new
 * layout in *ret, or -EINVAL (bad syntax, a missing or ill-typed field, a
 * value out of range: partitions overlapping or past the disk end, an
 * unknown method), -E2BIG (past MIG_LAYOUT_MAX_JSON, MIG_LAYOUT_MAX_PARTS,
 * MIG_LAYOUT_MAX_STR, or nesting deeper than 8), -ENOMEM. Unknown keys are
 * ignored (newer writers may add some). */
int mig_layout_from_json(const char *text, size_t len, struct mig_layout **ret);

void mig_layout_free(struct mig_layout *l);

#endif
