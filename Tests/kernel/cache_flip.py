#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""cache_flip.py PCACHE_DEV OFFSET PMEM PMEM_OFFSET TOKEN

Writes one 4 KiB block made of TOKEN repeated to PCACHE_DEV at OFFSET
(O_DIRECT), then at once (before the engine's 1 s kset flush and writeback)
checks that the block sits in PMEM at PMEM_OFFSET and flips one byte of it
there. PMEM_OFFSET "search" scans PMEM for the token instead (slow; by then
writeback may have run). Prints the pmem offset of the flipped byte.
Exit 2 if the block is not found in pmem."""
import mmap
import os
import sys

dev, off, pmem, pmem_off, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
block = (token.encode() * (4096 // len(token) + 1))[:4096]
buf = mmap.mmap(-1, 4096)
buf[:] = block
fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
os.pwritev(fd, [buf], off)
os.close(fd)

pfd = os.open(pmem, os.O_RDWR | os.O_DIRECT)
found = -1
if pmem_off != "search":
    p = int(pmem_off)
    os.preadv(pfd, [buf], p)
    if buf[:] == block:
        found = p
if found < 0:
    chunk = mmap.mmap(-1, 1 << 20)
    size = os.lseek(pfd, 0, os.SEEK_END)
    pos = 0
    while pos < size and found < 0:
        n = os.preadv(pfd, [chunk], pos)
        i = chunk.find(block[:512])
        if i >= 0 and i % 512 == 0:
            found = pos + i
        pos += n
if found < 0:
    sys.exit(2)
flip = found + 1000
base = flip // 4096 * 4096
os.preadv(pfd, [buf], base)
buf[flip - base] ^= 0x5A
os.pwritev(pfd, [buf], base)
os.close(pfd)
print(flip)
