/* tls.c — see tls.h. */
#include "tls.h"
#include "fileio.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <nettle/sha2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void mig_base64(const void *buf, size_t len, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *p = buf;
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < len ? p[i + 2] : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

int mig_random_hex(size_t nbytes, char *out)
{
	uint8_t b[64];

	if (nbytes > sizeof(b))
		return -EINVAL;
	if (getrandom(b, nbytes, 0) != (ssize_t)nbytes)
		return -EIO;
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = "0123456789abcdef"[b[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}

int mig_token_equal(const char *given, const char *expected)
{
	size_t n = strlen(expected), g = strlen(given);
	volatile unsigned char diff = (unsigned char)(g != n);

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(expected[i] ^ (i < g ? given[i] : 0));
	return diff == 0 && n > 0;
}

static int pin_of_pubkey(gnutls_pubkey_t pub, char pin[MIG_PIN_MAX])
{
	gnutls_datum_t der = { 0 };
	uint8_t sha[32];

	if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0)
		return -EIO;
	struct sha256_ctx c;
	sha256_init(&c);
	sha256_update(&c, der.size, der.data);
	sha256_digest(&c, sizeof(sha), sha);
	gnutls_free(der.data);
	memcpy(pin, "sha256//", 8);
	mig_base64(sha, sizeof(sha), pin + 8);
	return 0;
}

int mig_tls_pin(const char *cert_pem, char pin[MIG_PIN_MAX])
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d = { (unsigned char *)cert_pem, (unsigned)strlen(cert_pem) };
	int r = -EIO;

	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_pubkey_init(&pub) < 0)
		goto out;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0) {
		r = -EBADMSG;
		goto out;
	}
	if (gnutls_pubkey_import_x509(pub, crt, 0) < 0)
		goto out;
	r = pin_of_pubkey(pub, pin);
out:
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return r;
}

static char *datum_str(gnutls_datum_t *d)
{
	char *s = malloc(d->size + 1);

	if (s) {
		memcpy(s, d->data, d->size);
		s[d->size] = '\0';
	}
	gnutls_free(d->data);
	return s;
}

int mig_tls_generate(const char *cn, struct mig_tls_identity *ret)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t kd = { 0 }, cd = { 0 };
	struct mig_tls_identity id = { 0 };
	uint8_t serial[16];
	time_t now = time(NULL);
	int r = -EIO;

	if (getrandom(serial, sizeof(serial), 0) != (ssize_t)sizeof(serial))
		return -EIO;
	serial[0] &= 0x7f;      /* a positive INTEGER */
	if (gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_crt_init(&crt) < 0)
		goto out;
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
		goto out;
	if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 86400) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + 10 * 365 * 86400L) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn)) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
		goto out;
	if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kd) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cd) < 0)
		goto out;
	id.key_pem = datum_str(&kd);
	id.cert_pem = datum_str(&cd);
	if (!id.key_pem || !id.cert_pem) {
		r = -ENOMEM;
		goto out;
	}
	r = mig_tls_pin(id.cert_pem, id.pin);
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (r < 0)
		mig_tls_identity_clear(&id);
	else
		*ret = id;
	return r;
}

int mig_tls_load(const char *cert_path, const char *key_path, struct mig_tls_identity *ret)
{
	struct mig_tls_identity id = { 0 };
	gnutls_certificate_credentials_t cred = NULL;
	int r;

	r = mig_read_file(cert_path, 1 << 20, &id.cert_pem, NULL);
	if (r < 0)
		return r;
	r = mig_read_file(key_path, 1 << 20, &id.key_pem, NULL);
	if (r < 0)
		goto out;
	r = mig_tls_pin(id.cert_pem, id.pin);
	if (r < 0)
		goto out;
	/* GnuTLS checks that the key matches the certificate. */
	gnutls_datum_t c = { (unsigned char *)id.cert_pem, (unsigned)strlen(id.cert_pem) };
	gnutls_datum_t k = { (unsigned char *)id.key_pem, (unsigned)strlen(id.key_pem) };
	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM) < 0)
		r = -EBADMSG;
out:
	if (cred)
		gnutls_certificate_free_credentials(cred);
	if (r < 0)
		mig_tls_identity_clear(&id);
	else
		*ret = id;
	return r;
}

void mig_tls_identity_clear(struct mig_tls_identity *id)
{
	if (id->key_pem)
		explicit_bzero(id->key_pem, strlen(id->key_pem));
	free(id->key_pem);
	free(id->cert_pem);
	memset(id, 0, sizeof(*id));
}
