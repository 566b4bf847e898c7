/* pkcs7.h — an Authenticode signature: the PKCS#7 SignedData in a PE image's
 * certificate table (Microsoft "Windows Authenticode Portable Executable
 * Signature Format", and the UEFI spec's "Code definitions" for
 * WIN_CERTIFICATE_EFI_PKCS).
 *
 * What is signed is not the image but an SpcIndirectDataContent:
 *
 *   SpcIndirectDataContent ::= SEQUENCE {
 *       data           SEQUENCE { type OID 1.3.6.1.4.1.311.2.1.15 (PE image), value ANY },
 *       messageDigest  DigestInfo  -- the Authenticode hash of the image (pe.h)
 *   }
 *
 * The SignerInfo's messageDigest attribute is the hash of that content's
 * value octets, and the signature covers the DER of the authenticated
 * attributes. This file parses the blob, extracts the DigestInfo, finds the
 * signer's certificate among the embedded ones and checks the signature
 * cryptographically against it (gnutls). It does NOT build or check a chain:
 * we have no firmware db, and the time of signing does not matter to UEFI.
 *
 * Pure: bytes in, a struct out; no I/O, no printing.
 */
#ifndef MIGRATOR_PKCS7_H
#define MIGRATOR_PKCS7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_PKCS7_MAX_SIZE   (1u << 20)  /* real ones are 2..20 KiB */
#define MIG_DIGEST_MAX       64
#define MIG_DN_MAX           256

enum mig_digest_alg {
	MIG_DIGEST_NONE = 0,
	MIG_DIGEST_SHA1,
	MIG_DIGEST_SHA256,
	MIG_DIGEST_SHA384,
	MIG_DIGEST_SHA512,
};

struct mig_authenticode {
	enum mig_digest_alg digest_alg;    /* of the DigestInfo: the image hash algorithm */
	size_t digest_len;
	uint8_t digest[MIG_DIGEST_MAX];    /* the image hash the signer signed */
	bool sig_valid;                    /* messageDigest attribute matches the content and
	                                      the SignerInfo's signature verifies with the
	                                      embedded signer certificate's public key */
	unsigned n_certs;                  /* certificates embedded in the SignedData */
	char signer_subject[MIG_DN_MAX];   /* RFC 4514, e.g. "CN=Debian Secure Boot Signer 2022 - grub2";
	                                      "" if the signer certificate is not embedded */
	char signer_issuer[MIG_DN_MAX];    /* e.g. "CN=Debian Secure Boot CA" */
	char error[128];                   /* why not sig_valid; "" when valid */
};

/* Parses der (the bCertificate of a WIN_CERT_TYPE_PKCS_SIGNED_DATA entry) as
 * an Authenticode signature of a PE image and verifies its signature. Bytes
 * after the DER SEQUENCE (padding, as Microsoft's signatures have) are ignored.
 * Returns 0 and fills *ret when the DigestInfo could be extracted, whether or
 * not the signature verifies (ret->sig_valid, ret->error). Returns -EBADMSG
 * if der is not a SignedData of an SpcIndirectDataContent for a PE image
 * with a digest algorithm we know (if why is non-NULL, *why is then set to a
 * static phrase saying what is wrong), -E2BIG above MIG_PKCS7_MAX_SIZE,
 * -ENOMEM. Thread-safe; initialises gnutls once. */
int mig_pkcs7_authenticode(const uint8_t *der, size_t len, struct mig_authenticode *ret,
                           const char **why);

/* "sha256" etc., "none" for MIG_DIGEST_NONE. */
const char *mig_digest_name(enum mig_digest_alg alg);

/* Digest length in bytes; 0 for MIG_DIGEST_NONE. */
size_t mig_digest_len(enum mig_digest_alg alg);

#endif
