/* pe.h — a PE/COFF image (an EFI binary: shim, GRUB, MokManager, a kernel's
 * EFI stub) and its Authenticode signature, for verify's UEFI chain.
 *
 * Sources: Microsoft "PE Format" (the COFF and optional headers, the
 * Attribute Certificate Table) and "Windows Authenticode Portable Executable
 * Signature Format"; the image hash is computed the way EDK2's
 * DxeImageVerificationLib (HashPeImage) and shim compute it, because that is
 * what firmware compares:
 *
 *   1. the headers up to SizeOfHeaders, without the CheckSum field and the
 *      Security (certificate table) data-directory entry;
 *   2. each section's raw data, sections ordered by PointerToRawData (empty
 *      ones skipped);
 *   3. whatever follows the last section, up to the certificate table
 *      (a signed file's 8-byte alignment padding is part of it; an unsigned
 *      file is hashed as it is, not padded).
 *
 * Pure: bytes in, a struct out; no I/O. Everything in the bytes is untrusted:
 * every offset is bounds-checked, there are limits below.
 */
#ifndef MIGRATOR_PE_H
#define MIGRATOR_PE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkcs7.h"

#define MIG_PE_MAX_FILE        (256u << 20)  /* images larger than this are refused */
#define MIG_PE_MAX_SECTIONS    96            /* the PE spec's own limit is 96 too */
#define MIG_PE_MAX_SIGNATURES  8             /* PKCS#7 entries looked at in the cert table */

#define MIG_PE_MACHINE_I386    0x014c
#define MIG_PE_MACHINE_ARMNT   0x01c4
#define MIG_PE_MACHINE_X64     0x8664
#define MIG_PE_MACHINE_ARM64   0xaa64
#define MIG_PE_MACHINE_RISCV64 0x5064

#define MIG_PE_SUBSYSTEM_EFI_APPLICATION     10
#define MIG_PE_SUBSYSTEM_EFI_BOOT_DRIVER     11
#define MIG_PE_SUBSYSTEM_EFI_RUNTIME_DRIVER  12

#define MIG_WIN_CERT_REVISION_2_0        0x0200
#define MIG_WIN_CERT_TYPE_PKCS_SIGNED    0x0002

/* One PKCS#7 entry of the certificate table. */
struct mig_pe_signature {
	bool parsed;                   /* an Authenticode SignedData; if not, error says why */
	enum mig_digest_alg digest_alg;
	size_t digest_len;
	uint8_t image_digest[MIG_DIGEST_MAX];  /* the image's hash with this signature's algorithm */
	uint8_t signed_digest[MIG_DIGEST_MAX]; /* the hash the signature is over */
	bool digest_match;             /* image_digest == signed_digest: unmodified since signing */
	bool sig_valid;                /* the PKCS#7 signature verifies with the embedded signer
	                                  certificate (no chain, no db: see pkcs7.h) */
	char signer_subject[MIG_DN_MAX];
	char signer_issuer[MIG_DN_MAX];
	char error[160];               /* unless parsed && digest_match && sig_valid: why; else "" */
};

struct mig_pe_info {
	/* the image */
	uint16_t machine;              /* MIG_PE_MACHINE_* */
	bool is_pe32plus;              /* optional header magic 0x20b; false: PE32 (0x10b) */
	uint16_t n_sections;
	uint16_t subsystem;            /* MIG_PE_SUBSYSTEM_* for EFI binaries */
	uint32_t size_of_headers;
	uint32_t cert_offset, cert_size; /* the certificate table (a file offset); 0, 0 if none */

	/* Authenticode. has_signature with n_signatures == 0 means the table is
	 * there but broken: sig_error says how. */
	bool has_signature;            /* the certificate table is not empty */
	unsigned n_signatures;         /* WIN_CERTIFICATE entries of revision 2.0, type PKCS_SIGNED_DATA */
	unsigned n_checked;            /* sig[0 .. n_checked-1]: at most MIG_PE_MAX_SIGNATURES */
	struct mig_pe_signature sig[MIG_PE_MAX_SIGNATURES];

	/* The summary: sig[sig_index], the first signature that is good, else the
	 * first that parses, else the first. Without a usable signature, the
	 * image digest is SHA-256, the signed one zeros, both flags false. */
	unsigned sig_index;
	enum mig_digest_alg digest_alg;
	size_t digest_len;
	uint8_t image_digest[MIG_DIGEST_MAX];
	uint8_t signed_digest[MIG_DIGEST_MAX];
	bool digest_match;
	bool sig_valid;
	char signer_subject[MIG_DN_MAX];
	char signer_issuer[MIG_DN_MAX];
	char sig_error[160];           /* has_signature but not (digest_match && sig_valid): why */
};

/* Parses buf as a PE image and checks its Authenticode signature.
 * Returns 0 and fills *ret for any well-formed PE, signed or not, with a good
 * or a bad signature: the flags and ret->sig_error tell. Returns -EBADMSG if
 * buf is not a PE image, is truncated, or its headers or section table point
 * outside it (if why is non-NULL, *why is set to a static phrase saying
 * what); -EFBIG above MIG_PE_MAX_FILE; -ENOMEM. */
int mig_pe_inspect(const uint8_t *buf, size_t len, struct mig_pe_info *ret, const char **why);

/* "x86_64", "aarch64", "i386", "arm", "riscv64"; NULL for other machines. */
const char *mig_pe_machine_name(uint16_t machine);

/* True for what a 64-bit UEFI we migrate to boots: PE32+ for x86-64 or AArch64. */
bool mig_pe_is_uefi64(const struct mig_pe_info *pe);

#endif
