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
                it needs root). Disks show the identity 'backing start' records: wwn-..., else serial-....

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
                if output.json {
                    let pmem: [JSON] = inventory.pmem.map { d in
                        let (state, sb) = superblock(d.node)
                        return .object([("node", .string(d.node)), ("size", .int(d.sizeBytes)), ("dax", .bool(d.dax)),
                                        ("superblock", .string(state)), ("uuid", .optional(sb?.uuid)),
                                        ("label", .optional(sb?.label))])
                    }
                    let disks: [JSON] = inventory.disks.map { d in
                        .object([("node", .string(d.node)), ("size", .int(d.sizeBytes)), ("wwn", .optional(d.wwn)),
                                 ("serial", .optional(d.serial)), ("ident", .optional(d.ident?.string)),
                                 ("fs_type", .optional(d.fsType)), ("fs_uuid", .optional(d.fsUUID))])
                    }
                    print(JSON.document([("pmem", .array(pmem)), ("disks", .array(disks))]).render())
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
                for d in inventory.disks {
                    let fs = d.fsType.map { " \($0)" + (d.fsUUID.map { " \($0)" } ?? "") } ?? ""
                    print("  \(d.node) \(formatBytes(d.sizeBytes)) ident \(d.ident?.string ?? "(none)")\(fs)")
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
