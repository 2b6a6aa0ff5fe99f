// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs
#if canImport(Glibc)
import Glibc
#endif

/// The udev event's properties, which udev passes to programs as environment variables.
func processEnvironment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return env
}

extension PcacheCtl {
    struct Probe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tell what a block device is to pcache (for udev's IMPORT{program}).",
            discussion: """
                Prints PCACHE_ROLE=cache_dev for a pmem device with a valid pcache superblock (plus \
                PCACHE_CACHE_UUID, and ID_FS_TYPE=pcache when blkid found nothing), damaged_cache_dev when only the \
                magic is there, backing_dev for a disk named in the configuration, cached_dev for /dev/pcacheN; \
                PCACHE_NAME is the configuration section. Prints nothing for other devices. Reads only; safe in \
                udev rules.

                EXAMPLES:
                  pcachectl probe --udev /dev/pmem0
                  pcachectl probe /dev/vda
                """)

        @Flag(help: "Print udev KEY=value lines.") var udev = false
        @Argument(help: "The device node.") var device: String
        @OptionGroup var configOptions: ConfigOptions
        @OptionGroup var output: JSONOption

        func run() throws {
            try runControl("probe") {
                let config: PcacheConfig?
                do { config = try configOptions.load() } catch let e as LifecycleError where e.code == .notFound {
                    config = nil
                }
                let probe = try DeviceProbe(node: device, config: config, tree: controlTree,
                                            environment: processEnvironment())
                if output.json {
                    print(JSON.document([("device", .string(device)), ("role", .optional(probe.role?.rawValue)),
                                         ("properties", .object(probe.properties.map { ($0.0, JSON.string($0.1)) })),
                                         ("sections", .array(probe.sections.map { .string($0) }))]).render())
                } else if udev {
                    for (key, value) in probe.properties { print("\(key)=\(udevEscape(value))") }
                } else if let role = probe.role {
                    print("\(device): \(role.rawValue)")
                    for (key, value) in probe.properties where key.hasPrefix("PCACHE_") && key != "PCACHE_ROLE" {
                        print("  \(key.dropFirst("PCACHE_".count).lowercased()): \(value)")
                    }
                } else {
                    print("\(device): not a pcache device")
                }
            }
        }
    }
}

/// udev IMPORT values end at the newline; keep them on one line and printable.
func udevEscape(_ value: String) -> String {
    String(value.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
}
