/* tls.h — the receiver's TLS identity and its public-key pin.
 *
 * The receiver makes a fresh ECDSA P-256 key and a self-signed certificate
 * at start (or loads the operator's); the sender trusts it by pin alone:
 * "sha256//" + base64(SHA-256(SubjectPublicKeyInfo DER)), the form curl's
 * CURLOPT_PINNEDPUBLICKEY and HPKP use. No CA is involved anywhere.
 */
#ifndef MIGRATOR_TLS_H
#define MIGRATOR_TLS_H

#include <stddef.h>

#define MIG_PIN_MAX 64      /* "sha256//" + 44 base64 characters + NUL */

struct mig_tls_identity {
	char *cert_pem, *key_pem;       /* malloc'd, NUL-terminated */
	char pin[MIG_PIN_MAX];
};

/* A new key and a self-signed certificate for common name cn, valid from a
 * day ago for ten years. 0 or -errno (-EIO: GnuTLS failed). */
int mig_tls_generate(const char *cn, struct mig_tls_identity *ret);
/* Loads PEM files (cert, key); checks that the key belongs to the cert. */
int mig_tls_load(const char *cert_path, const char *key_path, struct mig_tls_identity *ret);
/* The pin of a PEM certificate into pin[MIG_PIN_MAX]. */
int mig_tls_pin(const char *cert_pem, char pin[MIG_PIN_MAX]);
void mig_tls_identity_clear(struct mig_tls_identity *id);

/* Base64 (RFC 4648, padded) of len bytes into out (cap >= 4*ceil(len/3)+1). */
void mig_base64(const void *buf, size_t len, char *out);

/* Random token of nbytes bytes as lowercase hex into out (cap >= 2n+1). */
int mig_random_hex(size_t nbytes, char *out);

/* Constant-time comparison of two strings: the time depends on the length
 * of expected only, never on where they first differ. 1 equal, 0 not. */
int mig_token_equal(const char *given, const char *expected);

#endif
