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
                if output.json {
                    print(JSON.document([("caches", .array(caches.map { $0.json(stats: false) }))]).render())
                    return
                }
                if caches.isEmpty { print("no cache devices registered"); return }
                for cache in caches {
                    let label = cache.info.label.isEmpty ? "" : " label \(cache.info.label)"
                    print("\(cache.id) \(cache.path) uuid \(cache.info.uuid)\(label) "
                          + "(\(cache.info.segUsed)/\(cache.info.segNum) segments used, \(formatBytes(cache.info.devSize)))")
                    for (i, b) in cache.backing.enumerated() {
                        let branch = i == cache.backing.count - 1 ? "└─" : "├─"
                        let ident = b.ident.isEmpty ? "no ident" : "ident \(b.ident)"
                        print("  \(branch) \(b.id) \(b.path) -> \(b.deviceName) "
                              + "(\(b.cacheSegs) segments, gc \(b.gcPercent)%, \(ident)\(b.dataCRC ? ", data crc" : ""))")
                    }
                }
            }
        }
    }
}
