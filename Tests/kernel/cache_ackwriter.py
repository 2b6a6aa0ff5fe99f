#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""cache_ackwriter.py DEV FIRST_SEQ NBLOCKS SEED

Power-cut writer: forever writes 4 KiB blocks (1 block, sometimes a run of
2..16) at random places of the first NBLOCKS blocks of DEV. Every block of a
write with sequence number S holds the 32-byte line "PCK b=<block> s=<S>"
repeated, so a torn or misplaced block is recognisable. Odd writes use
O_DIRECT|O_DSYNC (FUA), even ones O_DIRECT followed by fsync (FLUSH). Only
after the write (and its sync) completed, one line per block goes to the
console: "ACK <block> <seq> <crc32 of '<block> <seq>' in hex>"."""
import mmap
import os
import random
import sys
import zlib

BS = 4096


def line(b, s):
    return ("PCK b=%08d s=%012d" % (b, s)).ljust(31).encode() + b"\n"


def main():
    dev, seq, nblocks, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rnd = random.Random(seed)
    fua = os.open(dev, os.O_RDWR | os.O_DIRECT | os.O_DSYNC)
    plain = os.open(dev, os.O_RDWR | os.O_DIRECT)
    con = os.open("/dev/console", os.O_WRONLY | os.O_NOCTTY)
    buf = mmap.mmap(-1, 16 * BS)
    while True:
        seq += 1
        n = 1 if rnd.random() < 0.8 else rnd.randint(2, 16)
        b = rnd.randrange(0, nblocks - n)
        for i in range(n):
            buf[i * BS:(i + 1) * BS] = line(b + i, seq) * (BS // 32)
        view = memoryview(buf)[:n * BS]
        if seq % 2:
            os.pwritev(fua, [view], b * BS)
        else:
            os.pwritev(plain, [view], b * BS)
            os.fsync(plain)
        view.release()
        out = "".join("ACK %d %d %08x\n" % (b + i, seq, zlib.crc32(b"%d %d" % (b + i, seq)))
                      for i in range(n))
        os.write(con, out.encode())


main()
