#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""cache_ackcheck.py DEV ACKS

Checks the power-cut invariant: for every block listed in ACKS (lines
"<block> <seq>", the acknowledged writes of earlier boots), DEV holds either
the content of its last acknowledged write or that of a later write (a
higher seq; written but not acknowledged before the cut), and the block is
whole (the same line repeated, naming this block). Prints one line per bad
block and a summary; exits 1 if any block is bad."""
import mmap
import os
import re
import sys

BS = 4096
LINE = re.compile(rb"PCK b=(\d{8}) s=(\d{12}) *\n")


def main():
    dev, acks = sys.argv[1], sys.argv[2]
    last = {}
    with open(acks) as f:
        for ln in f:
            b, s = map(int, ln.split())
            last[b] = max(s, last.get(b, -1))
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    bad = newer = 0
    for b in sorted(last):
        os.preadv(fd, [buf], b * BS)
        data = bytes(buf)
        m = LINE.match(data)
        why = None
        if not m or len(m.group(0)) != 32 or data != m.group(0) * (BS // 32):
            why = "not a whole written block: %r" % data[:40]
        elif int(m.group(1)) != b:
            why = "holds block %d" % int(m.group(1))
        elif int(m.group(2)) < last[b]:
            why = "holds seq %d, older than the acknowledged %d" % (int(m.group(2)), last[b])
        elif int(m.group(2)) > last[b]:
            newer += 1
        if why:
            bad += 1
            print("BAD block %d (acked seq %d): %s" % (b, last[b], why))
    print("CHECK blocks=%d bad=%d newer=%d" % (len(last), bad, newer))
    sys.exit(1 if bad else 0)


main()
