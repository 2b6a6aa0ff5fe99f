// SPDX-License-Identifier: Apache-2.0
import SystemPackage

/// The parsed `info` attribute of a cache device.
///
/// The corresponding sysfs attribute is `cache_devN/info`: "key: value" lines.
public struct CacheInfo: Sendable, Equatable, Codable {
    public var uuid: String
    public var label: String
    public var version: UInt64
    /// Segments on the device.
    public var segNum: UInt64
    /// Segments owned by backing devices.
    public var segUsed: UInt64
    /// Bytes per segment.
    public var segSize: UInt64
    /// Bytes of the device.
    public var devSize: UInt64
    /// Backing records in use.
    public var backingDevs: UInt64

    public init(uuid: String, label: String, version: UInt64, segNum: UInt64, segUsed: UInt64, segSize: UInt64,
                devSize: UInt64, backingDevs: UInt64) {
        self.uuid = uuid; self.label = label; self.version = version; self.segNum = segNum
        self.segUsed = segUsed; self.segSize = segSize; self.devSize = devSize; self.backingDevs = backingDevs
    }

    /// - Throws: `SysfsError.invalidValue` (errno nil) naming the missing or malformed key.
    public init(parsing text: String, path: FilePath = "info") throws {
        var fields: [String: String] = [:]
        let source = text
        for line in source.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else {
                throw SysfsError(code: .io, path: path, message: "info line '\(line)' has no 'key: value' form")
            }
            let key = String(line[..<colon])
            var value = line[line.index(after: colon)...]
            if value.first == " " { value.removeFirst() }
            fields[key] = String(value)
        }
        func field(_ key: String) throws -> String {
            guard let value = fields[key] else {
                throw SysfsError(code: .io, path: path, message: "info has no '\(key)' line")
            }
            return value
        }
        func number(_ key: String) throws -> UInt64 {
            let value = try field(key)
            guard let n = parseDecimal(value) else {
                throw SysfsError(code: .io, path: path, message: "info '\(key)' is '\(value)', not a number")
            }
            return n
        }
        uuid = try field("uuid")
        guard isUUID(uuid) else {
            throw SysfsError(code: .io, path: path, message: "info uuid '\(uuid)' is not 8-4-4-4-12 hex")
        }
        label = try field("label")
        version = try number("version")
        segNum = try number("seg_num")
        segUsed = try number("seg_used")
        segSize = try number("seg_size")
        devSize = try number("dev_size")
        backingDevs = try number("backing_devs")
    }

    /// Free segments that a new backing device may take.
    public var segFree: UInt64 { segNum >= segUsed ? segNum - segUsed : 0 }
}

/// True for a lowercase or uppercase 8-4-4-4-12 hex UUID.
public func isUUID(_ text: String) -> Bool {
    let groups = text.split(separator: "-", omittingEmptySubsequences: false)
    guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
    return groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
}

/// Engine counters of a backing device, in kernel order, with typed accessors for the known ones.
///
/// The corresponding sysfs attribute is `backing_devM/stats`: "name value" per line; empty before the engine
/// exists. Unknown names are kept so new kernel counters show up without a tool change.
public struct BackingStats: Sendable, Equatable {
    public var counters: [(name: String, value: UInt64)]

    public init(counters: [(name: String, value: UInt64)] = []) { self.counters = counters }

    public init(parsing text: String, path: FilePath = "stats") throws {
        counters = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" })
            guard parts.count == 2, let value = parseDecimal(parts[1]) else {
                throw SysfsError(code: .io, path: path, message: "stats line '\(line)' is not 'name value'")
            }
            counters.append((String(parts[0]), value))
        }
    }

    public subscript(name: String) -> UInt64? { counters.first(where: { $0.name == name })?.value }
    public var isEmpty: Bool { counters.isEmpty }

    public var hits: UInt64? { self["hits"] }
    public var misses: UInt64? { self["misses"] }
    /// Bytes written to the cache and not yet written back.
    public var dirtyBytes: UInt64? { self["dirty_bytes"] }
    public var writebackSegment: UInt64? { self["writeback_seg"] }
    public var writebackOffset: UInt64? { self["writeback_off"] }
    public var gcRuns: UInt64? { self["gc_runs"] }
    public var dataCRCErrors: UInt64? { self["data_crc_errors"] }
    /// Writeback's last attempt failed and no batch reached the disk since (nil: the kernel does not say).
    public var writebackFailing: Bool? { self["writeback_failing"].map { $0 != 0 } }
    /// errno of writeback's last error (0: none yet).
    public var writebackLastError: UInt64? { self["writeback_last_error"] }
    /// Seconds writeback has been failing (0 when it is not).
    public var writebackFailingSeconds: UInt64? { self["writeback_failing_s"] }
    /// Requests failed with EIO because the cache was full and writeback could not free space.
    public var writeErrors: UInt64? { self["write_errors"] }

    /// hits / (hits + misses), nil when nothing was read yet.
    public var hitRatio: Double? {
        guard let h = hits, let m = misses, h + m > 0 else { return nil }
        return Double(h) / Double(h + m)
    }

    public static func == (a: BackingStats, b: BackingStats) -> Bool {
        a.counters.map(\.name) == b.counters.map(\.name) && a.counters.map(\.value) == b.counters.map(\.value)
    }
}
