// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs

extension PcacheCtl {
    struct Backing: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start, stop or forget backing devices on a cache device.",
            discussion: """
                EXAMPLES:
                  pcachectl backing start --cache cache_dev0 /dev/vda --cache-size 1G
                  pcachectl backing stop /dev/pcache0
                  pcachectl backing forget cache_dev0/backing_dev1 --discard-dirty-data
                """,
            subcommands: [Start.self, Stop.self, Forget.self])
    }
}

extension PcacheCtl.Backing {
    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a backing device and print its cached device /dev/pcacheN.",
            discussion: """
                Records the disk's identity (WWN, else serial) in the backing record. A disk finds its record by \
                identity, not by name: started under another name (/dev/disk/by-id/..., a renumbered sdX) it reuses \
                its record and replays its cache; a different disk behind a recorded path is refused unless --force \
                is given, which discards that record's cache without writing any of it. The first start needs \
                --cache-size (rounded up to 16 MiB segments, at least 4); later starts reuse the record and, after a \
                crash or an unclean stop, replay its cached data (a clean stop leaves the cache empty). Waits for /dev/pcacheN (udev monitor, or polling /dev without udevd).

                EXAMPLES:
                  pcachectl backing start --cache cache_dev0 /dev/vda --cache-size 1G
                  pcachectl backing start --cache cache_dev0 /dev/disk/by-id/virtio-data --cache-size 512M --queues 2 --data-crc
                  pcachectl backing start --cache cache_dev0 /dev/vda        # restart with the recorded size
                """)

        @Option(help: "The cache device: cache_devN, its pmem path or its uuid.") var cache: String
        @Argument(help: "The backing block device (a /dev path; prefer /dev/disk/by-id/...).") var device: String
        @Option(help: ArgumentHelp("Cache space for this device: 512M, 1G, ... (bare numbers are MiB).", valueName: "size"))
        var cacheSize: String?
        @Option(help: "Hardware queues of /dev/pcacheN, 1...128 (default 1).") var queues: UInt32?
        @Flag(help: "Keep a crc32c of every cached extent and verify it on read.") var dataCrc = false
        @Option(help: ArgumentHelp("Identity to record instead of the disk's WWN/serial.", valueName: "ident"))
        var ident: String?
        @Flag(help: "Start even if the backing record names a different disk (its cached data, dirty data included, is discarded; the disk is not written).")
        var force = false
        @Option(help: "Seconds to wait for /dev/pcacheN.") var timeout: Double = 10
        @OptionGroup var output: JSONOption

        func validate() throws {
            // Checked before anything touches the kernel: exit 64 with the reason.
            do {
                _ = try DevicePath(device)
                _ = try cacheSize.map { try CacheSize(parsing: $0) }
                _ = try ident.map { try DiskIdent($0) }
                _ = try BackingStartRequest(path: DevicePath(device), queues: queues)
            } catch let error as SysfsError {
                throw ValidationError(error.message)
            }
            guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
        }

        func run() throws {
            try runControl("backing start") {
                let tree = controlTree
                let size = try cacheSize.map { try CacheSize(parsing: $0) }
                let identOverride = try ident.map { try DiskIdent($0) }
                let result = try Operations(tree: tree, deviceTimeout: timeout)
                    .startBacking(cache: cache, device: device, cacheSize: size, queues: queues, dataCRC: dataCrc,
                                  ident: identOverride, force: force)
                if output.json {
                    print(JSON.document([("backing", result.backing.json(stats: false)),
                                         ("wait_method", .string(result.waitMethod))]).render())
                } else {
                    print(result.deviceNode)
                    if result.waitMethod.hasPrefix("polling") {
                        printError("pcachectl: backing start: note: no udevd running; waited for \(result.deviceNode) by polling /dev")
                    }
                }
            }
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a backing device (its cached data stays on pmem for the next start).",
            discussion: """
                Refuses while /dev/pcacheN is mounted, held by another device or open by a process, naming who.

                A stop first writes every dirty block back to the disk while /dev/pcacheN still exists (closed \
                to new opens). If the disk fails and writeback makes no progress for stall_timeout_s (30 s by \
                default), or the stop is interrupted (Ctrl-C), it fails and /dev/pcacheN keeps running with its \
                data. --force skips the writeback: the dirty data stays in the cache and is replayed when the \
                disk is started again; it returns promptly even when the disk is dead.

                EXAMPLES:
                  pcachectl backing stop /dev/pcache0
                  pcachectl backing stop cache_dev0/backing_dev0
                  pcachectl backing stop /dev/vda
                  pcachectl backing stop --force /dev/pcache0
                """)

        @Argument(help: "/dev/pcacheN, pcacheN, cache_devN/backing_devM or the backing disk's path.") var backing: String
        @Flag(help: "Do not write dirty data back first: it stays in the cache, for replay at the next start.")
        var force = false

        func run() throws {
            try runControl("backing stop") {
                let stopped = try Operations(tree: controlTree).stopBacking(backing, force: force)
                print("stopped \(stopped.deviceName) (\(stopped.path) on \(stopped.cache)/\(stopped.id))"
                      + (force ? "; dirty data stays in the cache for replay at the next start" : ""))
            }
        }
    }

    struct Forget: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget a backing record that is not started, discarding its cache (dirty data included).",
            discussion: """
                For a record that can never start again (its disk is gone, or its cache cannot be replayed). The \
                kernel releases the record's segments and frees the record: whatever dirty data its cache held, \
                never written to the disk, is lost. Refuses without --discard-dirty-data, and refuses a started \
                record (stop it first). 'pcachectl devices' shows the records and which may hold dirty data.

                EXAMPLES:
                  pcachectl backing forget cache_dev0/backing_dev1 --discard-dirty-data
                  pcachectl backing forget /dev/disk/by-id/wwn-0x5000c500a1b2c3d4 --discard-dirty-data
                """)

        @Argument(help: "cache_devN/backing_devM, or the disk path the record names.") var record: String
        @Flag(help: "Confirm that the record's cached data, dirty data included, is thrown away.")
        var discardDirtyData = false

        func run() throws {
            try runControl("backing forget") {
                let forgotten = try Operations(tree: controlTree).forgetBacking(record, discardDirtyData: discardDirtyData)
                if forgotten.mayHoldDirtyData {
                    printError("pcachectl: backing forget: warning: the cache of \(forgotten.name) may have held dirty data for \(forgotten.path); it is discarded and was not written to the disk")
                }
                print("forgot \(forgotten.name) (\(forgotten.path)\(forgotten.ident.isEmpty ? "" : ", ident \(forgotten.ident)"))")
            }
        }
    }
}
