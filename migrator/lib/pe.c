/* pe.c — see pe.h. */
#include "pe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nettle/sha1.h>
#include <nettle/sha2.h>

#define DOS_LFANEW          0x3c
#define COFF_SIZE           20
#define OPT_MAGIC_PE32      0x10b
#define OPT_MAGIC_PE32PLUS  0x20b
#define OPT_SIZE_OF_HEADERS 60
#define OPT_CHECKSUM        64
#define OPT_SUBSYSTEM       68
#define SECTION_SIZE        40
#define DIR_SECURITY        4

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

struct raw_range {
	uint32_t off, size;
};

/* What the hash needs, found by parse_headers(). */
struct pe {
	const uint8_t *buf;
	size_t len;
	size_t checksum_off;         /* file offset of CheckSum */
	size_t secdir_off;           /* of the Security directory entry; 0: there is none */
	size_t size_of_headers;
	unsigned nraw;
	struct raw_range raw[MIG_PE_MAX_SECTIONS];  /* non-empty sections by PointerToRawData */
	uint64_t sum_hashed;         /* headers + sections: where trailing data starts */
	size_t hash_end;             /* trailing data is hashed up to here */
};

const char *mig_pe_machine_name(uint16_t machine)
{
	switch (machine) {
	case MIG_PE_MACHINE_X64: return "x86_64";
	case MIG_PE_MACHINE_ARM64: return "aarch64";
	case MIG_PE_MACHINE_I386: return "i386";
	case MIG_PE_MACHINE_ARMNT: return "arm";
	case MIG_PE_MACHINE_RISCV64: return "riscv64";
	default: return NULL;
	}
}

bool mig_pe_is_uefi64(const struct mig_pe_info *pe)
{
	return pe->is_pe32plus &&
	       (pe->machine == MIG_PE_MACHINE_X64 || pe->machine == MIG_PE_MACHINE_ARM64);
}

/* --- the Authenticode hash ------------------------------------------------ */

struct hasher {
	enum mig_digest_alg alg;
	union {
		struct sha1_ctx sha1;
		struct sha256_ctx sha256;
		struct sha512_ctx sha512;   /* and SHA-384 */
	} u;
};

static void h_init(struct hasher *h, enum mig_digest_alg alg)
{
	h->alg = alg;
	switch (alg) {
	case MIG_DIGEST_SHA1: sha1_init(&h->u.sha1); break;
	case MIG_DIGEST_SHA384: sha384_init(&h->u.sha512); break;
	case MIG_DIGEST_SHA512: sha512_init(&h->u.sha512); break;
	default: h->alg = MIG_DIGEST_SHA256; sha256_init(&h->u.sha256); break;
	}
}

static void h_update(struct hasher *h, const uint8_t *p, size_t n)
{
	switch (h->alg) {
	case MIG_DIGEST_SHA1: sha1_update(&h->u.sha1, n, p); break;
	case MIG_DIGEST_SHA384: sha384_update(&h->u.sha512, n, p); break;
	case MIG_DIGEST_SHA512: sha512_update(&h->u.sha512, n, p); break;
	default: sha256_update(&h->u.sha256, n, p); break;
	}
}

static size_t h_digest(struct hasher *h, uint8_t *out)
{
	size_t n = mig_digest_len(h->alg);

	switch (h->alg) {
	case MIG_DIGEST_SHA1: sha1_digest(&h->u.sha1, n, out); break;
	case MIG_DIGEST_SHA384: sha384_digest(&h->u.sha512, n, out); break;
	case MIG_DIGEST_SHA512: sha512_digest(&h->u.sha512, n, out); break;
	default: sha256_digest(&h->u.sha256, n, out); break;
	}
	return n;
}

/* All ranges were bounds-checked by parse_headers(). */
static size_t authenticode_hash(const struct pe *pe, enum mig_digest_alg alg, uint8_t *out)
{
	struct hasher h;
	const uint8_t *b = pe->buf;
	size_t after_sum = pe->checksum_off + 4;

	h_init(&h, alg);
	h_update(&h, b, pe->checksum_off);
	if (pe->secdir_off) {
		h_update(&h, b + after_sum, pe->secdir_off - after_sum);
		h_update(&h, b + pe->secdir_off + 8, pe->size_of_headers - pe->secdir_off - 8);
	} else {
		h_update(&h, b + after_sum, pe->size_of_headers - after_sum);
	}
	for (unsigned i = 0; i < pe->nraw; i++)
		h_update(&h, b + pe->raw[i].off, pe->raw[i].size);
	if (pe->hash_end > pe->sum_hashed)
		h_update(&h, b + pe->sum_hashed, pe->hash_end - (size_t)pe->sum_hashed);
	return h_digest(&h, out);
}

/* --- headers ---------------------------------------------------------------- */

static int parse_headers(const uint8_t *buf, size_t len, struct pe *pe, struct mig_pe_info *info,
                         const char **why)
{
	uint64_t pe_off, opt_off, dd_off, sect_off, sect_end, nrva;
	uint16_t opt_size, magic;

	if (len < 0x40 || buf[0] != 'M' || buf[1] != 'Z') {
		*why = "no MZ header";
		return -EBADMSG;
	}
	pe_off = le32(buf + DOS_LFANEW);
	opt_off = pe_off + 4 + COFF_SIZE;
	if (opt_off + 2 > len || memcmp(buf + pe_off, "PE\0\0", 4) != 0) {
		*why = "no PE signature";
		return -EBADMSG;
	}
	info->machine = le16(buf + pe_off + 4);
	info->n_sections = le16(buf + pe_off + 6);
	opt_size = le16(buf + pe_off + 20);
	magic = le16(buf + opt_off);
	if (magic == OPT_MAGIC_PE32PLUS) {
		info->is_pe32plus = true;
		dd_off = 112;
	} else if (magic == OPT_MAGIC_PE32) {
		dd_off = 96;
	} else {
		*why = "unknown optional header magic";
		return -EBADMSG;
	}
	if (opt_size < dd_off || opt_off + opt_size > len) {
		*why = "optional header truncated";
		return -EBADMSG;
	}
	nrva = le32(buf + opt_off + dd_off - 4);
	if (nrva > (opt_size - dd_off) / 8) {
		*why = "more data directories than the optional header holds";
		return -EBADMSG;
	}
	info->subsystem = le16(buf + opt_off + OPT_SUBSYSTEM);
	info->size_of_headers = le32(buf + opt_off + OPT_SIZE_OF_HEADERS);
	pe->buf = buf;
	pe->len = len;
	pe->size_of_headers = info->size_of_headers;
	pe->checksum_off = (size_t)(opt_off + OPT_CHECKSUM);
	pe->secdir_off = 0;
	if (nrva > DIR_SECURITY) {
		pe->secdir_off = (size_t)(opt_off + dd_off + 8 * DIR_SECURITY);
		info->cert_offset = le32(buf + pe->secdir_off);
		info->cert_size = le32(buf + pe->secdir_off + 4);
	}

	if (info->n_sections > MIG_PE_MAX_SECTIONS) {
		*why = "more than 96 sections";
		return -EBADMSG;
	}
	sect_off = opt_off + opt_size;
	sect_end = sect_off + (uint64_t)info->n_sections * SECTION_SIZE;
	if (info->size_of_headers > len) {
		*why = "SizeOfHeaders beyond the end of the file";
		return -EBADMSG;
	}
	/* the section table must be covered by the header hash, or the
	 * signature would not protect it */
	if (sect_end > info->size_of_headers || pe->checksum_off + 4 > info->size_of_headers ||
	    (pe->secdir_off && pe->secdir_off + 8 > info->size_of_headers)) {
		*why = "headers or section table extend beyond SizeOfHeaders";
		return -EBADMSG;
	}

	pe->nraw = 0;
	pe->sum_hashed = info->size_of_headers;
	for (unsigned i = 0; i < info->n_sections; i++) {
		const uint8_t *s = buf + sect_off + (uint64_t)i * SECTION_SIZE;
		struct raw_range r = { .size = le32(s + 16), .off = le32(s + 20) };
		unsigned k;

		if (r.size == 0)
			continue;
		if ((uint64_t)r.off + r.size > len) {
			*why = "section data beyond the end of the file";
			return -EBADMSG;
		}
		/* insertion sort, stable: equal offsets keep table order (as EDK2) */
		for (k = pe->nraw; k > 0 && pe->raw[k - 1].off > r.off; k--)
			pe->raw[k] = pe->raw[k - 1];
		pe->raw[k] = r;
		pe->nraw++;
		pe->sum_hashed += r.size;
	}
	return 0;
}

/* --- the certificate table ----------------------------------------------- */

/* Where the hash's trailing data ends, and whether the table's place is
 * right: it must start after the hashed data and end the file (shim insists
 * on the same). Returns false with info->sig_error set if not. */
static bool place_cert_table(struct pe *pe, struct mig_pe_info *info)
{
	uint64_t off = info->cert_offset, end = off + info->cert_size;

	pe->hash_end = pe->len;
	if (info->cert_size == 0)
		return true;
	info->has_signature = true;
	if (off >= pe->sum_hashed && off <= pe->len)
		pe->hash_end = (size_t)off;
	if (off < pe->sum_hashed) {
		snprintf(info->sig_error, sizeof(info->sig_error),
		         "the certificate table (offset %u) overlaps the headers or sections",
		         info->cert_offset);
		return false;
	}
	if (end > pe->len) {
		snprintf(info->sig_error, sizeof(info->sig_error),
		         "the certificate table is truncated: it ends at %llu, the file at %zu",
		         (unsigned long long)end, pe->len);
		return false;
	}
	if (end != pe->len) {
		snprintf(info->sig_error, sizeof(info->sig_error),
		         "%llu bytes follow the certificate table", (unsigned long long)(pe->len - end));
		return false;
	}
	return true;
}

struct blob {
	size_t off, len;
};

/* The PKCS#7 entries of the table (at most MIG_PE_MAX_SIGNATURES); false
 * with info->sig_error set if the table's framing is broken. */
static bool list_signatures(const struct pe *pe, struct mig_pe_info *info, struct blob *ret,
                            unsigned *ret_n)
{
	size_t off = info->cert_offset, end = off + info->cert_size;
	unsigned n = 0, other = 0;

	while (end - off >= 8) {
		uint32_t dwlen = le32(pe->buf + off);
		uint16_t rev = le16(pe->buf + off + 4), type = le16(pe->buf + off + 6);

		if (dwlen < 8 || dwlen > end - off) {
			snprintf(info->sig_error, sizeof(info->sig_error),
			         "certificate table entry at %zu has a bad length (%u)", off, dwlen);
			return false;
		}
		if (rev == MIG_WIN_CERT_REVISION_2_0 && type == MIG_WIN_CERT_TYPE_PKCS_SIGNED) {
			if (n < MIG_PE_MAX_SIGNATURES)
				ret[n] = (struct blob){ off + 8, dwlen - 8 };
			n++;
		} else {
			other++;
		}
		/* entries are padded to 8 bytes; the padding may be left off the last */
		size_t step = (dwlen + 7u) & ~(size_t)7;
		if (step > end - off)
			break;
		off += step;
	}
	info->n_signatures = n;
	*ret_n = n < MIG_PE_MAX_SIGNATURES ? n : MIG_PE_MAX_SIGNATURES;
	if (n == 0) {
		snprintf(info->sig_error, sizeof(info->sig_error),
		         other ? "the certificate table holds no PKCS#7 signature (%u other entries)"
		               : "the certificate table holds no entries", other);
		return false;
	}
	return true;
}

/* Checks every signature (each one tells which CA a firmware db needs),
 * then picks the summary. */
static int check_signatures(const struct pe *pe, struct mig_pe_info *info,
                            const struct blob *sigs, unsigned n)
{
	uint8_t digests[MIG_DIGEST_SHA512 + 1][MIG_DIGEST_MAX];
	bool hashed[MIG_DIGEST_SHA512 + 1] = { false };
	int pick = -1;

	for (unsigned i = 0; i < n; i++) {
		struct mig_pe_signature *s = &info->sig[i];
		struct mig_authenticode a;
		const char *why = NULL;
		int r = mig_pkcs7_authenticode(pe->buf + sigs[i].off, sigs[i].len, &a, &why);

		info->n_checked = i + 1;
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			snprintf(s->error, sizeof(s->error), "%s", why);
			continue;
		}
		if (!hashed[a.digest_alg]) {
			authenticode_hash(pe, a.digest_alg, digests[a.digest_alg]);
			hashed[a.digest_alg] = true;
		}
		s->parsed = true;
		s->digest_alg = a.digest_alg;
		s->digest_len = a.digest_len;
		memcpy(s->image_digest, digests[a.digest_alg], a.digest_len);
		memcpy(s->signed_digest, a.digest, a.digest_len);
		s->digest_match = memcmp(s->image_digest, s->signed_digest, a.digest_len) == 0;
		s->sig_valid = a.sig_valid;
		memcpy(s->signer_subject, a.signer_subject, sizeof(s->signer_subject));
		memcpy(s->signer_issuer, a.signer_issuer, sizeof(s->signer_issuer));
		/* a signature that does not verify says nothing about the digest */
		if (!s->sig_valid)
			snprintf(s->error, sizeof(s->error), "%s", a.error);
		else if (!s->digest_match)
			snprintf(s->error, sizeof(s->error),
			         "the image does not match its signature: modified after signing");
	}
	for (unsigned i = 0; i < info->n_checked && pick < 0; i++)
		if (info->sig[i].digest_match && info->sig[i].sig_valid)
			pick = (int)i;
	for (unsigned i = 0; i < info->n_checked && pick < 0; i++)
		if (info->sig[i].parsed)
			pick = (int)i;

	const struct mig_pe_signature *s = &info->sig[pick < 0 ? 0 : pick];
	info->sig_index = pick < 0 ? 0 : (unsigned)pick;
	if (pick < 0) {
		snprintf(info->sig_error, sizeof(info->sig_error), "signature 1: %s", s->error);
		return 0;
	}
	info->digest_alg = s->digest_alg;
	info->digest_len = s->digest_len;
	memcpy(info->image_digest, s->image_digest, sizeof(info->image_digest));
	memcpy(info->signed_digest, s->signed_digest, sizeof(info->signed_digest));
	info->digest_match = s->digest_match;
	info->sig_valid = s->sig_valid;
	memcpy(info->signer_subject, s->signer_subject, sizeof(info->signer_subject));
	memcpy(info->signer_issuer, s->signer_issuer, sizeof(info->signer_issuer));
	memcpy(info->sig_error, s->error, sizeof(info->sig_error));
	return 0;
}

int mig_pe_inspect(const uint8_t *buf, size_t len, struct mig_pe_info *ret, const char **why)
{
	const char *ignored;
	struct mig_pe_info info = { 0 };
	struct blob sigs[MIG_PE_MAX_SIGNATURES];
	struct pe pe;
	unsigned nsigs = 0;
	int r;

	if (!why)
		why = &ignored;
	if (len > MIG_PE_MAX_FILE) {
		*why = "larger than 256 MiB";
		return -EFBIG;
	}
	r = parse_headers(buf, len, &pe, &info, why);
	if (r < 0)
		return r;
	if (place_cert_table(&pe, &info) && info.has_signature &&
	    list_signatures(&pe, &info, sigs, &nsigs)) {
		r = check_signatures(&pe, &info, sigs, nsigs);
		if (r < 0) {
			*why = "out of memory";
			return r;
		}
	}
	if (info.digest_len == 0) {     /* unsigned, or no usable signature */
		info.digest_alg = MIG_DIGEST_SHA256;
		info.digest_len = authenticode_hash(&pe, MIG_DIGEST_SHA256, info.image_digest);
	}
	*ret = info;
	return 0;
}
