#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Turns one benchmark VM run (fio JSON per configuration and job) into
bench-results.json, Docs/benchmarks.md and Docs/benchmarks.png.

Only ratios measured inside one run are meaningful: the guest runs under
software emulation, so absolute figures say little about real hardware.
"""
import json
import os
import platform
import subprocess
import sys
import time

CONFIGS = ["pmem", "backing", "writecache", "bcache", "pcache"]
LABELS = {"pmem": "raw pmem", "backing": "raw backing disk",
          "writecache": "dm-writecache", "bcache": "bcache (writeback)",
          "pcache": "pcache", "nullmq": "null_blk (blk-mq, stores nothing)"}
# The ceiling: null_blk stores nothing; only the burst write jobs run on it.
CEILING = "nullmq"
CEILING_JOBS = ["burst-randwrite-4k-qd1", "burst-randwrite-4k-2x16"]
# burst-*: a fixed volume into the empty cache (fits every cache); the
# others are 15 s timed runs that write several times the cache size.
JOBS = ["burst-randwrite-4k-qd1", "burst-randwrite-4k-2x16",
        "randwrite-4k-qd1", "randwrite-4k-2x16", "randread-4k-hit",
        "randread-4k-miss", "seqwrite-1m", "mixed-70r30w-4k"]
REGIMES = [("burst", "burst into the empty cache"), ("", "timed 15 s, beyond the cache size")]


def job_figures(path):
    with open(path) as f:
        data = json.load(f)
    job = data["jobs"][0]
    out = {"iops": 0.0, "bw_mib_s": 0.0}
    lat = None
    for d in ("read", "write"):
        part = job.get(d, {})
        if not part.get("io_bytes"):
            continue
        out["iops"] += part["iops"]
        out["bw_mib_s"] += part["bw_bytes"] / 1048576.0
        if lat is None or d == "write":
            lat = part
    if lat is not None:
        clat = lat.get("clat_ns", {})
        pct = clat.get("percentile", {})
        total = lat.get("lat_ns", {})
        out["lat_us"] = {
            "mean": total.get("mean", 0) / 1000.0,
            "stddev": total.get("stddev", 0) / 1000.0,
            "max": total.get("max", 0) / 1000.0,
            "p50": pct.get("50.000000", 0) / 1000.0,
            "p99": pct.get("99.000000", 0) / 1000.0,
            "p99.9": pct.get("99.900000", 0) / 1000.0,
        }
    return out


def ratio(a, b):
    return a / b if a and b else None


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}x"


def main(results_dir, docs_dir, kernel):
    bench = os.path.join(results_dir, "bench")
    res = {"schema_version": 1, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "host": {"machine": platform.machine(), "cpus": os.cpu_count(),
                    "cpu": cpu_model()},
           "guest_kernel": kernel, "emulation": "QEMU TCG (software), 2 vCPUs",
           "configs": {}}
    for c in CONFIGS + [CEILING]:
        d = os.path.join(bench, c)
        if os.path.exists(os.path.join(bench, c + ".skipped")):
            res["configs"][c] = {"skipped": open(os.path.join(bench, c + ".skipped")).read().strip()}
            continue
        res["configs"][c] = {}
        for j in JOBS:
            p = os.path.join(d, j + ".json")
            if os.path.exists(p):
                try:
                    res["configs"][c][j] = job_figures(p)
                except (ValueError, KeyError, IndexError) as e:
                    res["configs"][c][j] = {"error": str(e)}
    costs = read_costs(os.path.join(results_dir, "cost.env"))
    if costs:
        res["costs"] = costs
    res["targets"] = targets(res)
    with open(os.path.join(results_dir, "bench-results.json"), "w") as f:
        json.dump(res, f, indent=2)
    write_markdown(res, os.path.join(docs_dir, "benchmarks.md"))
    write_chart(res, results_dir, os.path.join(docs_dir, "benchmarks.png"))
    return res


def read_costs(path):
    """name=value lines of Tests/bench/bench-cost-guest.sh; numbers as numbers."""
    out = {}
    try:
        for line in open(path):
            k, _, v = line.strip().partition("=")
            if not k:
                continue
            try:
                out[k] = int(v)
            except ValueError:
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
    except OSError:
        pass
    return out


def targets(res):
    """The targets of the benchmark issue, each with its measured ratio and verdict,
    for both write regimes (burst and timed)."""
    rows = []
    def add(name, value, goal, ok):
        rows.append({"target": name, "measured": value, "goal": goal,
                     "met": None if value is None else bool(ok(value))})
    for prefix, regime in REGIMES:
        qd1 = (prefix + "-" if prefix else "") + "randwrite-4k-qd1"
        many = (prefix + "-" if prefix else "") + "randwrite-4k-2x16"
        def lat(c, k):
            v = get(res, c, qd1, "lat_us")
            return v.get(k) if v else None
        add(f"4 KiB random write IOPS (2 jobs x 16) vs dm-writecache, {regime}",
            ratio(get(res, "pcache", many), get(res, "writecache", many)),
            ">= 1.5x", lambda r: r >= 1.5)
        add(f"4 KiB random write IOPS (2 jobs x 16) vs bcache, {regime}",
            ratio(get(res, "pcache", many), get(res, "bcache", many)),
            ">= 4x", lambda r: r >= 4)
        add(f"4 KiB random write mean latency at QD1, pcache / dm-writecache, {regime}",
            ratio(lat("pcache", "mean"), lat("writecache", "mean")), "<= 1.0x", lambda r: r <= 1.0)
        add(f"4 KiB random write p99.9 latency at QD1, bcache / pcache, {regime}",
            ratio(lat("bcache", "p99.9"), lat("pcache", "p99.9")), ">= 5x", lambda r: r >= 5)
    add("4 KiB random read hit IOPS vs raw pmem",
        ratio(get(res, "pcache", "randread-4k-hit"), get(res, "pmem", "randread-4k-hit")),
        ">= 0.7x", lambda r: r >= 0.7)
    mib = res.get("costs", {}).get("index_mib_per_gib")
    rows.append({"target": "index memory per GiB of cache filled with 4 KiB writes (MiB)",
                 "measured": mib, "goal": "<= 32", "met": None if mib is None else mib <= 32})
    return rows


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def get(res, c, j, key="iops"):
    v = res["configs"].get(c, {}).get(j, {})
    return v.get(key) if isinstance(v, dict) else None


def write_markdown(res, path):
    L = []
    L.append("# pcache benchmarks\n")
    L.append("Generated by `make bench` from one VM run; regenerate rather than edit.\n")
    L.append(f"- date: {res['date']}")
    L.append(f"- host: {res['host']['cpu']}, {res['host']['cpus']} cores")
    L.append(f"- guest: Debian kernel {res['guest_kernel']}, {res['emulation']}")
    L.append("- devices: the same 1 GiB emulated NVDIMM (fsdax /dev/pmem0, backed by preallocated host "
             "RAM in /dev/shm) as cache and the same virtio disk (raw file on the host's disk, "
             "cache=none) as backing device for every configuration\n")
    L.append("The guest runs under software emulation: absolute figures mean little, "
             "only ratios inside this one run count.\n")
    L.append("## Throughput (IOPS)\n")
    L.append("| job | " + " | ".join(LABELS[c] for c in CONFIGS) +
             " | pcache / dm-writecache | pcache / bcache | pcache / raw pmem |")
    L.append("|---" * (len(CONFIGS) + 4) + "|")
    for j in JOBS:
        row = [j]
        for c in CONFIGS:
            v = get(res, c, j)
            row.append("-" if v is None else f"{v:,.0f}")
        p = get(res, "pcache", j)
        row += [fmt_ratio(ratio(p, get(res, "writecache", j))),
                fmt_ratio(ratio(p, get(res, "bcache", j))),
                fmt_ratio(ratio(p, get(res, "pmem", j)))]
        L.append("| " + " | ".join(row) + " |")
    L.append("\nburst-*: the first measured jobs, on the freshly set-up (empty) cache, after a "
             "warm-up of 16 MiB of random writes to a range no measured job touches (so that TCG has translated "
             "the configuration's code paths once) and the caches' writeback of it; they stop after a fixed "
             "volume that fits every cache (64 MiB at QD1, then 2 x 96 MiB): a cache absorbing writes. "
             "The other jobs run for 15 s each and write several times the 768 MiB cache: a cache that "
             "writes back what it logged (pcache, bcache) then runs at the speed of its writeback to the "
             "backing disk, while dm-writecache overwrites the 256 MiB working set in place.")
    for prefix, regime in REGIMES:
        job = (prefix + "-" if prefix else "") + "randwrite-4k-qd1"
        L.append(f"\n## 4 KiB random write latency at queue depth 1 (µs), {regime} ({job})\n")
        L.append("| configuration | mean | p50 | p99 | p99.9 | max | stddev |")
        L.append("|---|---|---|---|---|---|---|")
        for c in CONFIGS:
            lat = get(res, c, job, "lat_us")
            if not lat:
                L.append(f"| {LABELS[c]} | - | - | - | - | - | - |")
                continue
            L.append(f"| {LABELS[c]} | {lat['mean']:.1f} | {lat['p50']:.1f} | {lat['p99']:.1f} | "
                     f"{lat['p99.9']:.1f} | {lat['max']:.1f} | {lat['stddev']:.1f} |")
    write_ceilings(res, L)
    skipped = [f"{LABELS[c]}: {v['skipped']}" for c, v in res["configs"].items()
               if isinstance(v, dict) and "skipped" in v]
    if skipped:
        L.append("\n## Skipped configurations\n")
        L += [f"- {s}" for s in skipped]
    L.append("\n![IOPS relative to dm-writecache](benchmarks.png)\n")
    L.append("## Targets\n")
    L.append("| target | goal | measured | met |")
    L.append("|---|---|---|---|")
    for t in res.get("targets", []):
        m = t["measured"]
        shown = "-" if m is None else (f"{m:.2f}x" if "MiB" not in t["target"] else f"{m:.2f}")
        met = "not measured" if t["met"] is None else ("yes" if t["met"] else "**no**")
        L.append(f"| {t['target']} | {t['goal']} | {shown} | {met} |")
    c = res.get("costs")
    if c:
        L.append("\n## Cost figures\n")
        L.append("A 768 MiB pcache in front of a suspended dm-linear view of the backing disk is filled with "
                 "4 KiB random writes (each block once, nothing written back); the VM is then killed "
                 "(power cut), booted again, and the replay (backing-start), a stop that keeps the cache, "
                 "the start after it and a stop with flush=1 (writeback of everything) are timed.\n")
        L.append("| figure | value |")
        L.append("|---|---|")
        rows = [("dirty 4 KiB extents after the fill", "fill_dirty_keys", "{:,}"),
                ("dirty bytes after the fill", "fill_dirty_bytes", "{:,}"),
                ("index entries (pcache_key slab objects)", "key_objects", "{:,}"),
                ("index entry size (bytes)", "key_object_size", "{}"),
                ("index memory: pcache_key slab pages (bytes)", "index_slab_bytes", "{:,}"),
                ("index memory per GiB of cache filled with 4 KiB writes (MiB)", "index_mib_per_gib", "{}"),
                ("replay after the power cut: the backing-start write (ms)", "replay_ms", "{:,}"),
                ("ksets / keys replayed", "replayed_keys", "{:,}"),
                ("dirty bytes found by the replay", "replayed_dirty_bytes", "{:,}"),
                ("replay per GiB of 4 KiB keys (ms)", "replay_ms_per_gib", "{:,}"),
                ("backing-stop keeping the cache, with all of it dirty (ms)", "stop_keep_ms", "{:,}"),
                ("backing-start after that stop, the replay included (ms)", "restart_ms", "{:,}"),
                ("writeback of everything, from the end of that start to the end of the stop with flush=1 (ms)", "writeback_ms", "{:,}"),
                ("writeback throughput (MiB/s)", "writeback_mib_s", "{}"),
                ("raw backing disk, 1 MiB sequential writes (MiB/s), same VM", "backing_seq_write_mib_s", "{}")]
        for label, k, f in rows:
            if k in c:
                L.append(f"| {label} | {f.format(c[k])} |")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def write_ceilings(res, L):
    """What a blk-mq driver that stores nothing reaches here."""
    qd1, many = CEILING_JOBS
    if get(res, CEILING, qd1) is None:
        return
    L.append("\n## The ceiling: a blk-mq disk that stores nothing\n")
    L.append("null_blk completes every request as it arrives and keeps no data. Set up like /dev/pcacheN "
             "(blk-mq, 2 queues of depth 128, blocking), it is the fastest any blk-mq driver can be in this "
             "VM: its ratio to dm-writecache bounds what pcache, a blk-mq disk, can reach against it here. "
             "The same warm-up and burst jobs as above. (dm-writecache is bio-based; null_blk's bio-based "
             "mode is gone in 6.12.)\n")
    L.append("| configuration | burst QD1 IOPS | burst QD1 mean (µs) | burst 2x16 IOPS | "
             "QD1 IOPS / dm-writecache | 2x16 IOPS / dm-writecache |")
    L.append("|---|---|---|---|---|---|")
    for c in [CEILING, "writecache", "pcache"]:
        a, b = get(res, c, qd1), get(res, c, many)
        lat = get(res, c, qd1, "lat_us")
        cells = ["-" if a is None else f"{a:,.0f}", "-" if not lat else f"{lat['mean']:.1f}",
                 "-" if b is None else f"{b:,.0f}",
                 fmt_ratio(ratio(a, get(res, "writecache", qd1))),
                 fmt_ratio(ratio(b, get(res, "writecache", many)))]
        L.append(f"| {LABELS[c]} | " + " | ".join(cells) + " |")
    mq = ratio(get(res, "pcache", many), get(res, CEILING, many))
    if mq is not None:
        L.append(f"\npcache reaches {mq:.2f}x of this ceiling at 2x16 and "
                 f"{fmt_ratio(ratio(get(res, 'pcache', qd1), get(res, CEILING, qd1)))} at QD1.")


def write_chart(res, results_dir, png):
    dat = os.path.join(results_dir, "bench-chart.dat")
    with open(dat, "w") as f:
        f.write("job " + " ".join(CONFIGS) + "\n")
        for j in JOBS:
            base = get(res, "writecache", j)
            vals = []
            for c in CONFIGS:
                v = get(res, c, j)
                vals.append(f"{v / base:.3f}" if v and base else "0")
            f.write(j + " " + " ".join(vals) + "\n")
    script = f"""
set terminal pngcairo size 1100,500 noenhanced
set output '{png}'
set title 'IOPS relative to dm-writecache (one VM run, higher is better)'
set style data histograms
set style histogram cluster gap 1
set style fill solid border -1
set key top left
set xtics rotate by -20
set yrange [0:*]
set grid ytics
plot '{dat}' using 2:xtic(1) title '{LABELS['pmem']}', '' using 3 title '{LABELS['backing']}', \\
     '' using 4 title '{LABELS['writecache']}', '' using 5 title '{LABELS['bcache']}', '' using 6 title '{LABELS['pcache']}'
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report: no chart: {e}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("usage: report.py RESULTS_DIR DOCS_DIR KERNEL_VERSION", file=sys.stderr)
        sys.exit(64)
    r = main(sys.argv[1], sys.argv[2], sys.argv[3])
    for c in CONFIGS:
        print(c, json.dumps({j: round(get(r, c, j) or 0) for j in JOBS}))
