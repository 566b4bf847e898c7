/* metadata.h — user-data from the cloud's metadata service at
 * 169.254.169.254 (migrator.config=metadata), read as migrator.conf.
 *
 * Tried in order, first answer 200 wins, 404 moves on:
 *   EC2 and compatibles  GET /latest/user-data (IMDSv2 token first, then v1)
 *   OpenStack            GET /openstack/latest/user_data
 *   Google Cloud         GET /computeMetadata/v1/instance/attributes/user-data
 *   Azure                GET /metadata/instance/compute/userData (base64)
 * Plain HTTP to that one address only: no redirects, no proxy, a size limit
 * (CONF_FILE_MAX) and short timeouts; connection failures are retried a few
 * times while DHCP settles.
 */
#ifndef MIGRATOR_INIT_METADATA_H
#define MIGRATOR_INIT_METADATA_H

#include <stddef.h>

#define METADATA_HOST "169.254.169.254"
#define METADATA_ATTEMPTS 4
#define METADATA_TIMEOUT_S 5

/* Fetches user-data into a NUL-terminated malloc'd buffer. Returns 0 with
 * *ret_buf and *ret_len and the URL it came from in *ret_source (static string),
 * -ENOENT when every service answered but none has user-data,
 * -EHOSTUNREACH when no service answered, -EFBIG beyond CONF_FILE_MAX,
 * -ENOMEM. */
int metadata_fetch(char **ret_buf, size_t *ret_len, const char **ret_source);

/* Pure: decodes standard base64 (whitespace ignored) in place. Returns the
 * decoded length, or -EINVAL. */
int metadata_base64_decode(char *s, size_t len);

#endif
