/* deps/selftest.c — proof that the sysroot links statically and works.
 *
 * deps/build.sh links this against every library of a fresh sysroot and runs it
 * (also alone in an empty chroot) before accepting the sysroot. It touches one
 * entry point of each library, checks the features migrator relies on, prints
 * the versions, and exits non-zero on the first missing piece.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <blkid/blkid.h>
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <libfdisk/libfdisk.h>
#include <lzma.h>
#include <microhttpd.h>
#include <uuid/uuid.h>
#include <zlib.h>
#include <zstd.h>

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "selftest: FAILED: %s\n", what);
		failures++;
	}
}

static int curl_has_protocol(const curl_version_info_data *v, const char *name)
{
	for (const char *const *p = v->protocols; *p; p++)
		if (strcmp(*p, name) == 0)
			return 1;
	return 0;
}

int main(void)
{
	/* GnuTLS: statically linked it has no constructor; PSK must be there. */
	check(gnutls_global_init() == GNUTLS_E_SUCCESS, "gnutls_global_init");
	gnutls_psk_server_credentials_t psk = NULL;
	check(gnutls_psk_allocate_server_credentials(&psk) == GNUTLS_E_SUCCESS,
	      "gnutls PSK credentials");
	gnutls_psk_free_server_credentials(psk);
	printf("gnutls %s\n", gnutls_check_version(NULL));

	/* curl: HTTP and HTTPS only, on GnuTLS, with zlib and zstd. */
	check(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, "curl_global_init");
	CURL *curl = curl_easy_init();
	check(curl != NULL, "curl_easy_init");
	curl_easy_cleanup(curl);
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	printf("%s\n", curl_version());
	check(cv->features & CURL_VERSION_SSL, "curl with TLS");
	check(cv->features & CURL_VERSION_LIBZ, "curl with zlib");
	check(cv->features & CURL_VERSION_ZSTD, "curl with zstd");
	check(cv->ssl_version && strncmp(cv->ssl_version, "GnuTLS", 6) == 0, "curl on GnuTLS");
	check(curl_has_protocol(cv, "http") && curl_has_protocol(cv, "https"),
	      "curl speaks http and https");
	int nproto = 0;
	for (const char *const *p = cv->protocols; *p; p++)
		nproto++;
	check(nproto == 2, "curl speaks nothing but http and https");
	printf("curl CA bundle: %s\n", cv->cainfo ? cv->cainfo : "(none)");
	curl_global_cleanup();

	/* libmicrohttpd: HTTPS through GnuTLS, epoll. */
	check(MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES, "MHD with TLS");
	check(MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES, "MHD with epoll");
	printf("libmicrohttpd %s\n", MHD_get_version());

	/* util-linux */
	blkid_probe pr = blkid_new_probe();
	check(pr != NULL, "blkid_new_probe");
	blkid_free_probe(pr);
	struct fdisk_context *cxt = fdisk_new_context();
	check(cxt != NULL, "fdisk_new_context");
	fdisk_unref_context(cxt);
	uuid_t u;
	char us[UUID_STR_LEN];
	uuid_generate(u);
	uuid_unparse(u, us);
	check(!uuid_is_null(u), "uuid_generate");
	const char *blkid_ver = NULL;
	blkid_get_library_version(&blkid_ver, NULL);
	printf("libblkid %s, libfdisk %s, uuid %s\n", blkid_ver, LIBFDISK_VERSION, us);

	/* libarchive with zstd and xz. */
	struct archive *a = archive_read_new();
	check(a != NULL, "archive_read_new");
	check(archive_read_support_filter_zstd(a) == ARCHIVE_OK, "libarchive zstd filter");
	check(archive_read_support_filter_xz(a) == ARCHIVE_OK, "libarchive xz filter");
	check(archive_read_support_filter_gzip(a) == ARCHIVE_OK, "libarchive gzip filter");
	archive_read_free(a);
	printf("%s\n", archive_version_details());

	/* compression libraries */
	printf("liblzma %s, zstd %u, zlib %s\n", lzma_version_string(),
	       ZSTD_versionNumber(), zlibVersion());
	check(ZSTD_versionNumber() == ZSTD_VERSION_NUMBER, "zstd header matches library");
	check(strcmp(zlibVersion(), ZLIB_VERSION) == 0, "zlib header matches library");
	ZSTD_CCtx *zc = ZSTD_createCCtx();
	check(zc && !ZSTD_isError(ZSTD_CCtx_setParameter(zc, ZSTD_c_nbWorkers, 2)),
	      "multithreaded zstd");
	ZSTD_freeCCtx(zc);

	gnutls_global_deinit();
	if (failures) {
		fprintf(stderr, "selftest: %d failure(s)\n", failures);
		return 1;
	}
	printf("selftest: ok\n");
	return 0;
}
