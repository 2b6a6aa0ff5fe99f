// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat

/// One backing device's record, two 4 KiB slots per record at `Layout.backingRecordOffset(id:copy:)`; the
/// record index is the backing id. The corresponding C struct is `pcache_backing_onmedia`.
public struct BackingRecord: MetaRecord {
    public var raw: pcache_backing_onmedia
    public init(raw: pcache_backing_onmedia) { self.raw = raw }

    /// `PCACHE_BACKING_STATE_*`.
    public enum State: UInt32, Sendable, CaseIterable, Encodable {
        /// Slot unused.
        case free = 0
        /// Started; the cache may hold dirty data.
        case running = 1
        /// Stopped cleanly: the cache is empty and owns no segments; the disk alone is current.
        case stopped = 2
        /// Stopped with the cache kept (format 3): every kset persisted, the chain (INIT_DONE required)
        /// holds clean and dirty data and is replayed at the next start; the disk alone is not current.
        case cached = 3

        /// The machine name, as in sysfs `backing_records` and JSON output.
        public var name: String {
            switch self {
            case .free: return "free"
            case .running: return "running"
            case .stopped: return "stopped"
            case .cached: return "cached"
            }
        }

        /// A phrase for text output: the name, or what it means where the name alone says too little.
        public var phrase: String {
            self == .cached ? "cached (stopped, cache kept)" : name
        }
    }

    /// Flags defined in `PCACHE_BACKING_F_*`.
    public static let dataCRCFlag = UInt32(PCACHE_BACKING_F_DATA_CRC)
    /// The engine initialised the segment chain; a RUNNING record without it never stored anything.
    public static let initDoneFlag = UInt32(PCACHE_BACKING_F_INIT_DONE)
    public static let knownFlags = dataCRCFlag | initDoneFlag

    public var seq: UInt32 { get { le(raw.header.seq) } set { raw.header.seq = newValue.littleEndian } }
    /// The raw state; `State(rawValue:)` is nil for values no version defines.
    public var stateValue: UInt32 { get { le(raw.state) } set { raw.state = newValue.littleEndian } }
    public var state: State? { State(rawValue: stateValue) }
    public var backingID: UInt32 { get { le(raw.backing_id) } set { raw.backing_id = newValue.littleEndian } }
    public var flags: UInt32 { get { le(raw.flags) } set { raw.flags = newValue.littleEndian } }
    public var dataCRC: Bool { flags & Self.dataCRCFlag != 0 }
    /// Whether the chain was initialised (`PCACHE_BACKING_F_INIT_DONE`): without it a RUNNING record has
    /// nothing to replay and the next start initialises a new chain.
    public var initDone: Bool { flags & Self.initDoneFlag != 0 }
    /// Whether the record's chain holds cached data that the next start replays: RUNNING or CACHED with
    /// INIT_DONE (the kernel's `pcache_rec_holds_cache`). Only such a chain is walked and its log checked.
    public var holdsCache: Bool { (state == .running || state == .cached) && initDone }
    public var gcPercent: UInt32 { get { le(raw.gc_percent) } set { raw.gc_percent = newValue.littleEndian } }
    /// Physical id of the cache's first segment.
    public var firstSegment: UInt32 { get { le(raw.first_seg) } set { raw.first_seg = newValue.littleEndian } }
    /// Segments in the cache's chain.
    public var cacheSegments: UInt32 { get { le(raw.cache_segs) } set { raw.cache_segs = newValue.littleEndian } }
    public var queues: UInt32 { get { le(raw.queues) } set { raw.queues = newValue.littleEndian } }
    /// Backing device size in 512-byte sectors.
    public var deviceSectors: UInt64 { get { le(raw.dev_sectors) } set { raw.dev_sectors = newValue.littleEndian } }
    /// Seconds since the epoch of the first start.
    public var startTime: UInt64 { get { le(raw.start_time) } set { raw.start_time = newValue.littleEndian } }
    public var pathBytes: [UInt8] { get { tupleBytes(raw.path) } set { setTupleBytes(&raw.path, newValue) } }
    public var identBytes: [UInt8] { get { tupleBytes(raw.ident) } set { setTupleBytes(&raw.ident, newValue) } }
    /// The path up to its NUL; nil when the field has no NUL.
    public var path: String? { nulTerminated(pathBytes) }
    /// The identity (WWN/serial) up to its NUL; nil when the field has no NUL.
    public var ident: String? { nulTerminated(identBytes) }

    /// A record for backing `id` (seq 0; writers set seq by the copy rule).
    public init(id: UInt32, state: State, path: String, ident: String = "", deviceSectors: UInt64,
                firstSegment: UInt32, cacheSegments: UInt32, flags: UInt32 = 0,
                gcPercent: UInt32 = Layout.gcPercentDefault, queues: UInt32 = 1, startTime: UInt64 = 0) {
        raw = pcache_backing_onmedia()
        backingID = id
        stateValue = state.rawValue
        pathBytes = Array(path.utf8.prefix(Layout.pathLength - 1))
        identBytes = Array(ident.utf8.prefix(Layout.identLength - 1))
        self.deviceSectors = deviceSectors
        self.firstSegment = firstSegment
        self.cacheSegments = cacheSegments
        self.flags = flags
        self.gcPercent = gcPercent
        self.queues = queues
        self.startTime = startTime
    }

    /// Checks the fields of a crc-valid copy against the record index and the superblock.
    /// - Parameters:
    ///   - id: the record index.
    ///   - segmentCount: seg_num of the superblock.
    ///   - offset: where the copy lies, for error messages.
    /// - Returns: every problem found (empty when the record is usable).
    public func problems(id: UInt32, segmentCount: UInt32, offset: UInt64) -> [FormatError] {
        let region = Region(.backingRecord(id: id))
        func at<V>(_ field: KeyPath<pcache_backing_onmedia, V>) -> UInt64 {
            offset + UInt64(MemoryLayout<pcache_backing_onmedia>.offset(of: field)!)
        }
        var out: [FormatError] = []
        if backingID != id {
            out.append(.fieldMismatch(region: region, field: "backing_id", offset: at(\.backing_id),
                                      found: UInt64(backingID), expected: UInt64(id)))
        }
        guard let state else {
            out.append(.fieldOutOfRange(region: region, field: "state", offset: at(\.state), found: UInt64(stateValue),
                                        allowed: "0 (free), 1 (running), 2 (stopped) or 3 (cached)"))
            return out
        }
        if state == .free { return out }
        if state == .cached && !initDone {
            // The module refuses it ("cached record without an initialised cache"): a kept cache always
            // has an initialised chain, so the record is damaged.
            out.append(.fieldOutOfRange(region: region, field: "flags", offset: at(\.flags), found: UInt64(flags),
                                        allowed: "init_done (0x2) set in a cached record (a cached record without "
                                            + "an initialised cache is refused by the module)"))
        }
        if flags & ~Self.knownFlags != 0 {
            out.append(.fieldOutOfRange(region: region, field: "flags", offset: at(\.flags), found: UInt64(flags),
                                        allowed: "known flags only (0x1 data_crc, 0x2 init_done)"))
        }
        if gcPercent > Layout.gcPercentMax {
            out.append(.fieldOutOfRange(region: region, field: "gc_percent", offset: at(\.gc_percent),
                                        found: UInt64(gcPercent), allowed: "0...\(Layout.gcPercentMax)"))
        }
        if queues < 1 || queues > Layout.queuesMax {
            out.append(.fieldOutOfRange(region: region, field: "queues", offset: at(\.queues), found: UInt64(queues),
                                        allowed: "1...\(Layout.queuesMax)"))
        }
        if let p = path {
            if !p.hasPrefix("/dev/") {
                out.append(.badString(region: region, field: "path", offset: at(\.path), reason: "does not start with /dev/"))
            }
        } else {
            out.append(.badString(region: region, field: "path", offset: at(\.path), reason: "is not NUL-terminated"))
        }
        if ident == nil {
            out.append(.badString(region: region, field: "ident", offset: at(\.ident), reason: "is not NUL-terminated"))
        }
        if deviceSectors == 0 {
            out.append(.fieldOutOfRange(region: region, field: "dev_sectors", offset: at(\.dev_sectors), found: 0,
                                        allowed: "at least 1"))
        }
        if state == .running || state == .cached {
            if firstSegment >= segmentCount {
                out.append(.fieldOutOfRange(region: region, field: "first_seg", offset: at(\.first_seg),
                                            found: UInt64(firstSegment), allowed: "0...\(Int64(segmentCount) - 1)"))
            }
            if cacheSegments < 1 || cacheSegments > segmentCount {
                out.append(.fieldOutOfRange(region: region, field: "cache_segs", offset: at(\.cache_segs),
                                            found: UInt64(cacheSegments), allowed: "1...\(segmentCount)"))
            }
        }
        return out
    }
}

/// `PCACHE_SEG_TYPE_*` and `PCACHE_SEG_F_*`.
public enum SegmentType: UInt16, Sendable {
    case none = 0, cache = 1
}

/// Segment info, two copies at the start of every segment. The corresponding C struct is
/// `pcache_seg_info_onmedia`.
public struct SegmentInfo: MetaRecord {
    public var raw: pcache_seg_info_onmedia
    public init(raw: pcache_seg_info_onmedia) { self.raw = raw }

    public static let hasNextFlag = UInt16(PCACHE_SEG_F_HAS_NEXT)
    public static let knownFlags = hasNextFlag

    public var seq: UInt32 { get { le(raw.header.seq) } set { raw.header.seq = newValue.littleEndian } }
    public var typeValue: UInt16 { get { le(raw.type) } set { raw.type = newValue.littleEndian } }
    public var flags: UInt16 { get { le(raw.flags) } set { raw.flags = newValue.littleEndian } }
    public var hasNext: Bool { flags & Self.hasNextFlag != 0 }
    /// Owner record index.
    public var backingID: UInt32 { get { le(raw.backing_id) } set { raw.backing_id = newValue.littleEndian } }
    /// Physical id of the next segment when `hasNext`.
    public var nextSegment: UInt32 { get { le(raw.next_seg) } set { raw.next_seg = newValue.littleEndian } }
    /// Position in the owner's chain, 0-based.
    public var index: UInt32 { get { le(raw.index) } set { raw.index = newValue.littleEndian } }

    public init(type: SegmentType = .cache, backingID: UInt32, index: UInt32, next: UInt32?) {
        raw = pcache_seg_info_onmedia()
        typeValue = type.rawValue
        self.backingID = backingID
        self.index = index
        flags = next == nil ? 0 : Self.hasNextFlag
        nextSegment = next ?? 0
    }
}

/// Segment generation, two copies in the ctrl area of every segment; bumped each time the segment is
/// reclaimed, so keys with an older seg_gen are stale. The corresponding C struct is
/// `pcache_seg_gen_onmedia`.
public struct SegmentGen: MetaRecord {
    public var raw: pcache_seg_gen_onmedia
    public init(raw: pcache_seg_gen_onmedia) { self.raw = raw }

    public var seq: UInt32 { get { le(raw.header.seq) } set { raw.header.seq = newValue.littleEndian } }
    public var gen: UInt64 { get { le(raw.gen) } set { raw.gen = newValue.littleEndian } }

    public init(gen: UInt64) {
        raw = pcache_seg_gen_onmedia()
        self.gen = gen
    }
}

/// A log position (key_tail or dirty_tail): chain index and byte offset in that segment's data area.
/// The corresponding C struct is `pcache_pos_onmedia`.
public struct LogPosition: MetaRecord {
    public var raw: pcache_pos_onmedia
    public init(raw: pcache_pos_onmedia) { self.raw = raw }

    public var seq: UInt32 { get { le(raw.header.seq) } set { raw.header.seq = newValue.littleEndian } }
    /// Index into the owner's chain (not a physical id).
    public var cacheSegment: UInt32 { get { le(raw.cache_seg) } set { raw.cache_seg = newValue.littleEndian } }
    /// Byte offset into that segment's data area.
    public var segmentOffset: UInt32 { get { le(raw.seg_off) } set { raw.seg_off = newValue.littleEndian } }

    public init(cacheSegment: UInt32, segmentOffset: UInt32) {
        raw = pcache_pos_onmedia()
        self.cacheSegment = cacheSegment
        self.segmentOffset = segmentOffset
    }
}
