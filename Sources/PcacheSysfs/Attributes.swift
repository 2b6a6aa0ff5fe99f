// SPDX-License-Identifier: Apache-2.0

/// What a sysfs attribute's number counts.
public enum AttributeUnit: String, Sendable {
    case none, text, bytes, mebibytes, segments, percent, boolean, index, lines
}

/// Who may do what with an attribute (the kernel's file mode).
public enum AttributeAccess: String, Sendable {
    case readOnly = "0400", writeOnly = "0200", readWrite = "0600"
    public var isReadable: Bool { self != .writeOnly }
    public var isWritable: Bool { self != .readOnly }
}

/// Description shared by every attribute: name, unit, range, access and meaning.
public protocol SysfsAttribute: RawRepresentable, CaseIterable, Sendable where RawValue == String {
    var access: AttributeAccess { get }
    var unit: AttributeUnit { get }
    /// Valid values for numeric attributes; nil for text.
    var range: ClosedRange<UInt64>? { get }
    /// One sentence for people, used by `pcachectl get --help` and Docs/sysfs-abi.md.
    var summary: String { get }
}

/// Files directly in /sys/bus/pcache.
public enum BusAttribute: String, SysfsAttribute {
    case cacheDevRegister = "cache_dev_register"
    case cacheDevUnregister = "cache_dev_unregister"

    public var access: AttributeAccess { .writeOnly }
    public var unit: AttributeUnit { .text }
    public var range: ClosedRange<UInt64>? { nil }
    public var summary: String {
        switch self {
        case .cacheDevRegister: "Register a formatted pmem device: path=/dev/pmemX[,force=1]."
        case .cacheDevUnregister: "Unregister a cache device without backing devices: cache_dev_id=N."
        }
    }
}

/// Files in /sys/bus/pcache/devices/cache_devN.
public enum CacheAttribute: String, SysfsAttribute {
    case path, info, adm
    case backingRecords = "backing_records"

    public var access: AttributeAccess { self == .adm ? .writeOnly : .readOnly }
    public var unit: AttributeUnit { self == .info || self == .backingRecords ? .lines : .text }
    public var range: ClosedRange<UInt64>? { nil }
    public var summary: String {
        switch self {
        case .path: "Path of the pmem device, as given at registration."
        case .info: "Superblock and usage summary: uuid, label, version, seg_num, seg_used, seg_size, dev_size, backing_devs."
        case .adm: "Commands: op=backing-start,path=...[,queues=N][,cache_size=MiB][,data_crc=1][,ident=...][,force=1], op=backing-stop,backing_id=M or op=backing-forget,backing_id=M."
        case .backingRecords: "The backing records in use, one line each: backing_id, state, init_done, started, dev, dev_sectors, ident, path."
        }
    }
}

/// Files in /sys/bus/pcache/devices/cache_devN/backing_devM.
public enum BackingAttribute: String, SysfsAttribute {
    case path
    case mappedID = "mapped_id"
    case cacheSegs = "cache_segs"
    case cacheUsedSegs = "cache_used_segs"
    case cacheGCPercent = "cache_gc_percent"
    case ident
    case dataCRC = "data_crc"
    case stats

    public var access: AttributeAccess { self == .cacheGCPercent ? .readWrite : .readOnly }
    public var unit: AttributeUnit {
        switch self {
        case .path, .ident: .text
        case .mappedID: .index
        case .cacheSegs, .cacheUsedSegs: .segments
        case .cacheGCPercent: .percent
        case .dataCRC: .boolean
        case .stats: .lines
        }
    }
    public var range: ClosedRange<UInt64>? {
        switch self {
        case .cacheGCPercent: Limits.gcPercent
        case .dataCRC: 0...1
        case .cacheSegs, .cacheUsedSegs: 0...Limits.maxSegments
        case .mappedID: 0...UInt64(UInt32.max)
        default: nil
        }
    }
    public var summary: String {
        switch self {
        case .path: "Path of the backing block device, as given at start."
        case .mappedID: "N of the cached device /dev/pcacheN."
        case .cacheSegs: "Segments (16 MiB each) reserved for this backing device's cache."
        case .cacheUsedSegs: "Segments currently holding cached data or keys."
        case .cacheGCPercent: "Segment usage, in percent, above which garbage collection reclaims segments; persisted."
        case .ident: "Identity of the backing disk recorded at first start (WWN or serial); may be empty."
        case .dataCRC: "1 when cached data carries a crc32c per extent."
        case .stats: "Engine counters, one \"name value\" per line (hits, misses, dirty_bytes, ...)."
        }
    }

    /// The kebab-case name `pcachectl get/set` accepts: `gc-percent` for `cache_gc_percent`.
    public var optionName: String {
        switch self {
        case .cacheGCPercent: "gc-percent"
        default: rawValue.replacingUnderscores()
        }
    }

    /// Finds an attribute by its kebab-case name, its sysfs name or the short alias.
    public init?(optionName: String) {
        let wanted = optionName.replacingDashes()
        guard let match = Self.allCases.first(where: {
            $0.rawValue == wanted || $0.optionName == optionName || "cache_" + wanted == $0.rawValue
        }) else { return nil }
        self = match
    }
}

extension String {
    func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }
    func replacingDashes() -> String { String(map { $0 == "-" ? "_" : $0 }) }
}
