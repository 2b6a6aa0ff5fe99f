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
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int report(int err)
{
	const char *name = strerrorname_np(err);

	if (name)
		printf("%s\n", name);
	else
		printf("E%d\n", err);
	return 0;
}

int main(int argc, char **argv)
{
	const char *prefix = "", *suffix = "";
	long repeat = 1;
	size_t plen, vlen, slen, len = 0;
	char *p, *v, *sfx, *buf;
	ssize_t n;
	int fd, opt;

	while ((opt = getopt(argc, argv, "r:p:s:")) != -1) {
		switch (opt) {
		case 'r': repeat = strtol(optarg, NULL, 10); break;
		case 'p': prefix = optarg; break;
		case 's': suffix = optarg; break;
		default: goto usage;
		}
	}
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
