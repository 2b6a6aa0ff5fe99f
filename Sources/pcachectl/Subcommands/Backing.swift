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
                --cache-size (rounded up to 16 MiB segments, at least 4); later starts reuse the record and replay its \
                cached data, clean and dirty: after a stop, a module reload, a reboot or a crash the cache is warm \
                (only a stop with --flush leaves it empty). Waits for /dev/pcacheN (udev monitor, or polling /dev \
                without udevd).

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
            abstract: "Stop a backing device, keeping its cache (clean and dirty) for the next start.",
            discussion: """
                Refuses while /dev/pcacheN is mounted, held by another device or open by a process, naming who.

                By default the stop is quick and writes nothing back: the cache's last keys are persisted, \
                /dev/pcacheN goes away and the record is marked 'cached'. The next 'backing start' of the disk \
                (after a module reload or a reboot too) replays the cache and finds it warm. Until then the disk \
                alone is NOT current (it lacks the dirty data): do not mount or copy it without the cache.

                --flush hands the disk back: every dirty block is written back while /dev/pcacheN still exists \
                (closed to new opens), with progress (bytes left, rate, ETA; a bar on a terminal, JSON lines \
                with --json), then the cache is released and the disk alone is current. Ctrl-C, or writeback \
                making no progress for stall_timeout_s, ends the flush: /dev/pcacheN keeps running with its \
                data, and the flush can be run again.

                EXAMPLES:
                  pcachectl backing stop /dev/pcache0
                  pcachectl backing stop cache_dev0/backing_dev0
                  pcachectl backing stop --flush /dev/pcache0
                  pcachectl backing stop --flush --json /dev/vda
                  pcachectl backing stop --all        # what pcache.service runs at shutdown
                """)

        @Argument(help: "/dev/pcacheN, pcacheN, cache_devN/backing_devM or the backing disk's path.") var backing: String?
        @Flag(help: "Stop every started backing device (keeping the caches); each failure is reported, the others still stop.")
        var all = false
        @Flag(help: "Write all dirty data back and release the cache, so that the disk alone is current.")
        var flush = false
        @Flag(help: .hidden) var force = false
        @Option(help: "Seconds between progress samples with --flush.") var interval: Double = 0.5
        @OptionGroup var output: JSONOption

        func validate() throws {
            guard interval >= 0.05, interval <= 60 else { throw ValidationError("--interval must be 0.05...60 seconds") }
            if all == (backing != nil) {
                throw ValidationError(all ? "--all takes no device" : "name a backing device, or --all")
            }
            if all && flush { throw ValidationError("--all does not flush: stop with --flush one device at a time") }
            if flush && force {
                throw ValidationError("--flush and --force contradict each other (--force, from before format 3, keeps the cache as a plain stop does)")
            }
        }

        func run() throws {
            if all { return try stopAll() }
            let backing = self.backing!
            try runControl("backing stop") {
                let started = monotonic()
                var sampler: ProgressSampler?
                if flush { catchInterrupts() }
                let ops = Operations(tree: controlTree)
                let stopped: BackingDevice
                do {
                    stopped = try ops.stopBacking(backing, flush: flush) { device in
                        guard flush else { return }
                        sampler = ProgressSampler(tree: controlTree, device: device, interval: interval,
                                                  json: output.json, bar: stderrIsTerminal && !output.json)
                    }
                } catch let error as SysfsError where flush && error.errno == .interrupted {
                    let left = sampler?.finish()
                    let name = sampler?.device.deviceName ?? backing
                    throw LifecycleError(.timeout, "interrupted: \(left.map { formatBytes($0) + " still dirty" } ?? "dirty data left"); \(name) keeps running with its data, run the flush again to finish it")
                } catch {
                    _ = sampler?.finish()
                    throw error
                }
                _ = sampler?.finish()
                let seconds = monotonic() - started
                if output.json {
                    print(JSON.document([("event", .string("stopped")), ("device", .string(stopped.deviceName)),
                                         ("backing", .string("\(stopped.cache)/\(stopped.id)")), ("path", .string(stopped.path)),
                                         ("cache_kept", .bool(!flush)), ("disk_current", .bool(flush)),
                                         ("seconds", .double(seconds))]).render(pretty: false))
                } else {
                    print("stopped \(stopped.deviceName) (\(stopped.path) on \(stopped.cache)/\(stopped.id))"
                          + (flush ? ": everything written back, cache released; the disk alone is current"
                                   : ": cache kept for the next start; the disk alone is not current (use --flush to hand it back)"))
                }
            }
        }

        /// Every started backing device, the fast way; the first failure's status is the exit status.
        func stopAll() throws {
            try runControl("backing stop") {
                let tree = controlTree
                guard tree.isModuleLoaded else { return }
                let ops = Operations(tree: tree)
                var firstError: (any Error)?
                for device in try tree.snapshot().flatMap(\.backing) {
                    do {
                        let stopped = try ops.stopBacking("\(device.cache)/\(device.id)")
                        print("stopped \(stopped.deviceName) (\(stopped.path) on \(stopped.cache)/\(stopped.id)): cache kept")
                    } catch {
                        printError("pcachectl: backing stop: \(device.deviceName): \(error)")
                        if firstError == nil { firstError = error }
                    }
                }
                if let firstError { throw firstError }
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
