/* client.h — the sending end over HTTPS (libcurl on GnuTLS).
 *
 * The receiver is trusted by its public-key pin alone (tls.h): no CA store
 * is read. mig_client_send() presents the plan, streams from where the
 * receiver says each disk resumes, and after a broken connection tries
 * again with exponential backoff (0.5 s doubling to 30 s), up to
 * max_tries failed attempts in a row (progress resets the count). A
 * refusal by the receiver (409), a wrong token (401) or a pin that does not
 * match are final: no retry.
 */
#ifndef MIGRATOR_CLIENT_H
#define MIGRATOR_CLIENT_H

#include <stdint.h>

#include "source.h"

struct mig_client_opts {
	const char *url;        /* https://HOST:PORT */
	const char *pin;        /* sha256//BASE64 */
	const char *token;
	unsigned max_tries;     /* 0: 20 */
	uint64_t rate_limit;    /* bytes/s on the wire, 0: none */
	unsigned connect_timeout_s;     /* 0: 10 */
	unsigned stall_timeout_s;       /* a connection moving no data this long is broken; 0: 60 */
	void (*log)(void *ud, const char *msg);
	/* After every record sent. */
	void (*progress)(void *ud, const struct mig_source *src);
	void *ud;
};

/* 0 when the receiver confirmed the copy complete; -errno with the reason
 * in why: -EACCES wrong token, -EPERM pin mismatch, -ECONNREFUSED receiver
 * gone after max_tries, -EBADMSG/-ENOSPC/... the receiver's refusal, or a
 * source read error. */
int mig_client_send(const struct mig_client_opts *o, struct mig_source *src, char *why, size_t whylen);

#endif
