/* mkcpio — write a reproducible newc cpio archive from a list.
 *
 *   mkcpio [-t EPOCH] LIST > archive.cpio
 *
 * LIST uses the format of the kernel's usr/gen_init_cpio, one entry a line:
 *   file  NAME SOURCE MODE UID GID
 *   dir   NAME MODE UID GID
 *   slink NAME TARGET MODE UID GID
 *   nod   NAME MODE UID GID {c|b} MAJOR MINOR
 * ('#' comments and blank lines are skipped; fields are separated by blanks,
 * so names cannot contain any.)
 *
 * What makes the output reproducible: entries sorted by name (byte order, so
 * a directory always precedes its contents), every mtime EPOCH (default 0),
 * inode numbers assigned in that order, no device numbers for the archive
 * itself, and nothing taken from the source files but their bytes. Missing
 * parent directories are added (0755, root). A name given twice is an error.
 * uid/gid are written as given (the lists use 0 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENTRIES_MAX 100000
#define LINE_MAX_LEN 8192

struct entry {
	char *name;             /* without leading '/' */
	char *source;           /* file: path to read; slink: target */
	unsigned mode;          /* with the S_IF* type bits */
	unsigned uid, gid;
	unsigned rmajor, rminor;
};

static struct entry *entries;
static size_t n_entries;
static unsigned long long epoch;

static void die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "mkcpio: ");
	fprintf(stderr, fmt, a ? a : "", b ? b : "");
	fputc('\n', stderr);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory%s%s", NULL, NULL);
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("out of memory%s%s", NULL, NULL);
	return p;
}

static unsigned parse_num(const char *s, int base, const char *line)
{
	char *end;
	unsigned long v;

	if (!s)
		die("missing field in: %s%s", line, NULL);
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || end == s || v > UINT32_MAX)
		die("bad number '%s' in: %s", s, line);
	return (unsigned)v;
}

static char *clean_name(const char *name, const char *line)
{
	while (*name == '/')
		name++;
	if (!*name || strstr(name, "//") || name[strlen(name) - 1] == '/' ||
	    strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 || strstr(name, "/../") ||
	    (strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0))
		die("bad name in: %s%s", line, NULL);
	return xstrdup(name);
}

static void add(struct entry e)
{
	if (n_entries == ENTRIES_MAX)
		die("more than %s entries%s", "100000", NULL);
	entries[n_entries++] = e;
}

static void parse_list(FILE *f)
{
	char line[LINE_MAX_LEN], copy[LINE_MAX_LEN];

	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *type, *name;
		struct entry e = { 0 };

		if (!strchr(line, '\n') && !feof(f))
			die("line too long: %.80s%s", line, NULL);
		line[strcspn(line, "\n")] = '\0';
		snprintf(copy, sizeof(copy), "%s", line);
		type = strtok_r(line, " \t", &save);
		if (!type || type[0] == '#')
			continue;
		name = strtok_r(NULL, " \t", &save);
		if (!name)
			die("missing name in: %s%s", copy, NULL);
		e.name = clean_name(name, copy);
		if (strcmp(type, "file") == 0) {
			char *src = strtok_r(NULL, " \t", &save);
			if (!src)
				die("missing source in: %s%s", copy, NULL);
			e.source = xstrdup(src);
			e.mode = S_IFREG | parse_num(strtok_r(NULL, " \t", &save), 8, copy);
		} else if (strcmp(type, "dir") == 0) {
			e.mode = S_IFDIR | parse_num(strtok_r(NULL, " \t", &save), 8, copy);
		} else if (strcmp(type, "slink") == 0) {
			char *target = strtok_r(NULL, " \t", &save);
			if (!target)
				die("missing target in: %s%s", copy, NULL);
			e.source = xstrdup(target);
			e.mode = S_IFLNK | parse_num(strtok_r(NULL, " \t", &save), 8, copy);
		} else if (strcmp(type, "nod") == 0) {
			e.mode = parse_num(strtok_r(NULL, " \t", &save), 8, copy);
		} else {
			die("unknown type '%s' in: %s", type, copy);
		}
		if (e.mode & ~(unsigned)(S_IFMT | 07777))
			die("bad mode in: %s%s", copy, NULL);
		e.uid = parse_num(strtok_r(NULL, " \t", &save), 10, copy);
		e.gid = parse_num(strtok_r(NULL, " \t", &save), 10, copy);
		if (strcmp(type, "nod") == 0) {
			char *dt = strtok_r(NULL, " \t", &save);
			if (!dt || (strcmp(dt, "c") && strcmp(dt, "b")))
				die("device type must be c or b in: %s%s", copy, NULL);
			e.mode |= dt[0] == 'c' ? S_IFCHR : S_IFBLK;
			e.rmajor = parse_num(strtok_r(NULL, " \t", &save), 10, copy);
			e.rminor = parse_num(strtok_r(NULL, " \t", &save), 10, copy);
		}
		if (strtok_r(NULL, " \t", &save))
			die("extra fields in: %s%s", copy, NULL);
		add(e);
	}
	if (ferror(f))
		die("cannot read the list%s%s", NULL, NULL);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static struct entry *find(const char *name)
{
	struct entry key = { .name = (char *)name };
	return bsearch(&key, entries, n_entries, sizeof(*entries), by_name);
}

/* Adds the parent directories nobody listed. */
static void add_parents(void)
{
	size_t n = n_entries;

	qsort(entries, n_entries, sizeof(*entries), by_name);
	for (size_t i = 0; i < n; i++) {
		char *p = xstrdup(entries[i].name), *slash;
		while ((slash = strrchr(p, '/'))) {
			*slash = '\0';
			struct entry key = { .name = p };
			int found = bsearch(&key, entries, n, sizeof(*entries), by_name) != NULL;

			/* entries[n..] are unsorted additions: look there linearly */
			for (size_t j = n; !found && j < n_entries; j++)
				found = strcmp(entries[j].name, p) == 0;
			if (!found)
				add((struct entry){ .name = xstrdup(p), .mode = S_IFDIR | 0755 });
		}
		free(p);
	}
	qsort(entries, n_entries, sizeof(*entries), by_name);
	for (size_t i = 1; i < n_entries; i++)
		if (strcmp(entries[i - 1].name, entries[i].name) == 0)
			die("%s is listed twice%s", entries[i].name, NULL);
	for (size_t i = 0; i < n_entries; i++) {
		char *p = xstrdup(entries[i].name), *slash = strrchr(p, '/');
		if (slash) {
			struct entry *parent;
			*slash = '\0';
			parent = find(p);
			if (!parent || !S_ISDIR(parent->mode))
				die("the parent of %s is not a directory%s", entries[i].name, NULL);
		}
		free(p);
	}
}

static void out(const void *buf, size_t n)
{
	if (n && fwrite(buf, 1, n, stdout) != n)
		die("write error: %s%s", strerror(errno), NULL);
}

static unsigned long long written;

static void out_counted(const void *buf, size_t n)
{
	out(buf, n);
	written += n;
}

static void pad4(void)
{
	static const char zeros[4];
	out_counted(zeros, (4 - written % 4) % 4);
}

static void header(unsigned ino, const struct entry *e, unsigned nlink, unsigned long size)
{
	char h[160];	/* 110 bytes; every field was checked to fit 8 hex digits */
	size_t namesize = strlen(e->name) + 1;

	snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08llX%08lX%08X%08X%08X%08X%08zX%08X",
		 ino, e->mode, e->uid, e->gid, nlink, epoch, size, 0u, 0u, e->rmajor, e->rminor,
		 namesize, 0u);
	out_counted(h, 110);
	out_counted(e->name, namesize);
	pad4();
}

static void write_file(unsigned ino, const struct entry *e)
{
	int fd = open(e->source, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char buf[65536];
	unsigned long left;

	if (fd < 0 || fstat(fd, &st) < 0)
		die("cannot open %s: %s", e->source, strerror(errno));
	if (!S_ISREG(st.st_mode))
		die("%s is not a regular file%s", e->source, NULL);
	if ((unsigned long long)st.st_size > UINT32_MAX)
		die("%s is larger than 4 GiB%s", e->source, NULL);
	header(ino, e, 1, (unsigned long)st.st_size);
	for (left = (unsigned long)st.st_size; left > 0;) {
		ssize_t k = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("%s changed while being read%s", e->source, NULL);
		out_counted(buf, (size_t)k);
		left -= (unsigned long)k;
	}
	close(fd);
	pad4();
}

int main(int argc, char **argv)
{
	struct entry trailer = { .name = "TRAILER!!!" };
	const char *list = NULL;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			epoch = strtoull(argv[++i], NULL, 10);
		else if (argv[i][0] == '-' && argv[i][1])
			die("usage: mkcpio [-t EPOCH] LIST > archive.cpio%s%s", NULL, NULL);
		else
			list = argv[i];
	}
	if (!list)
		die("usage: mkcpio [-t EPOCH] LIST > archive.cpio%s%s", NULL, NULL);
	if (epoch > UINT32_MAX)
		die("EPOCH out of range%s%s", NULL, NULL);
	entries = xmalloc(ENTRIES_MAX * sizeof(*entries));
	f = strcmp(list, "-") == 0 ? stdin : fopen(list, "re");
	if (!f)
		die("cannot open %s: %s", list, strerror(errno));
	parse_list(f);
	add_parents();

	for (size_t i = 0; i < n_entries; i++) {
		const struct entry *e = &entries[i];
		unsigned ino = (unsigned)i + 1;

		if (S_ISREG(e->mode)) {
			write_file(ino, e);
		} else if (S_ISLNK(e->mode)) {
			header(ino, e, 1, (unsigned long)strlen(e->source));
			out_counted(e->source, strlen(e->source));
			pad4();
		} else {
			header(ino, e, S_ISDIR(e->mode) ? 2 : 1, 0);
		}
	}
	header(0, &trailer, 1, 0);
	/* Like GNU cpio: pad the archive to a multiple of 512 bytes. */
	while (written % 512)
		out_counted("", 1);
	if (fflush(stdout) != 0)
		die("write error: %s%s", strerror(errno), NULL);
	return 0;
}
