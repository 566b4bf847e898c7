/* server.h — the receiving end over HTTPS (libmicrohttpd + GnuTLS).
 *
 * Endpoints (every request needs "Authorization: Bearer TOKEN"; a wrong or
 * missing token gets 401 after a one-second delay, and nothing is read
 * from its body):
 *   POST /v1/plan     body: stream and disk headers (source.h). Checks the
 *                     targets; 200 with one line per disk "disk I next
 *                     OFFSET done 0|1 target PATH", or 409 and the reason.
 *   POST /v1/stream   body: the stream (chunked). 200 when the copy is
 *                     complete and verified; 409 and the reason when the
 *                     receiver refused it. A cut connection is committed
 *                     and resumable (receiver.h).
 *   GET  /v1/status   "finished 0|1" and "error REASON" lines.
 * One plan or stream at a time: a second gets 503 (retry). Limits: one
 * request per connection ("Connection: close"), 8 connections (2 per
 * address), 60 s idle timeout, 256 KiB of connection memory (which bounds
 * request headers), 16 MiB of plan body.
 */
#ifndef MIGRATOR_SERVER_H
#define MIGRATOR_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "receiver.h"

struct mig_server_opts {
	const char *listen;             /* "[ADDR:]PORT", "[IPv6]:PORT"; port 0 picks one */
	const char *cert_pem, *key_pem;
	const char *token;
	struct mig_receiver *rx;        /* not owned */
	unsigned idle_timeout_s;        /* 0: 60 */
	void (*log)(void *ud, const char *msg);
	void *ud;
};

struct mig_server;

/* Starts listening (own threads). -errno with the reason in why. */
int mig_server_start(const struct mig_server_opts *o, struct mig_server **ret, char *why, size_t whylen);
uint16_t mig_server_port(const struct mig_server *s);
/* Blocks until the copy is complete (0) or the receiver failed for good
 * (its error; the sender has been told or 30 s passed). */
int mig_server_wait(struct mig_server *s);
void mig_server_stop(struct mig_server *s);     /* NULL ok */

/* "[ADDR:]PORT" → a socket address. 0 or -EINVAL. */
struct sockaddr_storage;
int mig_parse_listen(const char *spec, struct sockaddr_storage *ret, unsigned *ret_len);

#endif
