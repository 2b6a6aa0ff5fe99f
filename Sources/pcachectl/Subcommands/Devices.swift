// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs

extension PcacheCtl {
    struct Devices: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List pmem devices and candidate backing disks with their identity.",
            discussion: """
                Pmem devices show whether they are DAX-capable and whether they carry a pcache superblock (reading \
                it needs root). Disks show the identity 'backing start' records: wwn-..., else serial-..., and the backing \
                records they belong to (cache_devN/backing_devM, started or not, and whether the cache holds or may \
                hold dirty data); records whose disk is not present are listed last.

                EXAMPLES:
                  pcachectl devices
                  pcachectl devices --json
                """)

        @OptionGroup var output: JSONOption

        func run() throws {
            try runControl("devices") {
                let inventory = try DeviceInventory.scan()
                func superblock(_ node: String) -> (String, SuperblockSummary?) {
                    do {
                        switch try SuperblockReader.read(node) {
                        case .pcache(let sb): return ("pcache", sb)
                        case .foreign: return ("none", nil)
                        case .damaged: return ("damaged", nil)
                        }
                    } catch { return ("unreadable", nil) }
                }
                let tree = controlTree
                let (records, recordProblems) = RecordMembership.allRecords(tree: tree)
                let members = inventory.disks.map { RecordMembership.of($0, records: records, tree: tree) }
                let claimed = Swift.Set(members.flatMap { $0.map(\.record.name) })
                let orphans = records.filter { !claimed.contains($0.name) }
                func recordJSON(_ m: RecordMembership) -> JSON {
                    .object([("record", .string(m.record.name)), ("state", .string(m.record.state.rawValue)),
                             ("started", .bool(m.record.started)), ("device", .optional(m.deviceNode)),
                             ("dirty_bytes", m.dirtyBytes.map { .int($0) } ?? .null),
                             ("may_hold_dirty_data", .bool(m.record.mayHoldDirtyData || (m.dirtyBytes ?? 0) > 0)),
                             ("path", .string(m.record.path)), ("ident", .string(m.record.ident))])
                }
                if output.json {
                    let pmem: [JSON] = inventory.pmem.map { d in
                        let (state, sb) = superblock(d.node)
                        return .object([("node", .string(d.node)), ("size", .int(d.sizeBytes)), ("dax", .bool(d.dax)),
                                        ("superblock", .string(state)), ("uuid", .optional(sb?.uuid)),
                                        ("label", .optional(sb?.label))])
                    }
                    let disks: [JSON] = zip(inventory.disks, members).map { d, m in
                        .object([("node", .string(d.node)), ("size", .int(d.sizeBytes)), ("wwn", .optional(d.wwn)),
                                 ("serial", .optional(d.serial)), ("ident", .optional(d.ident?.string)),
                                 ("fs_type", .optional(d.fsType)), ("fs_uuid", .optional(d.fsUUID)),
                                 ("records", .array(m.map(recordJSON)))])
                    }
                    let unmatched: [JSON] = orphans.map { recordJSON(RecordMembership(record: $0, dirtyBytes: nil, deviceNode: nil)) }
                    print(JSON.document([("pmem", .array(pmem)), ("disks", .array(disks)),
                                         ("records_without_disk", .array(unmatched)),
                                         ("record_problems", .array(recordProblems.map { .string($0) }))]).render())
                    return
                }
                print("pmem devices:")
                if inventory.pmem.isEmpty { print("  (none)") }
                for d in inventory.pmem {
                    let (state, sb) = superblock(d.node)
                    let sbText = sb.map { "pcache uuid \($0.uuid)\($0.label.isEmpty ? "" : " label \($0.label)")" } ?? "superblock: \(state)"
                    print("  \(d.node) \(formatBytes(d.sizeBytes)) \(d.dax ? "dax" : "NO DAX") \(sbText)")
                }
                print("disks:")
                if inventory.disks.isEmpty { print("  (none)") }
                for (d, m) in zip(inventory.disks, members) {
                    let fs = d.fsType.map { " \($0)" + (d.fsUUID.map { " \($0)" } ?? "") } ?? ""
                    print("  \(d.node) \(formatBytes(d.sizeBytes)) ident \(d.ident?.string ?? "(none)")\(fs)")
                    for r in m { print("    record \(r.summary)") }
                }
                // Records that could not be listed may hold dirty data: never let their absence read as
                // "no record".
                for p in recordProblems { print("warning: \(p)") }
                if !orphans.isEmpty {
                    print("records whose disk is not present:")
                    for r in orphans {
                        print("  \(RecordMembership(record: r, dirtyBytes: nil, deviceNode: nil).summary) path \(r.path)\(r.ident.isEmpty ? "" : " ident \(r.ident)")")
                    }
                }
            }
        }
    }

    struct Module: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load the pcache module or show its version.",
            discussion: """
                EXAMPLES:
                  pcachectl module load
                  pcachectl module load --module-path KernelShim/pcache.ko
                  pcachectl module status --json
                """,
            subcommands: [Load.self, ModuleStatus.self])

        struct Load: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Load pcache and its dependencies through libkmod (no-op when loaded).",
                discussion: """
                    EXAMPLES:
                      pcachectl module load
                      PCACHE_MODULE=KernelShim/pcache.ko pcachectl module load
                    """)
            @OptionGroup var module: ModuleOptions

            func run() throws {
                try runControl("module load") {
                    let tree = controlTree
                    if tree.isModuleLoaded {
                        print("pcache is already loaded (\(tree.moduleVersion() ?? "no version"))")
                        return
                    }
                    try module.ensureLoaded(tree: tree)
                }
            }
        }

        struct ModuleStatus: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "status",
                abstract: "Show whether pcache is loaded and its version.",
                discussion: """
                    Exits 69 when the module is not loaded.

                    EXAMPLES:
                      pcachectl module status
                    """)
            @OptionGroup var output: JSONOption

            func run() throws {
                try runControl("module status") {
                    let tree = controlTree
                    let loaded = tree.isModuleLoaded
                    if output.json {
                        print(JSON.document([("loaded", .bool(loaded)), ("version", .optional(tree.moduleVersion()))]).render())
                    } else {
                        print(loaded ? "pcache loaded, version \(tree.moduleVersion() ?? "unknown")" : "pcache is not loaded")
                    }
                    if !loaded { throw ExitCode(ExitStatus.unavailable.rawValue) }
                }
            }
        }
    }
}
