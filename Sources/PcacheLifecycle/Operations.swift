// SPDX-License-Identifier: Apache-2.0
import PcacheSysfs
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Register/start/stop orchestration: validation, in-use checks, identity and waiting around the sysfs writes.
public struct Operations {
    public var tree: SysfsTree
    /// Seconds to wait for /dev/pcacheN after a start.
    public var deviceTimeout: Double

    public init(tree: SysfsTree = .system, deviceTimeout: Double = 10) {
        self.tree = tree
        self.deviceTimeout = deviceTimeout
    }

    /// Checks that a path names an existing block device (symlinks allowed).
    public static func requireBlockDevice(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw LifecycleError(.notFound, "\(path) does not exist", errno: Errno(rawValue: errno))
        }
        guard (st.st_mode & S_IFMT) == S_IFBLK else {
            throw LifecycleError(.invalidInput, "\(path) is not a block device")
        }
    }

    /// Registers a formatted pmem device; the kernel validates the superblock.
    public func registerCache(path: String, force: Bool) throws -> CacheDevice {
        let device = try DevicePath(path, for: tree.registerFile)
        try tree.requireModule()
        try Self.requireBlockDevice(path)
        if let existing = try tree.snapshot().first(where: { $0.path == path }) {
            throw LifecycleError(.busy, "\(path) is already registered as \(existing.id)")
        }
        let id = try tree.register(RegisterRequest(path: device, force: force))
        return try tree.cacheDevice(id)
    }

    /// Unregisters a cache device, refusing while backing devices are attached (naming them).
    public func unregisterCache(_ name: String) throws -> CacheID {
        let id = try tree.findCache(name)
        let cache = try tree.cacheDevice(id)
        if !cache.backing.isEmpty {
            let names = cache.backing.map { "\($0.id) (\($0.path) as \($0.deviceName))" }.joined(separator: ", ")
            throw LifecycleError(.busy, "\(id) still has backing devices: \(names); stop them first with 'pcachectl backing stop'")
        }
        try tree.unregister(UnregisterRequest(cache: id))
        return id
    }

    /// What `startBacking` did.
    public struct StartResult: Sendable {
        public var backing: BackingDevice
        /// Identity read from the disk; nil when udev/sysfs had none.
        public var identity: DiskIdentity?
        /// How we waited for the node ("udev monitor" or "polling ...").
        public var waitMethod: String
        /// /dev/pcacheN.
        public var deviceNode: String
    }

    /// Starts a backing device on a cache device: records the disk's identity, writes `adm`, waits for /dev/pcacheN.
    ///
    /// - Parameter ident: overrides the identity read from the disk (for disks without WWN or serial).
    public func startBacking(cache cacheName: String, device path: String, cacheSize: CacheSize?, queues: UInt32?,
                             dataCRC: Bool, ident: DiskIdent? = nil, force: Bool) throws -> StartResult {
        let cache = try tree.findCache(cacheName)
        let adm = tree.path(.adm, of: cache)
        let devicePath = try DevicePath(path, for: adm)
        try Self.requireBlockDevice(path)
        if let running = try tree.cacheDevice(cache).backing.first(where: { $0.path == path }) {
            throw LifecycleError(.busy, "\(path) is already started as \(running.deviceName) (\(cache)/\(running.id))")
        }
        let identity = try? DeviceInventory.identity(of: path)
        if identity?.name.hasPrefix("pcache") == true || identity?.dax == true {
            throw LifecycleError(.invalidInput, "\(path) is a pmem or pcache device, not a backing disk")
        }
        let request = try BackingStartRequest(path: devicePath, queues: queues, cacheSize: cacheSize, dataCRC: dataCRC,
                                              ident: ident ?? identity?.ident, force: force, for: adm)
        let waiter = DeviceWaiter()
        let backing = try tree.startBacking(request, on: cache)
        try waiter.wait(forBlock: "pcache\(backing.mappedID)", devRoot: tree.root.appending("dev"), timeout: deviceTimeout)
        return StartResult(backing: backing, identity: identity, waitMethod: waiter.method, deviceNode: backing.deviceName)
    }

    /// Stops a backing device, refusing while /dev/pcacheN is mounted, held or open (naming who).
    /// With `force`, the kernel skips writeback: the dirty data stays in the cache for replay at the next start.
    /// Stops a backing device: by default keeping its cache for the next start; with `flush`, writing
    /// everything back first and releasing the cache. `willStop` runs right before the kernel is asked
    /// (a flush's progress display starts there).
    public func stopBacking(_ name: String, flush: Bool = false,
                            willStop: (BackingDevice) -> Void = { _ in }) throws -> BackingDevice {
        let backing = try tree.findBacking(name)
        let users = DeviceUsers.of(blockName: "pcache\(backing.mappedID)", tree: tree)
        if !users.isEmpty {
            throw LifecycleError(.busy, "\(backing.deviceName) is in use: \(users.joined(separator: ", "))")
        }
        willStop(backing)
        do {
            try tree.stopBacking(BackingStopRequest(backing: backing.id, flush: flush), on: backing.cache)
        } catch var error as SysfsError where error.code == .busy {
            let users = DeviceUsers.of(blockName: "pcache\(backing.mappedID)", tree: tree)
            if !users.isEmpty { error.message += " (\(users.joined(separator: ", ")))" }
            throw error
        }
        return backing
    }

    /// Finds a backing record by "cache_devN/backing_devM" or by the disk path it records.
    public func findRecord(_ name: String) throws -> BackingRecord {
        var all: [BackingRecord] = []
        var truncated: [CacheID] = []
        for cache in try tree.cacheIDs() {
            guard let listing = try tree.backingRecordListing(of: cache) else {
                throw LifecycleError(.io, "the loaded pcache module does not list backing records (\(cache)/backing_records missing): load the module that comes with this pcachectl")
            }
            all += listing.records
            if listing.truncated { truncated.append(cache) }
        }
        // A record missing from a list the kernel cut short is not "no record".
        func notFound(_ message: String) -> LifecycleError {
            guard !truncated.isEmpty else { return LifecycleError(.notFound, message) }
            return LifecycleError(.io, message + "; but the kernel's list of backing records of \(truncated.map { "\($0)" }.joined(separator: ", ")) is truncated (one page of text), so pcachectl cannot tell whether it exists")
        }
        let parts = name.split(separator: "/")
        if parts.count == 2, let c = CacheID(parsing: String(parts[0])), let b = BackingID(parsing: String(parts[1])) {
            if let hit = all.first(where: { $0.cache == c && $0.id == b }) { return hit }
            throw notFound("\(c)/\(b) is not a backing record in use")
        }
        let hits = all.filter { $0.path == name }
        if hits.count == 1 { return hits[0] }
        if hits.count > 1 {
            throw LifecycleError(.invalidInput, "\(name) is recorded by \(hits.map(\.name).joined(separator: " and ")): name one as cache_devN/backing_devM")
        }
        throw notFound("no backing record '\(name)' (expected cache_devN/backing_devM or a recorded disk path)")
    }

    /// Forgets a backing record that is not started: the kernel drops its cache, dirty data included.
    ///
    /// - Parameter discardDirtyData: must be true; the caller has made the loss explicit.
    public func forgetBacking(_ name: String, discardDirtyData: Bool) throws -> BackingRecord {
        let record = try findRecord(name)
        if record.started {
            throw LifecycleError(.busy, "\(record.name) (\(record.path)) is started: stop it first ('pcachectl backing stop \(record.name)')")
        }
        guard discardDirtyData else {
            let what = record.mayHoldDirtyData
                ? "its cache may hold dirty data that was never written to \(record.path)"
                : "it holds no cached data"
            throw LifecycleError(.invalidInput, "refusing to forget \(record.name) (\(record.path)) without --discard-dirty-data: \(what), and forgetting it discards that for good")
        }
        try tree.forgetBacking(BackingForgetRequest(backing: record.id), on: record.cache)
        return record
    }
}
