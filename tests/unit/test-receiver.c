/* Unit tests of source → stream → receiver on small image files in a temp
 * directory: splits at every boundary, refusals, and resume after a cut. */
#include "tap.h"
#include "fileio.h"
#include "receiver.h"
#include "source.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMG_SIZE (4u << 20)
#define CHUNK (64u << 10)

static char dir[] = "/tmp/test-receiver.XXXXXX";
static char src_path[256], dst_path[256];
static uint8_t *stream;
static size_t stream_len;

static int resolve(void *ud, const struct mig_rx_disk *d, char **ret_path, char *why, size_t whylen)
{
	*ret_path = strdup(dst_path);
	return 0;
}

static struct mig_receiver *new_rx(void)
{
	struct mig_receiver_opts o = { .resolve = resolve, .state_dir = dir };
	struct mig_receiver *rx = NULL;
	mig_receiver_new(&o, &rx);
	return rx;
}

static struct mig_source *new_src(void)
{
	struct mig_source_opts so = { .chunk_size = CHUNK, .tool_version = "test" };
	char *paths[] = { src_path }, why[256];
	struct mig_source *s = NULL;
	mig_source_open(paths, 1, &so, &s, why, sizeof(why));
	return s;
}

/* The whole stream of src into a buffer. */
static void record_stream(struct mig_source *s)
{
	const uint8_t *b;
	size_t n;
	char why[256];

	free(stream);
	stream = NULL;
	stream_len = 0;
	while (mig_source_next(s, &b, &n, why, sizeof(why)) == 0) {
		stream = realloc(stream, stream_len + n);
		memcpy(stream + stream_len, b, n);
		stream_len += n;
	}
}

static int same_files(void)
{
	char *a, *b;
	size_t la, lb;
	int same;

	if (mig_read_file(src_path, IMG_SIZE * 2, &a, &la) < 0)
		return 0;
	if (mig_read_file(dst_path, IMG_SIZE * 2, &b, &lb) < 0) {
		free(a);
		return 0;
	}
	same = la == lb && !memcmp(a, b, la);
	free(a);
	free(b);
	return same;
}

static void fresh_target(void)
{
	char j[300];
	unlink(dst_path);
	snprintf(j, sizeof(j), "%s.migrator-journal", dst_path);
	unlink(j);
}

TEST(round_trip_in_odd_pieces)
{
	static const size_t pieces[] = { 1, 7, 16, 17, 4096, 65536 + 13, 1 << 20 };

	for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
		struct mig_receiver *rx = new_rx();
		int r = 0;

		fresh_target();
		mig_receiver_begin(rx);
		for (size_t off = 0; off < stream_len && r == 0; off += pieces[p])
			r = mig_receiver_feed(rx, stream + off, stream_len - off < pieces[p] ? stream_len - off : pieces[p]);
		CHECK_INT(r, 0);
		CHECK_INT(mig_receiver_end(rx, true), 0);
		CHECK(mig_receiver_finished(rx));
		CHECK(same_files());
		mig_receiver_free(rx);
	}
}

/* The offset of the n-th record (0-based) of a type in the stream. */
static size_t nth_record(uint8_t type, int n)
{
	size_t pos = 0;
	struct mig_record r;

	while (pos < stream_len) {
		ssize_t k = mig_stream_parse(stream + pos, stream_len - pos, &r);
		if (k <= 0)
			return 0;
		if (r.type == type && n-- == 0)
			return pos;
		pos += (size_t)k;
	}
	return 0;
}

static int feed_all(struct mig_receiver *rx, const uint8_t *b, size_t n)
{
	int r;
	mig_receiver_begin(rx);
	r = mig_receiver_feed(rx, b, n);
	return r < 0 ? r : mig_receiver_end(rx, true);
}

TEST(truncated_stream_is_refused)
{
	struct mig_receiver *rx = new_rx();

	fresh_target();
	CHECK_INT(feed_all(rx, stream, stream_len - 16), -EBADMSG);
	CHECK(strstr(mig_receiver_error(rx), "truncated") != NULL);
	mig_receiver_free(rx);
}

TEST(chunk_out_of_order_is_refused)
{
	size_t c0 = nth_record(MIG_REC_CHUNK, 0), c1 = nth_record(MIG_REC_CHUNK, 1);
	struct mig_receiver *rx = new_rx();

	/* The stream without its first chunk. */
	uint8_t *b = malloc(stream_len);
	memcpy(b, stream, c0);
	memcpy(b + c0, stream + c1, stream_len - c1);
	fresh_target();
	CHECK_INT(feed_all(rx, b, c0 + stream_len - c1), -EBADMSG);
	CHECK(strstr(mig_receiver_error(rx), "where 0 was expected") != NULL);
	free(b);
	mig_receiver_free(rx);
}

TEST(wrong_digest_in_trailer_is_refused)
{
	size_t t = nth_record(MIG_REC_TRAILER, 0);
	struct mig_trailer tr;
	struct mig_record r;
	struct mig_receiver *rx = new_rx();
	uint8_t *b = malloc(stream_len);

	memcpy(b, stream, stream_len);
	CHECK(mig_stream_parse(b + t, stream_len - t, &r) > 0);
	tr = r.trailer;
	tr.sha256[0] ^= 1;      /* re-encoded, so its CRC is right: only the digest lies */
	CHECK(mig_stream_encode_trailer(b + t, stream_len - t, &tr) > 0);
	fresh_target();
	CHECK_INT(feed_all(rx, b, stream_len), -EBADMSG);
	CHECK(strstr(mig_receiver_error(rx), "digest differs") != NULL);
	free(b);
	mig_receiver_free(rx);
}

TEST(resume_after_a_cut)
{
	struct mig_source *s = new_src();
	struct mig_receiver *rx = new_rx();
	uint8_t *plan;
	size_t plan_len, cut = stream_len * 2 / 3;
	char *text = NULL;
	uint64_t next = 0;
	int done = -1;

	fresh_target();
	CHECK_INT(mig_source_plan(s, &plan, &plan_len), 0);
	record_stream(s);       /* the source has passed every boundary */
	mig_receiver_begin(rx);
	CHECK_INT(mig_receiver_feed(rx, stream, cut), 0);
	CHECK_INT(mig_receiver_end(rx, false), -EPIPE);
	mig_receiver_free(rx);

	/* A new receiver (as after a restart) finds the journal. */
	rx = new_rx();
	CHECK_INT(mig_receiver_plan(rx, plan, plan_len, &text), 0);
	CHECK(text && sscanf(text, "disk 0 next %lu done %d", &next, &done) == 2);
	CHECK(next > 0 && next < IMG_SIZE && done == 0);
	CHECK_INT(next % (4 * CHUNK), 0);
	uint64_t nexts[1] = { next };
	bool dones[1] = { false };
	CHECK_INT(mig_source_seek(s, nexts, dones), 0);
	record_stream(s);
	CHECK_INT(feed_all(rx, stream, stream_len), 0);
	CHECK(same_files());
	/* A resume point that is no boundary is refused by the source. */
	nexts[0] = next + 512;
	CHECK_INT(mig_source_seek(s, nexts, dones), -ERANGE);
	free(text);
	free(plan);
	mig_receiver_free(rx);
	mig_source_free(s);
}

TEST(another_session_is_refused_not_fatal)
{
	struct mig_source *a = new_src(), *b = new_src();
	struct mig_receiver *rx = new_rx();
	uint8_t *pa, *pb;
	size_t la, lb;
	char *text = NULL;

	fresh_target();
	mig_source_plan(a, &pa, &la);
	mig_source_plan(b, &pb, &lb);
	CHECK_INT(mig_receiver_plan(rx, pa, la, &text), 0);
	free(text);
	text = NULL;
	CHECK_INT(mig_receiver_plan(rx, pb, lb, &text), -EALREADY);
	CHECK_INT(mig_receiver_plan(rx, pa, la, &text), 0);
	free(text);
	free(pa);
	free(pb);
	mig_receiver_free(rx);
	mig_source_free(a);
	mig_source_free(b);
}

int main(void)
{
	uint8_t *img = calloc(1, IMG_SIZE);
	uint32_t x = 1;

	if (!mkdtemp(dir))
		return 1;
	snprintf(src_path, sizeof(src_path), "%s/src.img", dir);
	snprintf(dst_path, sizeof(dst_path), "%s/dst.img", dir);
	for (size_t i = 0; i < IMG_SIZE; i++) {
		x = x * 1103515245u + 12345u;
		/* random data in every other 128 KiB, zeros in between */
		img[i] = (i >> 17) & 1 ? (uint8_t)(x >> 16) : 0;
	}
	int fd = open(src_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	mig_write_all(fd, img, IMG_SIZE);
	close(fd);
	free(img);
	struct mig_source *s = new_src();
	record_stream(s);
	mig_source_free(s);

	RUN(round_trip_in_odd_pieces);
	RUN(truncated_stream_is_refused);
	RUN(chunk_out_of_order_is_refused);
	RUN(wrong_digest_in_trailer_is_refused);
	RUN(resume_after_a_cut);
	RUN(another_session_is_refused_not_fatal);

	free(stream);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
