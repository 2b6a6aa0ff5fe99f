// SPDX-License-Identifier: Apache-2.0
import SystemPackage

/// A device path as the kernel accepts it in options: starts with /dev/, shorter than
/// PCACHE_PATH_LEN, no commas, spaces or control characters.
public struct DevicePath: Hashable, Sendable, CustomStringConvertible, Codable {
    public let string: String

    /// - Throws: `SysfsError.invalidValue` naming what is wrong; `attribute` is the file it is meant for.
    public init(_ string: String, for attribute: FilePath = "") throws {
        guard string.hasPrefix("/dev/"), string.count > "/dev/".count else {
            throw SysfsError.invalid("device path '\(string)' must start with /dev/", path: attribute)
        }
        guard string.utf8.count < Limits.pathLength else {
            throw SysfsError.invalid("device path '\(string.prefix(40))...' is longer than \(Limits.pathLength - 1) bytes",
                                     path: attribute)
        }
        guard string.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ",") }) else {
            throw SysfsError.invalid("device path '\(string)' must not contain commas, spaces or control characters",
                                     path: attribute)
        }
        self.string = string
    }
    public var description: String { string }
}

/// A disk identity recorded in the backing record: printable ASCII, no comma or '=', < PCACHE_IDENT_LEN.
public struct DiskIdent: Hashable, Sendable, CustomStringConvertible, Codable {
    public let string: String

    public init(_ string: String, for attribute: FilePath = "") throws {
        guard !string.isEmpty else { throw SysfsError.invalid("ident must not be empty", path: attribute) }
        guard string.utf8.count < Limits.identLength else {
            throw SysfsError.invalid("ident '\(string)' is longer than \(Limits.identLength - 1) bytes", path: attribute)
        }
        guard string.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "=") })
        else {
            throw SysfsError.invalid("ident '\(string)' must be printable ASCII without commas, '=' or spaces",
                                     path: attribute)
        }
        self.string = string
    }

    /// Squeezes an arbitrary udev identity (which may contain spaces) into what the kernel accepts:
    /// spaces and commas become '_', other unprintable bytes are dropped, and long values keep their tail
    /// (serials differ at the end).
    public init?(sanitizing raw: String) {
        var bytes = raw.utf8.compactMap { b -> UInt8? in
            if b == 0x20 || b == UInt8(ascii: ",") || b == UInt8(ascii: "=") { return UInt8(ascii: "_") }
            return (b > 0x20 && b < 0x7F) ? b : nil
        }
        if bytes.count >= Limits.identLength { bytes = Array(bytes.suffix(Limits.identLength - 1)) }
        guard !bytes.isEmpty else { return nil }
        self.string = String(decoding: bytes, as: UTF8.self)
    }
    public var description: String { string }
}

/// A cache size in MiB as `adm` takes it; parsed from "1G", "512M", "1536MiB" or a bare MiB count.
public struct CacheSize: Hashable, Sendable, CustomStringConvertible, Codable {
    public let mebibytes: UInt64

    public init(mebibytes: UInt64, for attribute: FilePath = "") throws {
        guard Limits.cacheSizeMiB.contains(mebibytes) else {
            throw SysfsError.invalid(
                "cache size \(mebibytes) MiB is out of range: at least \(Limits.cacheSizeMiB.lowerBound) MiB "
                    + "(\(Limits.minCacheSegments) segments of \(Limits.segmentMiB) MiB), "
                    + "at most \(Limits.cacheSizeMiB.upperBound) MiB", path: attribute)
        }
        self.mebibytes = mebibytes
    }

    /// Accepts an integer with an optional binary suffix: K, M, G, T (also KiB, MiB, ...). No suffix means MiB.
    public init(parsing text: String, for attribute: FilePath = "") throws {
        let trimmed = text.trimmingSpaces()
        var digits = Substring(trimmed)
        var shift: UInt64 = 20
        let upper = trimmed.uppercased()
        for (suffixes, s) in [(["TIB", "TB", "T"], 40), (["GIB", "GB", "G"], 30), (["MIB", "MB", "M"], 20),
                              (["KIB", "KB", "K"], 10), (["B"], 0)] as [([String], UInt64)] {
            if let suffix = suffixes.first(where: { upper.hasSuffix($0) }) {
                digits = digits.dropLast(suffix.count)
                shift = s
                break
            }
        }
        guard let value = parseDecimal(digits), value > 0 else {
            throw SysfsError.invalid("cache size '\(text)' is not a size such as 512M or 2G", path: attribute)
        }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: 1 << shift)
        guard !overflow, shift >= 20 || bytes % (1 << 20) == 0 else {
            throw SysfsError.invalid("cache size '\(text)' must be a whole number of MiB", path: attribute)
        }
        try self.init(mebibytes: bytes >> 20, for: attribute)
    }

    /// Segments the kernel will reserve (rounded up to 16 MiB).
    public var segments: UInt64 { (mebibytes + Limits.segmentMiB - 1) / Limits.segmentMiB }
    public var description: String { formatMiB(mebibytes) }
}

/// `cache_dev_register`: `path=/dev/pmemX[,force=1]`.
public struct RegisterRequest: Sendable, Equatable {
    public var path: DevicePath
    public var force: Bool
    public init(path: DevicePath, force: Bool = false) { self.path = path; self.force = force }
    public var optionString: String { "path=\(path)" + (force ? ",force=1" : "") }
}

/// `cache_dev_unregister`: `cache_dev_id=N`.
public struct UnregisterRequest: Sendable, Equatable {
    public var cache: CacheID
    public init(cache: CacheID) { self.cache = cache }
    public var optionString: String { "cache_dev_id=\(cache.rawValue)" }
}

/// `adm` op=backing-start.
public struct BackingStartRequest: Sendable, Equatable {
    public var path: DevicePath
    public var queues: UInt32?
    public var cacheSize: CacheSize?
    public var dataCRC: Bool
    public var ident: DiskIdent?
    public var force: Bool

    /// - Throws: `SysfsError.invalidValue` when `queues` is outside 1...PCACHE_QUEUES_MAX.
    public init(path: DevicePath, queues: UInt32? = nil, cacheSize: CacheSize? = nil, dataCRC: Bool = false,
                ident: DiskIdent? = nil, force: Bool = false, for attribute: FilePath = "") throws {
        if let queues, !Limits.queues.contains(UInt64(queues)) {
            throw SysfsError.invalid("queues \(queues) is out of range \(Limits.queues.lowerBound)...\(Limits.queues.upperBound)",
                                     path: attribute)
        }
        self.path = path
        self.queues = queues
        self.cacheSize = cacheSize
        self.dataCRC = dataCRC
        self.ident = ident
        self.force = force
    }

    public var optionString: String {
        var tokens = ["op=backing-start", "path=\(path)"]
        if let queues { tokens.append("queues=\(queues)") }
        if let cacheSize { tokens.append("cache_size=\(cacheSize.mebibytes)") }
        if dataCRC { tokens.append("data_crc=1") }
        if let ident { tokens.append("ident=\(ident)") }
        if force { tokens.append("force=1") }
        return tokens.joined(separator: ",")
    }
}

/// `adm` op=backing-stop. Without `flush` the cache is kept (record CACHED) and replayed at the next start.
public struct BackingStopRequest: Sendable, Equatable {
    public var backing: BackingID
    /// flush=1: write every dirty block back first, then release the cache; the disk alone is current after.
    public var flush: Bool
    /// force=1: accepted for scripts from before format 3, when a stop wrote back by default; it keeps the
    /// cache, as a stop without flush=1 does now.
    public var force: Bool
    public init(backing: BackingID, flush: Bool = false, force: Bool = false) {
        self.backing = backing
        self.flush = flush
        self.force = force
    }
    public var optionString: String {
        "op=backing-stop,backing_id=\(backing.rawValue)" + (flush ? ",flush=1" : "") + (force ? ",force=1" : "")
    }
}

/// `adm` op=backing-forget: drops a record that is not started, with whatever its cache holds.
public struct BackingForgetRequest: Sendable, Equatable {
    public var backing: BackingID
    public init(backing: BackingID) { self.backing = backing }
    public var optionString: String { "op=backing-forget,backing_id=\(backing.rawValue)" }
}

/// A validated `cache_gc_percent` value.
public struct GCPercent: Hashable, Sendable, CustomStringConvertible, Codable {
    public let value: UInt64
    public init(_ value: UInt64, for attribute: FilePath = "") throws {
        guard Limits.gcPercent.contains(value) else {
            throw SysfsError.invalid("gc percent \(value) is out of range \(Limits.gcPercent.lowerBound)...\(Limits.gcPercent.upperBound)",
                                     path: attribute)
        }
        self.value = value
    }
    public init(parsing text: String, for attribute: FilePath = "") throws {
        let t = text.trimmingSpaces()
        let digits = t.hasSuffix("%") ? String(t.dropLast()) : t
        guard let value = parseDecimal(digits) else {
            throw SysfsError.invalid("gc percent '\(text)' is not a whole number", path: attribute)
        }
        try self.init(value, for: attribute)
    }
    public var description: String { "\(value)" }
}

/// Renders MiB as the shortest exact binary unit: 1024 -> "1G", 1536 -> "1536M".
public func formatMiB(_ mib: UInt64) -> String {
    if mib != 0, mib % (1 << 20) == 0 { return "\(mib >> 20)T" }
    if mib != 0, mib % 1024 == 0 { return "\(mib >> 10)G" }
    return "\(mib)M"
}

/// Renders bytes for people: "0 B", "12.0 MiB", "1.50 GiB".
public func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    if unit == 0 { return "\(bytes) B" }
    let rounded = (value * 10).rounded() / 10
    return "\(rounded) \(units[unit])"
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
