/* pkcs7.c — see pkcs7.h. gnutls parses the SignedData and does the
 * cryptography; the SpcIndirectDataContent is small enough to read with the
 * DER walker below. */
#include "pkcs7.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>

#define SPC_INDIRECT_DATA_OID "1.3.6.1.4.1.311.2.1.4"
#define ATTR_MESSAGE_DIGEST_OID "1.2.840.113549.1.9.4"
#define MAX_CERTS 64            /* embedded certificates we look at for the signer */

/* OID value octets (no tag/length) */
static const uint8_t OID_SPC_PE_IMAGE_DATA[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x0f };
static const struct {
	enum mig_digest_alg alg;
	uint8_t len;
	uint8_t oid[9];
} digest_oids[] = {
	{ MIG_DIGEST_SHA1, 5, { 0x2b, 0x0e, 0x03, 0x02, 0x1a } },
	{ MIG_DIGEST_SHA256, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 } },
	{ MIG_DIGEST_SHA384, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02 } },
	{ MIG_DIGEST_SHA512, 9, { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03 } },
};

const char *mig_digest_name(enum mig_digest_alg alg)
{
	switch (alg) {
	case MIG_DIGEST_SHA1: return "sha1";
	case MIG_DIGEST_SHA256: return "sha256";
	case MIG_DIGEST_SHA384: return "sha384";
	case MIG_DIGEST_SHA512: return "sha512";
	default: return "none";
	}
}

size_t mig_digest_len(enum mig_digest_alg alg)
{
	switch (alg) {
	case MIG_DIGEST_SHA1: return 20;
	case MIG_DIGEST_SHA256: return 32;
	case MIG_DIGEST_SHA384: return 48;
	case MIG_DIGEST_SHA512: return 64;
	default: return 0;
	}
}

/* --- DER, just enough: low tag numbers, definite lengths ------------------- */

struct der {
	const uint8_t *p;
	size_t n;
};

/* Takes the next element off *in if its tag is `tag`; its value in *ret_val. */
static int der_take(struct der *in, uint8_t tag, struct der *ret_val)
{
	size_t len, hdr = 2;

	if (in->n < 2 || in->p[0] != tag)
		return -EBADMSG;
	len = in->p[1];
	if (len & 0x80) {
		size_t k = len & 0x7f;

		if (k == 0 || k > 4 || in->n < 2 + k)   /* indefinite (BER) or absurd */
			return -EBADMSG;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | in->p[2 + i];
		hdr += k;
	}
	if (len > in->n - hdr)
		return -EBADMSG;
	*ret_val = (struct der){ in->p + hdr, len };
	in->p += hdr + len;
	in->n -= hdr + len;
	return 0;
}

static bool der_is(const struct der *d, const uint8_t *v, size_t n)
{
	return d->n == n && memcmp(d->p, v, n) == 0;
}

/* content: the value octets of SpcIndirectDataContent. */
static int parse_indirect_data(const uint8_t *content, size_t len, struct mig_authenticode *a,
                               const char **why)
{
	struct der c = { content, len }, data, type, di, algid, oid, digest;

	*why = "SpcIndirectDataContent is malformed";
	if (der_take(&c, 0x30, &data) < 0 || der_take(&data, 0x06, &type) < 0)
		return -EBADMSG;
	if (!der_is(&type, OID_SPC_PE_IMAGE_DATA, sizeof(OID_SPC_PE_IMAGE_DATA))) {
		*why = "the signature is not for a PE image";
		return -EBADMSG;
	}
	if (der_take(&c, 0x30, &di) < 0 || der_take(&di, 0x30, &algid) < 0 ||
	    der_take(&algid, 0x06, &oid) < 0 || der_take(&di, 0x04, &digest) < 0)
		return -EBADMSG;
	a->digest_alg = MIG_DIGEST_NONE;
	for (size_t i = 0; i < sizeof(digest_oids) / sizeof(digest_oids[0]); i++)
		if (der_is(&oid, digest_oids[i].oid, digest_oids[i].len))
			a->digest_alg = digest_oids[i].alg;
	if (a->digest_alg == MIG_DIGEST_NONE) {
		*why = "unknown image digest algorithm";
		return -EBADMSG;
	}
	if (digest.n != mig_digest_len(a->digest_alg)) {
		*why = "image digest has the wrong length for its algorithm";
		return -EBADMSG;
	}
	a->digest_len = digest.n;
	memcpy(a->digest, digest.p, digest.n);
	return 0;
}

/* --- gnutls -------------------------------------------------------------- */

static pthread_once_t gnutls_once = PTHREAD_ONCE_INIT;
static int gnutls_init_result;

static void gnutls_init_once(void)
{
	gnutls_init_result = gnutls_global_init();
}

/* A DN for people: control characters (untrusted input) become '?'. */
static void copy_dn(char *dst, size_t size, const gnutls_datum_t *dn)
{
	size_t n = dn->size < size - 1 ? dn->size : size - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = dn->data[i];
		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[n] = '\0';
}

static bool datum_eq(const gnutls_datum_t *a, const void *b, size_t n)
{
	return a->size == n && (n == 0 || memcmp(a->data, b, n) == 0);
}

/* The embedded certificate that info names (issuer+serial, or key id); NULL
 * if none. */
static gnutls_x509_crt_t find_signer(gnutls_pkcs7_t p7, const gnutls_pkcs7_signature_info_st *info,
                                     unsigned *ret_ncerts)
{
	int count = gnutls_pkcs7_get_crt_count(p7);

	*ret_ncerts = count > 0 ? (unsigned)count : 0;
	for (int i = 0; i < count && i < MAX_CERTS; i++) {
		gnutls_datum_t raw = { NULL, 0 }, dn = { NULL, 0 };
		gnutls_x509_crt_t crt = NULL;
		uint8_t id[128];
		size_t idlen = sizeof(id);
		bool match = false;

		if (gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &raw) < 0)
			continue;
		if (gnutls_x509_crt_init(&crt) == 0 &&
		    gnutls_x509_crt_import(crt, &raw, GNUTLS_X509_FMT_DER) == 0) {
			if (info->issuer_dn.size > 0) {
				match = gnutls_x509_crt_get_raw_issuer_dn(crt, &dn) == 0 &&
					datum_eq(&info->issuer_dn, dn.data, dn.size) &&
					gnutls_x509_crt_get_serial(crt, id, &idlen) == 0 &&
					datum_eq(&info->signer_serial, id, idlen);
			} else if (info->issuer_keyid.size > 0) {
				match = gnutls_x509_crt_get_subject_key_id(crt, id, &idlen, NULL) == 0 &&
					datum_eq(&info->issuer_keyid, id, idlen);
			}
		}
		gnutls_free(raw.data);
		gnutls_free(dn.data);
		if (match)
			return crt;
		gnutls_x509_crt_deinit(crt);
	}
	return NULL;
}

/* Is the messageDigest attribute the hash of content? Tells a tampered
 * SpcIndirectDataContent apart from a bad signature. */
static bool message_digest_matches(const gnutls_pkcs7_signature_info_st *info,
                                   const gnutls_datum_t *content)
{
	gnutls_digest_algorithm_t h = gnutls_sign_get_hash_algorithm(info->algo);
	uint8_t out[MIG_DIGEST_MAX];
	gnutls_datum_t md;

	if (h == GNUTLS_DIG_UNKNOWN || gnutls_hash_get_len(h) > sizeof(out) ||
	    gnutls_hash_fast(h, content->data, content->size, out) < 0)
		return false;
	for (unsigned i = 0;; i++) {
		char *oid = NULL;
		bool ok;

		md = (gnutls_datum_t){ NULL, 0 };
		if (gnutls_pkcs7_get_attr(info->signed_attrs, i, &oid, &md, 0) < 0)
			return false;   /* no (more) authenticated attributes */
		gnutls_free(md.data);
		if (strcmp(oid, ATTR_MESSAGE_DIGEST_OID) != 0)
			continue;
		md = (gnutls_datum_t){ NULL, 0 };
		if (gnutls_pkcs7_get_attr(info->signed_attrs, i, &oid, &md,
		                          GNUTLS_PKCS7_ATTR_ENCODE_OCTET_STRING) < 0)
			return false;
		ok = md.size == gnutls_hash_get_len(h) && memcmp(md.data, out, md.size) == 0;
		gnutls_free(md.data);
		return ok;
	}
}

/* gnutls 3.7's gnutls_x509_crt_verify_data3() leaks its pubkey when the
 * certificate's key does not import; find that out first. */
static bool pubkey_usable(gnutls_x509_crt_t crt)
{
	gnutls_pubkey_t key;
	int r;

	if (gnutls_pubkey_init(&key) < 0)
		return false;
	r = gnutls_pubkey_import_x509(key, crt, 0);
	gnutls_pubkey_deinit(key);
	return r == 0;
}

static void verify_signature(gnutls_pkcs7_t p7, const gnutls_datum_t *content,
                             struct mig_authenticode *a)
{
	gnutls_pkcs7_signature_info_st info;
	gnutls_x509_crt_t signer;
	gnutls_datum_t dn = { NULL, 0 };
	/* UEFI ignores certificate validity periods; SHA-1 is what old signatures use */
	unsigned flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS |
	                 GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1;
	int nsig = gnutls_pkcs7_get_signature_count(p7), r;

	if (nsig != 1) {
		snprintf(a->error, sizeof(a->error), "%d SignerInfos, Authenticode has exactly one", nsig < 0 ? 0 : nsig);
		return;
	}
	r = gnutls_pkcs7_get_signature_info(p7, 0, &info);
	if (r < 0) {
		snprintf(a->error, sizeof(a->error), "unreadable SignerInfo: %s", gnutls_strerror(r));
		return;
	}
	signer = find_signer(p7, &info, &a->n_certs);
	if (!signer) {
		snprintf(a->error, sizeof(a->error), "the signer's certificate is not embedded");
		gnutls_pkcs7_signature_info_deinit(&info);
		return;
	}
	if (gnutls_x509_crt_get_dn3(signer, &dn, 0) == 0)
		copy_dn(a->signer_subject, sizeof(a->signer_subject), &dn);
	gnutls_free(dn.data);
	dn = (gnutls_datum_t){ NULL, 0 };
	if (gnutls_x509_crt_get_issuer_dn3(signer, &dn, 0) == 0)
		copy_dn(a->signer_issuer, sizeof(a->signer_issuer), &dn);
	gnutls_free(dn.data);

	if (!pubkey_usable(signer)) {
		snprintf(a->error, sizeof(a->error), "the signer's public key is unusable");
		goto out;
	}
	r = gnutls_pkcs7_verify_direct(p7, signer, 0, content, flags);
	if (r == 0)
		a->sig_valid = true;
	else if (!message_digest_matches(&info, content))
		snprintf(a->error, sizeof(a->error),
		         "the messageDigest attribute does not match the signed content");
	else if (r > 0)         /* a gnutls_certificate_status_t: the signer's key usage */
		snprintf(a->error, sizeof(a->error),
		         "the signer's certificate is not for digital signatures");
	else
		snprintf(a->error, sizeof(a->error), "the signature does not verify with the "
		         "signer's key: %s", gnutls_strerror(r));
out:
	gnutls_x509_crt_deinit(signer);
	gnutls_pkcs7_signature_info_deinit(&info);
}

int mig_pkcs7_authenticode(const uint8_t *der, size_t len, struct mig_authenticode *ret,
                           const char **why)
{
	struct mig_authenticode a = { 0 };
	gnutls_pkcs7_t p7 = NULL;
	gnutls_datum_t content = { NULL, 0 };
	const char *oid, *w = NULL;
	int r;

	if (len > MIG_PKCS7_MAX_SIZE) {
		w = "signature larger than 1 MiB";
		r = -E2BIG;
		goto out;
	}
	if (pthread_once(&gnutls_once, gnutls_init_once) != 0 || gnutls_init_result < 0) {
		w = "cannot initialise gnutls";
		r = -ENOMEM;
		goto out;
	}
	/* Microsoft's signatures carry zero padding inside WIN_CERTIFICATE's
	 * dwLength, after the DER; libtasn1 wants the exact length */
	struct der all = { der, len }, seq;
	if (der_take(&all, 0x30, &seq) < 0) {
		w = "not a PKCS#7 SignedData";
		r = -EBADMSG;
		goto out;
	}
	len = (size_t)(seq.p + seq.n - der);
	if (gnutls_pkcs7_init(&p7) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = gnutls_pkcs7_import(p7, &(gnutls_datum_t){ (unsigned char *)der, (unsigned)len },
	                        GNUTLS_X509_FMT_DER);
	if (r < 0) {
		w = "not a PKCS#7 SignedData";
		r = r == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EBADMSG;
		goto out;
	}
	oid = gnutls_pkcs7_get_embedded_data_oid(p7);
	if (!oid || strcmp(oid, SPC_INDIRECT_DATA_OID) != 0) {
		w = "the SignedData does not hold an SpcIndirectDataContent";
		r = -EBADMSG;
		goto out;
	}
	/* gnutls strips the content's tag and length: exactly the octets that
	 * the messageDigest attribute is the hash of */
	r = gnutls_pkcs7_get_embedded_data(p7, 0, &content);
	if (r < 0) {
		w = "the SignedData has no content";
		r = r == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EBADMSG;
		goto out;
	}
	r = parse_indirect_data(content.data, content.size, &a, &w);
	if (r < 0)
		goto out;
	verify_signature(p7, &content, &a);
	*ret = a;
	r = 0;
out:
	if (r < 0 && why)
		*why = w ? w : "out of memory";
	gnutls_free(content.data);
	if (p7)
		gnutls_pkcs7_deinit(p7);
	return r;
}
