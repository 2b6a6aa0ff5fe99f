// SPDX-License-Identifier: Apache-2.0
//
// pcache-rawwrite FILE VALUE: one open(2) + one write(2) of exactly VALUE (no
// newline added), then close(2). Prints "OK" or the errno name (EINVAL, ...)
// of the first call that failed; exits 0 either way so that shell tests can
// compare the name. Exit 2 on usage errors. sysfs stores report their error
// from write(2); `echo` in a shell only shows the message text.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	size_t len;
	ssize_t n;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: pcache-rawwrite FILE VALUE\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	if (fd < 0)
		return report(errno);
	len = strlen(argv[2]);
	n = write(fd, argv[2], len);
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
}
