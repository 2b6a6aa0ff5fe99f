// SPDX-License-Identifier: Apache-2.0
//
// racing-read DEV DISK OFFSET COUNT LEN
//
// A reader that changes its own buffer while its reads are in flight: COUNT
// O_DIRECT reads of LEN bytes from DEV (a /dev/pcacheN), at OFFSET,
// OFFSET + LEN, ..., all into one buffer that a second thread keeps
// overwriting meanwhile (as a process rewriting its O_DIRECT buffer, or
// concurrent AIO into one buffer, would). Then, with the writer stopped,
// every range is read again from DEV into a fresh buffer and from DISK (the
// backing disk, opened read-only) and compared: what the cache serves must
// be the disk's data, never bytes the reader scribbled.
//
// Prints "racing-read: N of COUNT ranges differ from the disk" (and the first
// few offsets); exits 1 if any differ, 2 on usage or I/O errors, else 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int stop;
static unsigned char *shared;
static size_t len;

static void *scribble(void *arg)
{
	unsigned char v = 0xA5;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		memset(shared, v, len);
		v++;
	}
	return NULL;
}

static void *aligned(size_t n)
{
	void *p;

	if (posix_memalign(&p, 4096, n)) {
		perror("racing-read: posix_memalign");
		exit(2);
	}
	return p;
}

static int read_full(int fd, void *buf, size_t n, off_t off, const char *what)
{
	ssize_t r = pread(fd, buf, n, off);

	if (r != (ssize_t)n) {
		fprintf(stderr, "racing-read: read of %s at %lld: %s\n", what, (long long)off,
			r < 0 ? strerror(errno) : "short read");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char *mine, *disk;
	long long offset, count, i, bad = 0;
	pthread_t thread;
	int fd, dfd;

	if (argc != 6) {
		fprintf(stderr, "usage: racing-read DEV DISK OFFSET COUNT LEN\n");
		return 2;
	}
	offset = atoll(argv[3]);
	count = atoll(argv[4]);
	len = strtoul(argv[5], NULL, 0);
	if (offset < 0 || count <= 0 || !len || len % 4096 || offset % 4096) {
		fprintf(stderr, "racing-read: OFFSET and LEN must be 4 KiB multiples, COUNT > 0\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	dfd = open(argv[2], O_RDONLY | O_DIRECT);
	if (fd < 0 || dfd < 0) {
		perror("racing-read: open");
		return 2;
	}
	shared = aligned(len);
	mine = aligned(len);
	disk = aligned(len);

	memset(shared, 0, len);
	if (pthread_create(&thread, NULL, scribble, NULL)) {
		fprintf(stderr, "racing-read: pthread_create failed\n");
		return 2;
	}
	for (i = 0; i < count; i++)
		if (read_full(fd, shared, len, offset + i * (off_t)len, argv[1]))
			break;
	atomic_store(&stop, 1);
	pthread_join(thread, NULL);
	if (i < count)
		return 2;

	for (i = 0; i < count; i++) {
		off_t off = offset + i * (off_t)len;

		if (read_full(fd, mine, len, off, argv[1]) || read_full(dfd, disk, len, off, argv[2]))
			return 2;
		if (memcmp(mine, disk, len)) {
			if (bad++ < 5)
				printf("racing-read: %s at %lld differs from %s\n", argv[1],
				       (long long)off, argv[2]);
		}
	}
	printf("racing-read: %lld of %lld ranges differ from the disk\n", bad, count);
	return bad ? 1 : 0;
}
