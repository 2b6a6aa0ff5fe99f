// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs
#if canImport(Glibc)
import Glibc
#endif

extension PcacheCtl {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show how full, how dirty and how effective each cache is.",
            discussion: """
                For each backing device: cache segments used, dirty bytes not yet written back, hit ratio \
                (hits / (hits + misses)), writeback position (segment and offset) and the kernel's other counters. \
                With --watch the display refreshes until Ctrl-C; with --watch --json one JSON document per line.

                EXAMPLES:
                  pcachectl status
                  pcachectl status /dev/pcache0
                  pcachectl status --json
                  pcachectl status --watch --interval 2
                """)

        @Argument(help: "Limit to a cache device (cache_devN) or a backing device (/dev/pcacheN, ...).") var device: String?
        @Flag(help: "Refresh until interrupted.") var watch = false
        @Option(help: "Seconds between refreshes with --watch.") var interval: Double = 1
        @Option(help: "Stop after this many refreshes with --watch (0 = forever).") var count: Int = 0
        @OptionGroup var output: JSONOption

        func validate() throws {
            guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be 0.1...3600 seconds") }
            guard count >= 0 else { throw ValidationError("--count must not be negative") }
        }

        func run() throws {
            try runControl("status") {
                let tree = controlTree
                if watch { catchInterrupts() }
                var rounds = 0
                repeat {
                    let caches = try select(try tree.snapshot(), tree: tree)
                    if output.json {
                        print(JSON.document([("caches", .array(caches.map { $0.json(stats: true) }))])
                              .render(pretty: !watch))
                    } else {
                        if watch && stderrIsTerminal && isatty(1) == 1 { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                        render(caches)
                    }
                    fflush(nil)
                    rounds += 1
                    if !watch || (count > 0 && rounds >= count) { break }
                    interruptibleSleep(interval)
                } while interruptRequested == 0
            }
        }

        func select(_ caches: [CacheDevice], tree: SysfsTree) throws -> [CacheDevice] {
            guard let device else { return caches }
            if let id = try? tree.findCache(device) { return caches.filter { $0.id == id } }
            let b = try tree.findBacking(device)
            return caches.filter { $0.id == b.cache }.map { var c = $0; c.backing = c.backing.filter { $0.id == b.id }; return c }
        }

        func render(_ caches: [CacheDevice]) {
            if caches.isEmpty { print("no cache devices registered"); return }
            for cache in caches {
                print("\(cache.id) \(cache.path): \(cache.info.segUsed)/\(cache.info.segNum) segments allocated, "
                      + "\(cache.backing.count) backing device\(cache.backing.count == 1 ? "" : "s")")
                for b in cache.backing {
                    let used = b.usedPercent.map { "\(Int($0.rounded()))%" } ?? "-"
                    let dirty = b.stats.dirtyBytes.map(formatBytes) ?? "unknown"
                    let ratio = b.stats.hitRatio.map { "\(Int(($0 * 1000).rounded()) / 10).\(Int(($0 * 1000).rounded()) % 10)%" } ?? "-"
                    print("  \(b.deviceName) (\(b.path))")
                    print("    used       \(b.cacheUsedSegs)/\(b.cacheSegs) segments (\(used)), gc at \(b.gcPercent)%")
                    print("    dirty      \(dirty)")
                    print("    hit ratio  \(ratio) (\(b.stats.hits.map(String.init) ?? "-") hits, \(b.stats.misses.map(String.init) ?? "-") misses)")
                    if let seg = b.stats.writebackSegment, let off = b.stats.writebackOffset {
                        print("    writeback  segment \(seg) offset \(off)")
                    }
                    if b.stats.writebackFailing == true {
                        let err = b.stats.writebackLastError.map { " (last error \(errnoName($0)))" } ?? ""
                        let secs = b.stats.writebackFailingSeconds.map { " for \($0) s" } ?? ""
                        print("    WRITEBACK FAILING\(secs)\(err): dirty data stays in the cache; "
                              + "writes that need space fail after stall_timeout_s")
                    }
                    if let n = b.stats.writeErrors, n > 0 {
                        print("    write errors \(n) (requests failed: cache full while writeback failed)")
                    }
                    let shown: [String] = ["hits", "misses", "dirty_bytes", "writeback_seg", "writeback_off"]
                    let rest = b.stats.counters.filter { !shown.contains($0.name) }
                    if !rest.isEmpty { print("    counters   " + rest.map { "\($0.name)=\($0.value)" }.joined(separator: " ")) }
                    if b.stats.isEmpty { print("    counters   (none reported by the kernel)") }
                }
            }
        }
    }
}

/// "Input/output error, errno 5" for a positive errno from the kernel's stats.
private func errnoName(_ value: UInt64) -> String {
    guard value > 0, value < 4096 else { return "errno \(value)" }
    return "\(String(cString: strerror(Int32(value)))), errno \(value)"
}
