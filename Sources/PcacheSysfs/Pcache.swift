// SPDX-License-Identifier: Apache-2.0
import SystemPackage

/// A registered cache device as the kernel shows it.
public struct CacheDevice: Sendable, Equatable {
    public var id: CacheID
    /// The pmem device path. The corresponding sysfs attribute is `path`.
    public var path: String
    public var info: CacheInfo
    public var backing: [BackingDevice]
}

/// A backing device record as the kernel shows it.
public struct BackingDevice: Sendable, Equatable {
    public var cache: CacheID
    public var id: BackingID
    /// The corresponding sysfs attribute is `path`.
    public var path: String
    /// N of /dev/pcacheN. The corresponding sysfs attribute is `mapped_id`.
    public var mappedID: UInt32
    /// The corresponding sysfs attribute is `cache_segs`.
    public var cacheSegs: UInt64
    /// The corresponding sysfs attribute is `cache_used_segs`.
    public var cacheUsedSegs: UInt64
    /// The corresponding sysfs attribute is `cache_gc_percent`.
    public var gcPercent: UInt64
    /// The corresponding sysfs attribute is `ident`; empty when none was recorded.
    public var ident: String
    /// The corresponding sysfs attribute is `data_crc`.
    public var dataCRC: Bool
    /// The corresponding sysfs attribute is `stats`.
    public var stats: BackingStats

    /// "/dev/pcacheN" on the live system.
    public var deviceName: String { "/dev/pcache\(mappedID)" }

    public init(cache: CacheID, id: BackingID, path: String, mappedID: UInt32, cacheSegs: UInt64, cacheUsedSegs: UInt64,
                gcPercent: UInt64, ident: String, dataCRC: Bool, stats: BackingStats) {
        self.cache = cache; self.id = id; self.path = path; self.mappedID = mappedID; self.cacheSegs = cacheSegs
        self.cacheUsedSegs = cacheUsedSegs; self.gcPercent = gcPercent; self.ident = ident; self.dataCRC = dataCRC
        self.stats = stats
    }
}

extension SysfsTree {
    /// Registered cache devices, by id.
    public func cacheIDs() throws -> [CacheID] {
        try requireModule()
        return directoryEntries(devices).compactMap { $0.hasPrefix("cache_dev") ? CacheID(parsing: $0) : nil }.sorted()
    }

    /// Backing records of a cache device, by id.
    public func backingIDs(of cache: CacheID) throws -> [BackingID] {
        let dir = cacheDirectory(cache)
        guard isDirectory(dir) else {
            try requireModule()
            throw SysfsError(code: .notFound, path: dir, errno: .noSuchFileOrDirectory,
                             message: "no cache device \(cache)")
        }
        return directoryEntries(dir).compactMap { $0.hasPrefix("backing_dev") ? BackingID(parsing: $0) : nil }.sorted()
    }

    /// Reads one cache device and all its backing devices.
    public func cacheDevice(_ id: CacheID) throws -> CacheDevice {
        let backingIDs = try backingIDs(of: id)
        let infoPath = path(.info, of: id)
        return CacheDevice(id: id, path: try readLine(path(.path, of: id)),
                           info: try CacheInfo(parsing: try read(infoPath), path: infoPath),
                           backing: try backingIDs.map { try backingDevice($0, in: id) })
    }

    /// Reads one backing device record.
    public func backingDevice(_ id: BackingID, in cache: CacheID) throws -> BackingDevice {
        func p(_ a: BackingAttribute) -> FilePath { path(a, of: id, in: cache) }
        let mapped = try readNumber(p(.mappedID), range: BackingAttribute.mappedID.range)
        let statsPath = p(.stats)
        return BackingDevice(cache: cache, id: id, path: try readLine(p(.path)), mappedID: UInt32(mapped),
                             cacheSegs: try readNumber(p(.cacheSegs), range: BackingAttribute.cacheSegs.range),
                             cacheUsedSegs: try readNumber(p(.cacheUsedSegs), range: BackingAttribute.cacheUsedSegs.range),
                             gcPercent: try readNumber(p(.cacheGCPercent), range: BackingAttribute.cacheGCPercent.range),
                             ident: try readLine(p(.ident)),
                             dataCRC: try readNumber(p(.dataCRC), range: BackingAttribute.dataCRC.range) == 1,
                             stats: try BackingStats(parsing: try read(statsPath), path: statsPath))
    }

    /// Every cache device with its backing devices.
    public func snapshot() throws -> [CacheDevice] { try cacheIDs().map { try cacheDevice($0) } }

    /// Finds the backing device behind "/dev/pcacheN", "pcacheN", "cache_dev0/backing_dev1" or a backing disk path.
    public func findBacking(_ name: String) throws -> BackingDevice {
        let caches = try snapshot()
        let all = caches.flatMap(\.backing)
        var wanted = name
        if wanted.hasPrefix("/dev/pcache") { wanted = String(wanted.dropFirst("/dev/".count)) }
        if wanted.hasPrefix("pcache"), let n = parseDecimal(wanted.dropFirst("pcache".count)),
           let hit = all.first(where: { UInt64($0.mappedID) == n }) { return hit }
        let parts = wanted.split(separator: "/")
        if parts.count == 2, let c = CacheID(parsing: String(parts[0])), let b = BackingID(parsing: String(parts[1])),
           let hit = all.first(where: { $0.cache == c && $0.id == b }) { return hit }
        if let hit = all.first(where: { $0.path == name }) { return hit }
        throw SysfsError(code: .notFound, path: devices,
                         message: "no backing device '\(name)' (expected /dev/pcacheN, pcacheN, cache_devN/backing_devM or a backing disk path)")
    }

    /// Finds a cache device by "cache_devN", "N", its pmem path or its uuid.
    public func findCache(_ name: String) throws -> CacheID {
        if let id = CacheID(parsing: name) {
            guard isDirectory(cacheDirectory(id)) else {
                try requireModule()
                throw SysfsError(code: .notFound, path: cacheDirectory(id), message: "no cache device \(id)")
            }
            return id
        }
        for id in try cacheIDs() {
            if (try? readLine(path(.path, of: id))) == name { return id }
            if let info = try? CacheInfo(parsing: try read(path(.info, of: id))), info.uuid.lowercased() == name.lowercased() {
                return id
            }
        }
        throw SysfsError(code: .notFound, path: devices,
                         message: "no cache device '\(name)' (expected cache_devN, a pmem path or a superblock uuid)")
    }

    // MARK: - Writes

    /// Registers a formatted pmem device and returns its new id.
    ///
    /// The corresponding sysfs attribute is `/sys/bus/pcache/cache_dev_register`.
    @discardableResult
    public func register(_ request: RegisterRequest) throws -> CacheID {
        let before = Set(try cacheIDs())
        try write(request.optionString, to: registerFile, action: "register \(request.path)")
        let after = try cacheIDs()
        if let id = after.first(where: { !before.contains($0) }) { return id }
        for id in after where (try? readLine(path(.path, of: id))) == request.path.string { return id }
        throw SysfsError(code: .io, path: devices, message: "registered \(request.path) but no new cache_dev appeared")
    }

    /// The corresponding sysfs attribute is `/sys/bus/pcache/cache_dev_unregister`.
    public func unregister(_ request: UnregisterRequest) throws {
        try write(request.optionString, to: unregisterFile, action: "unregister \(request.cache)")
    }

    /// Starts a backing device and returns its record as the kernel shows it afterwards.
    ///
    /// The corresponding sysfs attribute is `cache_devN/adm` (op=backing-start).
    @discardableResult
    public func startBacking(_ request: BackingStartRequest, on cache: CacheID) throws -> BackingDevice {
        try write(request.optionString, to: path(.adm, of: cache), action: "start \(request.path) on \(cache)")
        for id in try backingIDs(of: cache).reversed() {
            if let b = try? backingDevice(id, in: cache), b.path == request.path.string { return b }
        }
        throw SysfsError(code: .io, path: cacheDirectory(cache),
                         message: "started \(request.path) but no backing_dev shows that path")
    }

    /// The corresponding sysfs attribute is `cache_devN/adm` (op=backing-stop).
    public func stopBacking(_ request: BackingStopRequest, on cache: CacheID) throws {
        // a flush waits in the kernel; Ctrl-C must end it (EINTR), not start it again
        try write(request.optionString, to: path(.adm, of: cache), action: "stop \(cache)/\(request.backing)",
                  retryOnInterrupt: !request.flush)
    }

    /// The corresponding sysfs attribute is `cache_gc_percent`.
    public func setGCPercent(_ value: GCPercent, of backing: BackingID, in cache: CacheID) throws {
        try write("\(value.value)", to: path(.cacheGCPercent, of: backing, in: cache),
                  action: "set gc percent of \(cache)/\(backing)")
    }

    /// The version of the loaded module: /sys/module/pcache/version, else srcversion; nil when neither exists.
    public func moduleVersion() -> String? {
        (try? readLine(module.appending("version"))) ?? (try? readLine(module.appending("srcversion")))
    }
}
