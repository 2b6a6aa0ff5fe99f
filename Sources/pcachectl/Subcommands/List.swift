// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs

extension PcacheCtl {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show cache devices and their backing devices as a tree.",
            discussion: """
                EXAMPLES:
                  pcachectl list
                  pcachectl list --json
                """)

        @OptionGroup var output: JSONOption

        func run() throws {
            try runControl("list") {
                let caches = try controlTree.snapshot()
                // records not started whose cache is kept (or left by a crash): their disks are not current alone
                // (the list needs root; without it nothing is shown for them)
                func kept(_ cache: CacheDevice) -> [BackingRecord] {
                    ((try? controlTree.backingRecords(of: cache.id)) ?? nil)?.filter(\.mayHoldDirtyData) ?? []
                }
                if output.json {
                    print(JSON.document([("caches", .array(caches.map { cache in
                        let base = cache.json(stats: false)
                        guard case .object(var fields) = base else { return base }
                        fields.append(("kept_caches", .array(kept(cache).map { r in
                            .object([("record", .string(r.name)), ("state", .string(r.state.rawValue)),
                                     ("path", .string(r.path)), ("disk_current", .bool(false))])
                        })))
                        return .object(fields)
                    }))]).render())
                    return
                }
                if caches.isEmpty { print("no cache devices registered"); return }
                for cache in caches {
                    let label = cache.info.label.isEmpty ? "" : " label \(cache.info.label)"
                    print("\(cache.id) \(cache.path) uuid \(cache.info.uuid)\(label) "
                          + "(\(cache.info.segUsed)/\(cache.info.segNum) segments used, \(formatBytes(cache.info.devSize)))")
                    let stopped = kept(cache)
                    for (i, b) in cache.backing.enumerated() {
                        let branch = i == cache.backing.count - 1 && stopped.isEmpty ? "└─" : "├─"
                        let ident = b.ident.isEmpty ? "no ident" : "ident \(b.ident)"
                        print("  \(branch) \(b.id) \(b.path) -> \(b.deviceName) "
                              + "(\(b.cacheSegs) segments, gc \(b.gcPercent)%, \(ident)\(b.dataCRC ? ", data crc" : ""))")
                    }
                    for (i, r) in stopped.enumerated() {
                        let branch = i == stopped.count - 1 ? "└─" : "├─"
                        let how = r.state == .cached ? "stopped, cache kept" : "not started after an unclean stop"
                        print("  \(branch) \(r.id) \(r.path) (\(how): replayed at its next start; the disk alone is not current)")
                    }
                }
            }
        }
    }
}
