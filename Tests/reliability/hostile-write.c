// SPDX-License-Identifier: Apache-2.0
//
// hostile-write [-r COUNT] [-p PREFIX] [-s SUFFIX] FILE VALUE
//
// One open(2) + one write(2) of the decoded bytes, then close(2); prints "OK"
// or the errno name of the first call that failed (exit 0 either way; 2 on
// usage errors). Unlike pcache-rawwrite it can send any byte: VALUE (and
// PREFIX/SUFFIX) are decoded with C escapes (\0, \n, \t, \\, \xNN), and
// -r COUNT repeats the decoded VALUE COUNT times between PREFIX and SUFFIX,
// e.g. -p 'path=/dev/' -r 5000 a for a store longer than a page.
//
// hostile-write -b TABLE [-f FIRST] STATE...
//
// Batch mode (one process for a whole table; a fork+exec per write costs
// seconds under TCG): TABLE has one write per line,
//   FILE <TAB> WANT <TAB> PREFIX <TAB> VALUE <TAB> REPEAT <TAB> SUFFIX
// with WANT a |-separated list of acceptable results (EINVAL|E2BIG, OK).
// Before and after each write the STATE files (contents; for a directory,
// its entry names) are read; info's "seg_used:" line is ignored. Prints
// "ok N ..." or "BAD N ..." per line; on a state change prints
// "CHANGED N ..." and "NEXT N+1" and exits 3 so the caller can restore the
// state and go on from N+1. Exits 1 if a line was BAD, else 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <stdlib.h>

static size_t decode(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		if (*s != '\\' || !s[1]) {
			out[n++] = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case '0': out[n++] = '\0'; s++; break;
		case 'n': out[n++] = '\n'; s++; break;
		case 't': out[n++] = '\t'; s++; break;
		case '\\': out[n++] = '\\'; s++; break;
		case 'x': {
			char hex[3] = { 0 };

			s++;
			if (s[0] && s[1]) {
				hex[0] = s[0];
				hex[1] = s[1];
				s += 2;
			}
			out[n++] = (char)strtoul(hex, NULL, 16);
			break;
		}
		default:
			out[n++] = '\\';
			out[n++] = *s++;
		}
	}
	return n;
}

static const char *errname(int err);

static int report(int err)
{
	printf("%s\n", errname(err));
	return 0;
}

static const char *errname(int err)
{
	static char buf[16];
	const char *name = strerrorname_np(err);

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

/* One write of LEN bytes; the result as a name ("OK", "EINVAL", ...). */
static const char *do_write(const char *file, const char *buf, size_t len)
{
	static char shortbuf[64];
	ssize_t n;
	int fd, err;

	fd = open(file, O_WRONLY);
	if (fd < 0)
		return errname(errno);
	n = write(fd, buf, len);
	err = errno;
	if (close(fd) < 0 && n >= 0)
		return errname(errno);
	if (n < 0)
		return errname(err);
	if ((size_t)n != len) {
		snprintf(shortbuf, sizeof(shortbuf), "SHORT_WRITE_%zd_OF_%zu", n, len);
		return shortbuf;
	}
	return "OK";
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the state of PATH to OUT (a growing buffer). */
static void state_of(const char *path, char **out, size_t *len, size_t *cap)
{
	char buf[8192];
	ssize_t n = 0;
	int fd;
	DIR *d;

#define APPEND(p, l) do { \
		while (*len + (l) + 1 > *cap) { *cap = *cap * 2 + 8192; *out = realloc(*out, *cap); } \
		memcpy(*out + *len, (p), (l)); *len += (l); (*out)[*len] = 0; \
	} while (0)
	APPEND(path, strlen(path));
	APPEND("=", 1);
	d = opendir(path);
	if (d) {
		char *names[512];
		int k = 0;
		struct dirent *e;

		while ((e = readdir(d)) && k < 512)
			names[k++] = strdup(e->d_name);
		closedir(d);
		qsort(names, k, sizeof(names[0]), cmpstr);
		for (int i = 0; i < k; i++) {
			APPEND(names[i], strlen(names[i]));
			APPEND(" ", 1);
			free(names[i]);
		}
	} else {
		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
		}
		if (n > 0) {
			char *line, *save = NULL;

			buf[n] = 0;
			for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
				if (!strncmp(line, "seg_used:", 9))
					continue;
				APPEND(line, strlen(line));
				APPEND("|", 1);
			}
		} else {
			APPEND(fd < 0 ? "<unreadable>" : "<empty>", fd < 0 ? 12 : 7);
		}
	}
	APPEND("\n", 1);
#undef APPEND
}

static char *state(char **paths, int n)
{
	size_t len = 0, cap = 0;
	char *out = NULL;

	for (int i = 0; i < n; i++)
		state_of(paths[i], &out, &len, &cap);
	return out ? out : strdup("");
}

/* Splits LINE at tabs into at most MAX fields (in place). */
static int split_tabs(char *line, char **f, int max)
{
	int k = 0;

	f[k++] = line;
	for (char *p = line; *p && k < max; p++) {
		if (*p == '\t') {
			*p = 0;
			f[k++] = p + 1;
		}
	}
	return k;
}

static int batch(const char *table, long first, char **paths, int npaths)
{
	char *line = NULL, *f[6], *before, *after;
	size_t cap = 0;
	ssize_t got;
	long no = 0;
	int bad = 0;
	FILE *t = fopen(table, "r");

	if (!t) {
		perror(table);
		return 2;
	}
	while ((got = getline(&line, &cap, t)) > 0) {
		size_t plen, vlen, slen, len;
		char *buf, *p, *v, *sfx;
		const char *res;
		long repeat;
		char want[256];

		no++;
		if (no < first)
			continue;
		if (line[got - 1] == '\n')
			line[got - 1] = 0;
		if (split_tabs(line, f, 6) != 6) {
			printf("BAD %ld malformed table line\n", no);
			bad = 1;
			continue;
		}
		repeat = strtol(f[4], NULL, 10);
		p = malloc(strlen(f[2]) + 1);
		v = malloc(strlen(f[3]) + 1);
		sfx = malloc(strlen(f[5]) + 1);
		plen = decode(f[2], p);
		vlen = decode(f[3], v);
		slen = decode(f[5], sfx);
		buf = malloc(plen + vlen * repeat + slen + 1);
		memcpy(buf, p, plen);
		len = plen;
		for (long i = 0; i < repeat; i++, len += vlen)
			memcpy(buf + len, v, vlen);
		memcpy(buf + len, sfx, slen);
		len += slen;

		before = state(paths, npaths);
		res = do_write(f[0], buf, len);
		after = state(paths, npaths);
		snprintf(want, sizeof(want), "|%s|", f[1]);
		{
			char needle[80];

			snprintf(needle, sizeof(needle), "|%s|", res);
			if (strstr(want, needle)) {
				printf("ok %ld %s <- '%.60s%s%.40s' x%ld: %s\n", no, f[0], f[2], f[3], f[5], repeat, res);
			} else {
				printf("BAD %ld %s <- '%.60s%s%.40s' x%ld: got %s, want %s\n", no, f[0], f[2], f[3],
				       f[5], repeat, res, f[1]);
				bad = 1;
			}
		}
		if (strcmp(before, after)) {
			printf("CHANGED %ld %s <- '%.60s%s%.40s' x%ld changed the state\n", no, f[0], f[2], f[3], f[5], repeat);
			printf("--- before\n%s--- after\n%s", before, after);
			printf("NEXT %ld\n", no + 1);
			fflush(stdout);
			return 3;
		}
		free(before);
		free(after);
		free(buf);
		free(p);
		free(v);
		free(sfx);
		fflush(stdout);
	}
	fclose(t);
	printf("DONE %ld\n", no);
	return bad;
}

int main(int argc, char **argv)
{
	const char *table = NULL;
	long first = 1;
	const char *prefix = "", *suffix = "";
	long repeat = 1;
	size_t plen, vlen, slen, len = 0;
	char *p, *v, *sfx, *buf;
	ssize_t n;
	int fd, opt;

	while ((opt = getopt(argc, argv, "+r:p:s:b:f:")) != -1) {
		switch (opt) {
		case 'b': table = optarg; break;
		case 'f': first = strtol(optarg, NULL, 10); break;
		case 'r': repeat = strtol(optarg, NULL, 10); break;
		case 'p': prefix = optarg; break;
		case 's': suffix = optarg; break;
		default: goto usage;
		}
	}
	if (table)
		return batch(table, first, argv + optind, argc - optind);
	if (argc - optind != 2 || repeat < 0 || repeat > 1 << 20)
		goto usage;
	p = malloc(strlen(prefix) + 1);
	v = malloc(strlen(argv[optind + 1]) + 1);
	sfx = malloc(strlen(suffix) + 1);
	if (!p || !v || !sfx)
		return 2;
	plen = decode(prefix, p);
	vlen = decode(argv[optind + 1], v);
	slen = decode(suffix, sfx);
	buf = malloc(plen + vlen * repeat + slen + 1);
	if (!buf)
		return 2;
	memcpy(buf, p, plen);
	len = plen;
	for (long i = 0; i < repeat; i++, len += vlen)
		memcpy(buf + len, v, vlen);
	memcpy(buf + len, sfx, slen);
	len += slen;

	fd = open(argv[optind], O_WRONLY);
	if (fd < 0)
		return report(errno);
	n = write(fd, buf, len);
	if (n < 0) {
		int err = errno;

		close(fd);
		return report(err);
	}
	if (close(fd) < 0)
		return report(errno);
	if ((size_t)n != len) {
		printf("SHORT_WRITE_%zd_OF_%zu\n", n, len);
		return 0;
	}
	printf("OK\n");
	return 0;
usage:
	fprintf(stderr, "usage: hostile-write [-r COUNT] [-p PREFIX] [-s SUFFIX] FILE VALUE\n");
	return 2;
}
