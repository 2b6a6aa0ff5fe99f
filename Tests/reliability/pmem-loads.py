#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""pmem-loads.py FILE...: plain CPU loads from pmem in the engine's C files.

The house rule: pmem is read only with machine-check-safe copies
(copy_mc_to_kernel), so a poisoned line is an I/O error, not a machine check
in kernel mode. Per function, a pointer assigned from a pmem address helper
(cache_data_addr, cache_seg_base, pcache_seg_addr, cache_dev_addr, ->base) is
pmem; a crc, compare, scan or memcpy source over such a pointer (or over a
helper's result directly), or a dereference of it, is reported as
FILE:LINE: text. Exit 1 if anything was found."""
import re
import sys

ADDR = r"(?:cache_data_addr|cache_seg_base|pcache_seg_addr|cache_dev_addr|cache_pos_slot0|cache_seg_gen_slot0|cache_dev_backing_slot0)\s*\("
READERS = r"\b(?:pcache_crc|crc32c|memcmp|memchr_inv|memchr|strncmp|strnlen|memcpy|memmove|crc32)\s*\("
bad = 0
for path in sys.argv[1:]:
    lines = open(path).read().split("\n")
    pmem = set()
    depth = 0
    for no, ln in enumerate(lines, 1):
        code = re.sub(r"//.*|/\*.*?\*/|\"(?:\\.|[^\"\\])*\"", "", ln)
        if depth == 0:
            pmem = set()
        m = re.search(r"(\w+)\s*=\s*[^=;]*" + ADDR, code)
        if m:
            pmem.add(m.group(1))
        m = re.search(r"void\s*\*\s*(\w+)\s*=\s*[^;]*" + ADDR, code)
        if m:
            pmem.add(m.group(1))
        for call in re.finditer(READERS, code):
            args = code[call.end():]
            name = call.group(0).split("(")[0].strip()
            if name in ("memcpy", "memmove"):
                # only the source (second argument) is a load
                parts = args.split(",")
                args = parts[1] if len(parts) > 1 else ""
            elif name == "crc32c":
                parts = args.split(",")
                args = parts[1] if len(parts) > 1 else ""
            if re.search(ADDR, args) or any(re.search(r"\b%s\b" % re.escape(v), args) for v in pmem):
                print("%s:%d: %s" % (path, no, ln.strip()))
                bad += 1
        for v in pmem:
            if re.search(r"\*\s*\(?\s*%s\b(?!\s*=)|\b%s\s*(?:->|\[)" % (v, v), code) and \
                    not re.search(r"\b(?:void|u8|char|struct \w+)\s*\*\s*%s\b" % v, code):
                print("%s:%d: %s" % (path, no, ln.strip()))
                bad += 1
        depth += code.count("{") - code.count("}")
sys.exit(1 if bad else 0)
