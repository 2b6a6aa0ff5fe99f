#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# pmem_find.py TOKEN FILE: prints the byte offset of the first occurrence of
# TOKEN in FILE (an NVDIMM image), exit 1 if there is none. Reads in 4 MiB
# chunks: grep -b on a 1 GiB image holding no newline buffers it as one line,
# which took minutes on a host with little free memory.
import sys

token = sys.argv[1].encode()
chunk = 4 << 20
with open(sys.argv[2], "rb") as f:
    base, tail = 0, b""
    while True:
        buf = f.read(chunk)
        if not buf:
            sys.exit(1)
        data = tail + buf
        i = data.find(token)
        if i >= 0:
            print(base - len(tail) + i)
            sys.exit(0)
        base += len(buf)
        tail = data[-(len(token) - 1):] if len(token) > 1 else b""
