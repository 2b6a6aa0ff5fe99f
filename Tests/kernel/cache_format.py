#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Minimal pcache formatter for the cache engine suites (03x), used only when
the tool's own `pcachectl format` is not built: writes both superblock copies
per pcache_format.h and clears the backing records."""
import os
import struct
import sys
import time
import uuid

PCACHE_MAGIC = 0x3130454843414350
SEED = 0x3B15A
SEG_SIZE = 16777216
SEGMENTS_OFF = 1048576


def crc32c(crc, data):
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


assert crc32c(0xFFFFFFFF, b"123456789") == 0x1CF96D7C


def main():
    dev = sys.argv[1]
    fd = os.open(dev, os.O_RDWR)
    size = os.lseek(fd, 0, os.SEEK_END) // 4096 * 4096
    seg_num = (size - SEGMENTS_OFF) // SEG_SIZE
    body = struct.pack("<HHQIIIIIIQQQ16s32s16s", 1, 0, PCACHE_MAGIC, 0, 0, 0,
                       seg_num, SEG_SIZE, 64, SEGMENTS_OFF, size, int(time.time()),
                       uuid.uuid4().bytes, b"cache-engine-test", b"")
    sb = struct.pack("<I", crc32c(SEED, body)) + body
    assert len(sb) == 128
    os.pwrite(fd, bytes(SEGMENTS_OFF - 4096), 4096)
    os.pwrite(fd, sb, 4096)
    os.pwrite(fd, sb, 8192)
    os.fsync(fd)
    os.close(fd)


main()
