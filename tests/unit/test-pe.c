/* Unit tests of the PE/Authenticode parser (pe.h, pkcs7.h) on hand-built
 * images: bounds checks, the hash's ranges, the certificate table's framing.
 *
 * With arguments it is the driver of tests/cli/pe-*.sh instead: for each FILE
 * it prints what mig_pe_inspect() says, one "key: value" per line, so that
 * the real-binary tests (shim, GRUB, sbsign) need no CLI of their own:
 *   test-pe FILE...
 */
#include "tap.h"
#include "pe.h"
#include "pkcs7.h"

#include <errno.h>
#include <stdlib.h>
#include <nettle/sha2.h>

/* --- a minimal PE32+ image ------------------------------------------------ */

#define PE_OFF    0x40
#define OPT_OFF   (PE_OFF + 24)
#define OPT_SIZE  240                 /* PE32+: 112 + 16 data directories */
#define SECT_OFF  (OPT_OFF + OPT_SIZE)
#define HDRS      0x200
#define SECDIR    (OPT_OFF + 112 + 4 * 8)
#define CHECKSUM  (OPT_OFF + 64)
#define IMG_LEN   0x600

static uint8_t img[0x1000];

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

static void put_section(unsigned i, const char *name, uint32_t raw_off, uint32_t raw_size)
{
	uint8_t *s = img + SECT_OFF + 40 * i;

	memcpy(s, name, strlen(name));
	put32(s + 8, raw_size);           /* VirtualSize */
	put32(s + 12, 0x1000 * (i + 1));  /* VirtualAddress */
	put32(s + 16, raw_size);
	put32(s + 20, raw_off);
}

/* Two sections, .text at 0x200 and .data at 0x400, 0x200 bytes each. */
static void build_pe(void)
{
	memset(img, 0, sizeof(img));
	img[0] = 'M'; img[1] = 'Z';
	put32(img + 0x3c, PE_OFF);
	memcpy(img + PE_OFF, "PE\0\0", 4);
	put16(img + PE_OFF + 4, MIG_PE_MACHINE_X64);
	put16(img + PE_OFF + 6, 2);
	put16(img + PE_OFF + 20, OPT_SIZE);
	put16(img + OPT_OFF, 0x20b);
	put32(img + OPT_OFF + 60, HDRS);
	put32(img + CHECKSUM, 0x12345678);
	put16(img + OPT_OFF + 68, MIG_PE_SUBSYSTEM_EFI_APPLICATION);
	put32(img + OPT_OFF + 108, 16);
	put_section(0, ".text", 0x200, 0x200);
	put_section(1, ".data", 0x400, 0x200);
	for (size_t i = HDRS; i < IMG_LEN; i++)
		img[i] = (uint8_t)(i * 7 + 3);
}

/* The Authenticode hash the simple way, for contiguous sections: every byte
 * up to `end` except CheckSum and the Security directory entry. */
static void linear_hash(size_t end, uint8_t out[32])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, CHECKSUM, img);
	sha256_update(&c, SECDIR - CHECKSUM - 4, img + CHECKSUM + 4);
	sha256_update(&c, end - SECDIR - 8, img + SECDIR + 8);
	sha256_digest(&c, 32, out);
}

/* Appends a certificate table at `off` with one entry; returns the file length. */
static size_t add_cert(size_t off, uint16_t rev, uint16_t type, const uint8_t *der, size_t n)
{
	size_t len = (8 + n + 7) & ~(size_t)7;

	put32(img + off, (uint32_t)(8 + n));
	put16(img + off + 4, rev);
	put16(img + off + 6, type);
	memcpy(img + off + 8, der, n);
	memset(img + off + 8 + n, 0, len - 8 - n);
	put32(img + SECDIR, (uint32_t)off);
	put32(img + SECDIR + 4, (uint32_t)len);
	return off + len;
}

TEST(unsigned_pe32plus)
{
	struct mig_pe_info pe;
	uint8_t want[32];

	build_pe();
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, NULL), 0);
	CHECK_INT(pe.machine, MIG_PE_MACHINE_X64);
	CHECK(pe.is_pe32plus);
	CHECK(mig_pe_is_uefi64(&pe));
	CHECK_STR(mig_pe_machine_name(pe.machine), "x86_64");
	CHECK_INT(pe.n_sections, 2);
	CHECK_INT(pe.subsystem, MIG_PE_SUBSYSTEM_EFI_APPLICATION);
	CHECK_INT(pe.size_of_headers, HDRS);
	CHECK(!pe.has_signature);
	CHECK_INT(pe.n_signatures, 0);
	CHECK_STR(pe.sig_error, "");
	CHECK_INT(pe.digest_alg, MIG_DIGEST_SHA256);
	CHECK_INT(pe.digest_len, 32);
	linear_hash(IMG_LEN, want);
	CHECK(memcmp(pe.image_digest, want, 32) == 0);
}

/* The fields the signature cannot cover are not hashed; everything else is. */
TEST(hash_skips_checksum_and_security_entry_only)
{
	struct mig_pe_info a, b;

	build_pe();
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &a, NULL), 0);
	put32(img + CHECKSUM, 0xdeadbeef);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &b, NULL), 0);
	CHECK(memcmp(a.image_digest, b.image_digest, 32) == 0);
	for (size_t i = 0; i < IMG_LEN; i += 13) {
		if ((i >= CHECKSUM && i < CHECKSUM + 4) || (i >= SECDIR && i < SECDIR + 8))
			continue;
		build_pe();
		img[i] ^= 1;
		if (mig_pe_inspect(img, IMG_LEN, &b, NULL) == 0 &&
		    memcmp(a.image_digest, b.image_digest, 32) == 0) {
			printf("# byte %zu is not hashed\n", i);
			CHECK(!"a changed byte left the hash alone");
		}
	}
}

/* Sections are hashed in file order whatever the table's order is. */
TEST(sections_hashed_in_file_order)
{
	struct mig_pe_info a, b;

	build_pe();
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &a, NULL), 0);
	put_section(0, ".data", 0x400, 0x200);
	put_section(1, ".text", 0x200, 0x200);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &b, NULL), 0);
	uint8_t want[32];
	linear_hash(IMG_LEN, want);
	CHECK(memcmp(b.image_digest, want, 32) == 0);
}

/* Data after the last section (shim has some) is hashed up to the end. */
TEST(trailing_data_hashed)
{
	struct mig_pe_info pe;
	uint8_t want[32];

	build_pe();
	memset(img + IMG_LEN, 0x5a, 3);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN + 3, &pe, NULL), 0);
	linear_hash(IMG_LEN + 3, want);
	CHECK(memcmp(pe.image_digest, want, 32) == 0);
}

TEST(every_truncation_is_refused)
{
	struct mig_pe_info pe;

	build_pe();
	for (size_t n = 0; n < IMG_LEN; n++) {
		uint8_t *copy = malloc(n ? n : 1);   /* exact size: ASan sees any over-read */
		memcpy(copy, img, n);
		int r = mig_pe_inspect(copy, n, &pe, NULL);
		if (r != -EBADMSG) {
			printf("# length %zu: %d\n", n, r);
			CHECK(!"truncated image accepted");
		}
		free(copy);
	}
}

TEST(malformed_headers)
{
	struct mig_pe_info pe;
	const char *why = NULL;

	build_pe();
	img[1] = 'X';
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, &why), -EBADMSG);
	CHECK_STR(why, "no MZ header");

	build_pe();
	put32(img + 0x3c, 0xfffffff0);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, &why), -EBADMSG);
	CHECK_STR(why, "no PE signature");

	build_pe();
	put16(img + OPT_OFF, 0x107);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, &why), -EBADMSG);

	build_pe();
	put16(img + PE_OFF + 20, 100);   /* shorter than the fixed part */
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, &why), -EBADMSG);

	build_pe();
	put32(img + OPT_OFF + 108, 0xffffffff);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, &why), -EBADMSG);

	build_pe();
	put16(img + PE_OFF + 6, 97);
	CHECK_INT(mig_pe_inspect(img, sizeof(img), &pe, &why), -EBADMSG);
	CHECK_STR(why, "more than 96 sections");

	build_pe();
	put16(img + PE_OFF + 6, 9);      /* section table past SizeOfHeaders */
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, &why), -EBADMSG);

	build_pe();
	put32(img + OPT_OFF + 60, IMG_LEN + 1);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, &why), -EBADMSG);

	build_pe();
	put32(img + OPT_OFF + 60, CHECKSUM + 2);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, &why), -EBADMSG);

	build_pe();
	put_section(1, ".data", 0xfffffff0, 0x20);   /* offset + size wraps in 32 bits */
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, &why), -EBADMSG);
	CHECK_STR(why, "section data beyond the end of the file");

	build_pe();
	put_section(1, ".data", 0x400, 0x201);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, &why), -EBADMSG);

	CHECK_INT(mig_pe_inspect(img, (size_t)MIG_PE_MAX_FILE + 1, &pe, &why), -EFBIG);
}

TEST(pe32_and_no_security_directory)
{
	struct mig_pe_info pe;

	/* PE32: data directories at 96; move the (zero) security entry with them */
	build_pe();
	put16(img + OPT_OFF, 0x10b);
	put32(img + OPT_OFF + 92, 16);
	put16(img + PE_OFF + 4, MIG_PE_MACHINE_I386);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, NULL), 0);
	CHECK(!pe.is_pe32plus);
	CHECK(!mig_pe_is_uefi64(&pe));
	CHECK_STR(mig_pe_machine_name(pe.machine), "i386");

	/* 4 data directories: no security entry, only CheckSum is skipped */
	build_pe();
	put32(img + OPT_OFF + 108, 4);
	put32(img + SECDIR, 0x400);          /* would be a cert table if it counted */
	put32(img + SECDIR + 4, 0x200);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, NULL), 0);
	CHECK(!pe.has_signature);
	struct sha256_ctx c;
	uint8_t want[32];
	sha256_init(&c);
	sha256_update(&c, CHECKSUM, img);
	sha256_update(&c, IMG_LEN - CHECKSUM - 4, img + CHECKSUM + 4);
	sha256_digest(&c, 32, want);
	CHECK(memcmp(pe.image_digest, want, 32) == 0);
}

/* --- the certificate table ------------------------------------------------ */

static const uint8_t not_der[] = { 0x30, 0x82, 0xff, 0xff, 0x01, 0x02 };

TEST(cert_table_garbage_is_reported_not_fatal)
{
	struct mig_pe_info pe;
	uint8_t want[32];
	size_t len;

	build_pe();
	len = add_cert(IMG_LEN, MIG_WIN_CERT_REVISION_2_0, MIG_WIN_CERT_TYPE_PKCS_SIGNED,
	               not_der, sizeof(not_der));
	CHECK_INT(mig_pe_inspect(img, len, &pe, NULL), 0);
	CHECK(pe.has_signature);
	CHECK_INT(pe.cert_offset, IMG_LEN);
	CHECK_INT(pe.cert_size, len - IMG_LEN);
	CHECK_INT(pe.n_signatures, 1);
	CHECK(!pe.digest_match);
	CHECK(!pe.sig_valid);
	CHECK_STR(pe.sig_error, "signature 1: not a PKCS#7 SignedData");
	linear_hash(IMG_LEN, want);   /* the table is not hashed */
	CHECK(memcmp(pe.image_digest, want, 32) == 0);

	/* another type of entry only (e.g. WIN_CERT_TYPE_EFI_GUID) */
	build_pe();
	len = add_cert(IMG_LEN, MIG_WIN_CERT_REVISION_2_0, 0x0ef1, not_der, sizeof(not_der));
	CHECK_INT(mig_pe_inspect(img, len, &pe, NULL), 0);
	CHECK(pe.has_signature);
	CHECK_INT(pe.n_signatures, 0);
	CHECK_STR(pe.sig_error, "the certificate table holds no PKCS#7 signature (1 other entries)");

	/* a bad entry length */
	build_pe();
	len = add_cert(IMG_LEN, MIG_WIN_CERT_REVISION_2_0, MIG_WIN_CERT_TYPE_PKCS_SIGNED,
	               not_der, sizeof(not_der));
	put32(img + IMG_LEN, 4);
	CHECK_INT(mig_pe_inspect(img, len, &pe, NULL), 0);
	CHECK_STR(pe.sig_error, "certificate table entry at 1536 has a bad length (4)");
	put32(img + IMG_LEN, 0x1000);
	CHECK_INT(mig_pe_inspect(img, len, &pe, NULL), 0);
	CHECK_STR(pe.sig_error, "certificate table entry at 1536 has a bad length (4096)");
}

TEST(cert_table_placement)
{
	struct mig_pe_info pe;
	uint8_t want[32];
	size_t len;

	/* truncated: the directory says more than the file has */
	build_pe();
	len = add_cert(IMG_LEN, MIG_WIN_CERT_REVISION_2_0, MIG_WIN_CERT_TYPE_PKCS_SIGNED,
	               not_der, sizeof(not_der));
	CHECK_INT(mig_pe_inspect(img, len - 1, &pe, NULL), 0);
	CHECK(pe.has_signature);
	CHECK(!pe.sig_valid);
	CHECK_STR(pe.sig_error, "the certificate table is truncated: it ends at 1552, the file at 1551");
	linear_hash(IMG_LEN, want);
	CHECK(memcmp(pe.image_digest, want, 32) == 0);

	/* wholly beyond the end, with an offset that would overflow 32 bits */
	build_pe();
	put32(img + SECDIR, 0xfffffff8);
	put32(img + SECDIR + 4, 0x10);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, NULL), 0);
	CHECK(pe.has_signature);
	CHECK(strstr(pe.sig_error, "truncated") != NULL);
	linear_hash(IMG_LEN, want);
	CHECK(memcmp(pe.image_digest, want, 32) == 0);

	/* data after the table */
	build_pe();
	len = add_cert(IMG_LEN, MIG_WIN_CERT_REVISION_2_0, MIG_WIN_CERT_TYPE_PKCS_SIGNED,
	               not_der, sizeof(not_der));
	CHECK_INT(mig_pe_inspect(img, len + 8, &pe, NULL), 0);
	CHECK_STR(pe.sig_error, "8 bytes follow the certificate table");

	/* inside a section */
	build_pe();
	put32(img + SECDIR, 0x500);
	put32(img + SECDIR + 4, 0x100);
	CHECK_INT(mig_pe_inspect(img, IMG_LEN, &pe, NULL), 0);
	CHECK_STR(pe.sig_error, "the certificate table (offset 1280) overlaps the headers or sections");
}

TEST(pkcs7_refuses_non_signatures)
{
	struct mig_authenticode a;
	const char *why = NULL;
	static const uint8_t empty_seq[] = { 0x30, 0x00 };

	CHECK_INT(mig_pkcs7_authenticode(not_der, sizeof(not_der), &a, &why), -EBADMSG);
	CHECK_STR(why, "not a PKCS#7 SignedData");
	CHECK_INT(mig_pkcs7_authenticode(empty_seq, sizeof(empty_seq), &a, &why), -EBADMSG);
	CHECK_INT(mig_pkcs7_authenticode(not_der, 0, &a, &why), -EBADMSG);
	CHECK_INT(mig_pkcs7_authenticode(not_der, MIG_PKCS7_MAX_SIZE + 1, &a, &why), -E2BIG);
	CHECK_STR(mig_digest_name(MIG_DIGEST_SHA1), "sha1");
	CHECK_INT(mig_digest_len(MIG_DIGEST_SHA384), 48);
}

/* --- driver for tests/cli/pe-*.sh ---------------------------------------------- */

static void hex(const char *key, const uint8_t *p, size_t n)
{
	printf("%s: ", key);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int inspect_file(const char *path)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	struct mig_pe_info pe;
	const char *why = "";
	int r;

	if (!f) {
		perror(path);
		return 1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap);
			if (!buf)
				return 1;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);

	r = mig_pe_inspect(buf, len, &pe, &why);
	printf("file: %s\nresult: %d\n", path, r);
	if (r < 0) {
		printf("why: %s\n", why);
	} else {
		const char *m = mig_pe_machine_name(pe.machine);
		printf("machine: %s\npe32plus: %d\nuefi64: %d\nsections: %u\nsubsystem: %u\n",
		       m ? m : "?", pe.is_pe32plus, mig_pe_is_uefi64(&pe), pe.n_sections, pe.subsystem);
		printf("signed: %d\nsignatures: %u\nsig_index: %u\nalg: %s\n", pe.has_signature,
		       pe.n_signatures, pe.sig_index, mig_digest_name(pe.digest_alg));
		hex("image_digest", pe.image_digest, pe.digest_len);
		hex("signed_digest", pe.signed_digest, pe.digest_len);
		printf("digest_match: %d\nsig_valid: %d\nsubject: %s\nissuer: %s\nerror: %s\n",
		       pe.digest_match, pe.sig_valid, pe.signer_subject, pe.signer_issuer, pe.sig_error);
		for (unsigned i = 0; i < pe.n_checked; i++) {
			const struct mig_pe_signature *s = &pe.sig[i];
			printf("sig%u: parsed=%d alg=%s match=%d valid=%d subject=%s | issuer=%s | error=%s\n",
			       i + 1, s->parsed, mig_digest_name(s->digest_alg), s->digest_match,
			       s->sig_valid, s->signer_subject, s->signer_issuer, s->error);
		}
	}
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		int rc = 0;
		for (int i = 1; i < argc; i++)
			rc |= inspect_file(argv[i]);
		return rc;
	}
	RUN(unsigned_pe32plus);
	RUN(hash_skips_checksum_and_security_entry_only);
	RUN(sections_hashed_in_file_order);
	RUN(trailing_data_hashed);
	RUN(every_truncation_is_refused);
	RUN(malformed_headers);
	RUN(pe32_and_no_security_directory);
	RUN(cert_table_garbage_is_reported_not_fatal);
	RUN(cert_table_placement);
	RUN(pkcs7_refuses_non_signatures);
	return tap_done();
}
