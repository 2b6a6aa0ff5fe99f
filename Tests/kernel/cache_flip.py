#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""cache_flip.py PCACHE_DEV OFFSET PMEM PMEM_OFFSET TOKEN

Writes one 4 KiB block made of TOKEN repeated to PCACHE_DEV at OFFSET
(O_DIRECT), then at once (before the engine's 1 s kset flush and writeback)
checks that the block sits in PMEM in the 16 MiB from PMEM_OFFSET (else
anywhere in PMEM) and flips one byte of it there. Prints the pmem offset of the flipped byte.
With PCACHE_DEV "-", nothing is written: a block of TOKEN already cached is flipped.
Exit 2 if the block is not found in pmem."""
import mmap
import os
import sys

dev, off, pmem, pmem_off, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
block = (token.encode() * (4096 // len(token) + 1))[:4096]
buf = mmap.mmap(-1, 4096)
buf[:] = block
if dev != "-":
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    os.pwritev(fd, [buf], off)
    os.close(fd)

pfd = os.open(pmem, os.O_RDWR | os.O_DIRECT)
size = os.lseek(pfd, 0, os.SEEK_END)
chunk = mmap.mmap(-1, 1 << 20)


def search(start, end):
    pos = start
    while pos < end:
        n = os.preadv(pfd, [chunk], pos)
        if n <= 0:
            break
        i = chunk.find(block[:512])
        while i >= 0:
            if i % 512 == 0:
                return pos + i
            i = chunk.find(block[:512], i + 1)
        pos += n
    return -1


found = -1
if pmem_off != "search":
    # the data segment the first writes of a new cache go to
    found = search(int(pmem_off), min(size, int(pmem_off) + (16 << 20)))
if found < 0:
    found = search(0, size)
if found < 0:
    sys.exit(2)
flip = found + 1000
base = flip // 4096 * 4096
os.preadv(pfd, [buf], base)
buf[flip - base] ^= 0x5A
os.pwritev(pfd, [buf], base)
os.close(pfd)
print(flip)
