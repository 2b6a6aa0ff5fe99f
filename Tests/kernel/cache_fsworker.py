#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""cache_fsworker.py write DIR FIRST_SEQ SEED | check DIR ACKS

Power-cut filesystem worker for 036-powercut-fs.

write: forever replaces one of 64 files in DIR the way careful programs do:
the new content goes to a temporary file, which is fsynced, renamed over the
name and the directory fsynced. Only then "FACK <name> <seq> <crc>" goes to
the console (crc: crc32 of "<name> <seq>", so a garbled console line is
recognisable). Every fourth operation appends to and fsyncs a log file
instead ("FACK log <seq> <crc>"). File content: a header line
"PCF <name> <seq> <payload crc32> <payload length>" and a payload derived
from (name, seq), 1 KiB to 192 KiB.

check: every name in ACKS ("<name> <seq>" lines, the last acknowledged state
of each) must hold a complete version whose seq is at least the acknowledged
one; the log must hold every acknowledged record, in order, intact. Prints
"FSCHECK files=N log=M bad=K" and exits 1 if K > 0."""
import os
import random
import sys
import zlib


def payload(name, seq, n):
    r = random.Random("%s/%d" % (name, seq))
    return r.randbytes(n)


def content(name, seq, n):
    p = payload(name, seq, n)
    return ("PCF %s %d %08x %d\n" % (name, seq, zlib.crc32(p), n)).encode() + p


def fsync_dir(d):
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def log_record(seq):
    body = "LOG %012d %s" % (seq, "x" * 40)
    return ("%s %08x\n" % (body, zlib.crc32(body.encode()))).encode()


def write(d, seq, seed):
    rnd = random.Random(seed)
    con = os.open("/dev/console", os.O_WRONLY | os.O_NOCTTY)
    logfd = os.open(os.path.join(d, "log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    while True:
        seq += 1
        if seq % 4 == 0:
            os.write(logfd, log_record(seq))
            os.fsync(logfd)
            name = "log"
        else:
            name = "f%02d" % rnd.randrange(64)
            tmp = os.path.join(d, ".tmp-" + name)
            with open(tmp, "wb") as f:
                f.write(content(name, seq, rnd.randint(1, 192) * 1024))
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, os.path.join(d, name))
            fsync_dir(d)
        os.write(con, ("FACK %s %d %08x\n" % (name, seq, zlib.crc32(b"%s %d" % (name.encode(), seq)))).encode())


def check(d, acks):
    want, logseqs, bad = {}, [], 0
    for line in open(acks):
        name, seq = line.split()
        if name == "log":
            logseqs.append(int(seq))
        else:
            want[name] = max(want.get(name, 0), int(seq))
    for name, seq in sorted(want.items()):
        try:
            data = open(os.path.join(d, name), "rb").read()
            head, _, p = data.partition(b"\n")
            _, hname, hseq, hcrc, hlen = head.decode().split()
            ok = (hname == name and int(hseq) >= seq and len(p) == int(hlen)
                  and zlib.crc32(p) == int(hcrc, 16) and p == payload(name, int(hseq), len(p)))
        except (OSError, ValueError, UnicodeDecodeError) as e:
            ok, hseq = False, repr(e)
        if not ok:
            bad += 1
            print("BAD file %s: acknowledged seq %d, found %s" % (name, seq, hseq))
    have = set()
    try:
        for rec in open(os.path.join(d, "log"), "rb").read().split(b"\n"):
            if not rec:
                continue
            body, _, crc = rec.decode(errors="replace").rpartition(" ")
            if body.startswith("LOG ") and "%08x" % zlib.crc32(body.encode()) == crc:
                have.add(int(body.split()[1]))
    except OSError as e:
        print("BAD log: %r" % e)
    for s in logseqs:
        if s not in have:
            bad += 1
            print("BAD log record %d acknowledged but missing" % s)
    print("FSCHECK files=%d log=%d bad=%d" % (len(want), len(logseqs), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(check(sys.argv[2], sys.argv[3]))
