#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fills Docs/sessions/admin-guide.template.md with the sessions printed by admin-guide.sh.

usage: fill-guide.py CONSOLE_LOG HEAD.md TAIL.md > Docs/admin-guide.md
Only lines the session script printed ("# " prefixed) are kept; kernel console lines are dropped.
"""
import json, os, re, sys

log, head, tail = sys.argv[1:4]
sessions, name = {}, None
for line in open(log, errors="replace"):
    line = line.rstrip("\r\n")
    m = re.match(r"=== SESSION (\S+)", line)
    if m:
        name = m.group(1)
        sessions[name] = []
    elif name and line.startswith("# "):
        sessions[name].append(line[2:])
    elif name and line == "#":
        sessions[name].append("")

def block(key):
    lines = sessions.get(key)
    if lines is None:
        sys.exit(f"fill-guide: session {key} missing from {log}")
    if key == "status-json":  # keep it readable: cut after the first 45 lines
        lines = lines[:45] + ["..."] if len(lines) > 46 else lines
    return "\n".join(lines)

template = open(os.path.join(os.path.dirname(__file__), "admin-guide.template.md")).read()
body = re.sub(r"\{\{([a-z-]+)\}\}", lambda m: block(m.group(1)), template)
sys.stdout.write(open(head).read().rstrip("\n") + "\n\n" + body.rstrip("\n") + "\n\n" + open(tail).read())
