// SPDX-License-Identifier: Apache-2.0
import PcacheSysfs
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Brings the kernel to a declared configuration: registers the caches it names (found by superblock uuid),
/// starts their backing devices (checked by identity), sets tunables and keeps /dev/pcache/by-name links.
/// Idempotent: what is already in place is left alone.
public struct Applier {
    public var tree: SysfsTree
    public var operations: Operations
    /// Don't change anything; report what would be done.
    public var dryRun: Bool
    /// Skip entries whose devices are absent instead of reporting them as failures (autostart).
    public var onlyAvailable: Bool
    /// Limit to these section names (a backing entry pulls in its cache).
    public var only: Set<String>?

    public init(tree: SysfsTree = .system, dryRun: Bool = false, onlyAvailable: Bool = false, only: Set<String>? = nil,
                deviceTimeout: Double = 10) {
        self.tree = tree
        self.operations = Operations(tree: tree, deviceTimeout: deviceTimeout)
        self.dryRun = dryRun
        self.onlyAvailable = onlyAvailable
        self.only = only
    }

    /// One line of the report.
    public struct Step: Sendable, Codable {
        public enum Outcome: String, Sendable, Codable {
            case unchanged, changed, wouldChange = "would_change", skipped, failed
        }
        /// "cache fast" or "backing data".
        public var object: String
        public var outcome: Outcome
        public var detail: String
        /// The error's code when failed (see pcachectl exit codes).
        public var error: String?

        public init(object: String, outcome: Outcome, detail: String, error: String? = nil) {
            self.object = object
            self.outcome = outcome
            self.detail = detail
            self.error = error
        }
    }

    /// Where a configured cache's pmem device is, if anywhere.
    public func locate(cache: PcacheConfig.Cache) -> String? {
        var candidates: [String] = []
        if let hint = cache.device { candidates.append(hint) }
        for name in directoryEntries(tree.root.appending("sys/block")) {
            let dax = (try? tree.readLine(tree.blockDirectory(name: name).appending("queue/dax"))) == "1"
            if dax || name.hasPrefix("pmem") { candidates.append("/dev/\(name)") }
        }
        for candidate in candidates {
            if case .pcache(let sb)? = try? SuperblockReader.read(candidate), sb.uuid.lowercased() == cache.uuid {
                return candidate
            }
        }
        return nil
    }

    public func apply(_ config: PcacheConfig) throws -> [Step] {
        try tree.requireModule()
        var steps: [Step] = []
        let wantedBackings = config.backings.filter { only == nil || only!.contains($0.name) || only!.contains($0.cache) }
        let wantedCacheNames = Set(wantedBackings.map(\.cache)).union(
            config.caches.map(\.name).filter { only == nil || only!.contains($0) })
        var cacheIDs: [String: CacheID] = [:]

        for cache in config.caches where wantedCacheNames.contains(cache.name) {
            let object = "cache \(cache.name)"
            if let id = try? tree.findCache(cache.uuid) {
                cacheIDs[cache.name] = id
                steps.append(Step(object: object, outcome: .unchanged, detail: "registered as \(id)"))
                continue
            }
            guard let path = locate(cache: cache) else {
                steps.append(Step(object: object, outcome: onlyAvailable ? .skipped : .failed,
                                  detail: "no pmem device carries superblock uuid \(cache.uuid)",
                                  error: onlyAvailable ? nil : LifecycleError.Code.notFound.rawValue))
                continue
            }
            if dryRun {
                steps.append(Step(object: object, outcome: .wouldChange, detail: "would register \(path)"))
                continue
            }
            do {
                let registered = try operations.registerCache(path: path, force: false)
                cacheIDs[cache.name] = registered.id
                steps.append(Step(object: object, outcome: .changed, detail: "registered \(path) as \(registered.id)"))
            } catch {
                steps.append(Step(object: object, outcome: .failed, detail: "\(error)", error: errorCode(error)))
            }
        }

        for backing in wantedBackings {
            let object = "backing \(backing.name)"
            guard let cacheID = cacheIDs[backing.cache] else {
                let dry = dryRun && steps.contains { $0.object == "cache \(backing.cache)" && $0.outcome == .wouldChange }
                steps.append(Step(object: object, outcome: dry ? .wouldChange : (onlyAvailable ? .skipped : .failed),
                                  detail: dry ? "would start \(backing.device) after registering cache \(backing.cache)"
                                      : "cache \(backing.cache) is not registered",
                                  error: dry || onlyAvailable ? nil : LifecycleError.Code.notFound.rawValue))
                continue
            }
            do {
                if let running = try tree.cacheDevice(cacheID).backing.first(where: { $0.path == backing.device.string }) {
                    try link(backing.name, to: running.mappedID)
                    if let gc = backing.gcPercent, gc.value != running.gcPercent {
                        if dryRun {
                            steps.append(Step(object: object, outcome: .wouldChange,
                                              detail: "would set gc_percent \(running.gcPercent) -> \(gc.value)"))
                        } else {
                            try tree.setGCPercent(gc, of: running.id, in: cacheID)
                            steps.append(Step(object: object, outcome: .changed,
                                              detail: "\(running.deviceName): gc_percent \(running.gcPercent) -> \(gc.value)"))
                        }
                    } else {
                        steps.append(Step(object: object, outcome: .unchanged, detail: "running as \(running.deviceName)"))
                    }
                    continue
                }
                var st = stat()
                guard stat(backing.device.string, &st) == 0 else {
                    steps.append(Step(object: object, outcome: onlyAvailable ? .skipped : .failed,
                                      detail: "\(backing.device) is not present",
                                      error: onlyAvailable ? nil : LifecycleError.Code.notFound.rawValue))
                    continue
                }
                let identity = try? DeviceInventory.identity(of: backing.device.string)
                if let wanted = backing.ident, let found = identity?.ident, wanted != found {
                    steps.append(Step(object: object, outcome: .failed,
                                      detail: "\(backing.device) is \(found), but the configuration expects \(wanted); refusing to start a different disk",
                                      error: LifecycleError.Code.badData.rawValue))
                    continue
                }
                if dryRun {
                    steps.append(Step(object: object, outcome: .wouldChange,
                                      detail: "would start \(backing.device) on \(cacheID)"))
                    continue
                }
                let result = try operations.startBacking(cache: cacheID.name, device: backing.device.string,
                                                         cacheSize: backing.cacheSize, queues: backing.queues,
                                                         dataCRC: backing.dataCRC, ident: backing.ident, force: false)
                if let gc = backing.gcPercent, gc.value != result.backing.gcPercent {
                    try tree.setGCPercent(gc, of: result.backing.id, in: cacheID)
                }
                try link(backing.name, to: result.backing.mappedID)
                steps.append(Step(object: object, outcome: .changed,
                                  detail: "started \(backing.device) as \(result.deviceNode)"))
            } catch {
                steps.append(Step(object: object, outcome: .failed, detail: "\(error)", error: errorCode(error)))
            }
        }
        return steps
    }

    /// /dev/pcache/by-name/NAME -> ../../pcacheN, replaced when stale. udev's rule makes the same link when
    /// udevd runs; doing it here covers systems without udevd.
    func link(_ name: String, to mappedID: UInt32) throws {
        // With udevd running, 69-pcache.rules owns the link (and a second writer would race it).
        guard !dryRun, !UdevContext.isDaemonRunning || tree.root != "/" else { return }
        let dir = tree.root.appending("dev/pcache/by-name")
        _ = tree.root.appending("dev/pcache").withPlatformString { mkdir($0, 0o755) }
        _ = dir.withPlatformString { mkdir($0, 0o755) }
        let link = dir.appending(name)
        let target = "../../pcache\(mappedID)"
        var buffer = [CChar](repeating: 0, count: 256)
        let n = link.withPlatformString { readlink($0, &buffer, 255) }
        if n > 0, String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == target { return }
        _ = link.withPlatformString { unlink($0) }
        guard link.withPlatformString({ symlink(target, $0) }) == 0 else {
            throw LifecycleError(.io, "cannot create \(link)", errno: Errno(rawValue: errno))
        }
    }
}

/// The snake_case code of a library error, for reports.
public func errorCode(_ error: any Error) -> String {
    switch error {
    case let e as SysfsError: e.code.rawValue
    case let e as LifecycleError: e.code.rawValue
    default: "error"
    }
}
