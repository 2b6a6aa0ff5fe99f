// SPDX-License-Identifier: Apache-2.0

/// A place on the device: which structure, which instance, which copy.
public struct Region: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case device
        case superblock
        case backingRecord(id: UInt32)
        case segmentInfo(segment: UInt32)
        case segmentGen(segment: UInt32)
        case keyTail(backing: UInt32)
        case dirtyTail(backing: UInt32)
        case segmentChain(backing: UInt32)
        /// A kset of backing `backing`'s log in chain segment `chainIndex` at byte `offset` of its data area.
        case kset(backing: UInt32, chainIndex: UInt32, offset: UInt32)
        /// Key `index` of the kset above.
        case key(backing: UInt32, chainIndex: UInt32, offset: UInt32, index: Int)
        case data(backing: UInt32, chainIndex: UInt32, offset: UInt32)
    }

    public var kind: Kind
    /// Which of the two slots, nil for single-copy structures or for the record as a whole.
    public var copy: Int?

    public init(_ kind: Kind, copy: Int? = nil) {
        self.kind = kind
        self.copy = copy
    }

    public static let device = Region(.device)

    public var description: String {
        let name: String
        switch kind {
        case .device: name = "device"
        case .superblock: name = "superblock"
        case .backingRecord(let id): name = "backing record \(id)"
        case .segmentInfo(let s): name = "segment \(s) info"
        case .segmentGen(let s): name = "segment \(s) gen"
        case .keyTail(let b): name = "backing \(b) key_tail"
        case .dirtyTail(let b): name = "backing \(b) dirty_tail"
        case .segmentChain(let b): name = "backing \(b) segment chain"
        case .kset(let b, let c, let o): name = "backing \(b) kset at cache segment \(c) offset \(o)"
        case .key(let b, let c, let o, let i): name = "backing \(b) kset at cache segment \(c) offset \(o) key \(i)"
        case .data(let b, let c, let o): name = "backing \(b) data at cache segment \(c) offset \(o)"
        }
        return copy.map { "\(name) copy \($0)" } ?? name
    }
}

/// Why on-media data was refused: one case per reason, each carrying the byte offset on the device
/// where the offending structure or field lies. The kernel logs the same reasons when it refuses a
/// device, one line each.
public enum FormatError: Error, Hashable, Sendable {
    /// The device ends before the structure does.
    case truncated(region: Region, offset: UInt64, needed: UInt64, available: UInt64)
    /// The device is smaller than `PCACHE_DEV_SIZE_MIN`.
    case deviceTooSmall(size: UInt64, minimum: UInt64)
    /// A magic number does not match (`PCACHE_MAGIC`, `PCACHE_KSET_MAGIC`).
    case badMagic(region: Region, offset: UInt64, found: UInt64, expected: UInt64)
    /// The stored crc32c is not the one computed over the structure.
    case crcMismatch(region: Region, offset: UInt64, stored: UInt32, computed: UInt32)
    /// Neither slot of a two-copy record holds a valid copy.
    case noValidCopy(region: Region, offset: UInt64)
    /// The superblock's version is not one this tool reads.
    case unsupportedVersion(offset: UInt64, found: UInt16, supported: UInt16)
    /// The superblock has incompatible feature bits this tool does not know.
    case unknownIncompatFeatures(offset: UInt64, bits: UInt32)
    /// The superblock has read-only-compatible feature bits this tool does not know: reading is fine,
    /// writing is refused.
    case unknownRoCompatFeatures(offset: UInt64, bits: UInt32)
    /// A fixed geometry field (seg_size, backing_max, segments_off) differs from the header's constant.
    case geometryMismatch(field: String, offset: UInt64, found: UInt64, expected: UInt64)
    /// The superblock claims more segments than the device holds, or more than `PCACHE_SEG_MAX`.
    case segmentCountOutOfRange(offset: UInt64, found: UInt32, fits: UInt32)
    /// A field holds a value outside its allowed range; `allowed` says which range, for people.
    case fieldOutOfRange(region: Region, field: String, offset: UInt64, found: UInt64, allowed: String)
    /// A field must equal a value derived from elsewhere (record index, chain position, owner).
    case fieldMismatch(region: Region, field: String, offset: UInt64, found: UInt64, expected: UInt64)
    /// A string field is not NUL-terminated, or a path does not start with /dev/.
    case badString(region: Region, field: String, offset: UInt64, reason: String)
    /// A kset header claims more keys than `PCACHE_KSET_KEYS_MAX`.
    case keyCountOutOfRange(region: Region, offset: UInt64, found: UInt16, max: UInt16)
    /// A segment chain visits a segment twice.
    case chainLoop(region: Region, offset: UInt64, segment: UInt32)
    /// A segment is claimed by two chains (or twice by one).
    case segmentOwnedTwice(region: Region, offset: UInt64, segment: UInt32, firstOwner: UInt32)
    /// A chain ends before (or runs on after) cache_segs segments.
    case chainLengthMismatch(region: Region, offset: UInt64, found: UInt32, expected: UInt32)
    /// The kset log returns to a key segment it already walked.
    case logLoop(region: Region, offset: UInt64, chainIndex: UInt32)
    /// A kset header at the end of the log is neither zero nor a valid kset (a torn or corrupt write).
    case logEndsInGarbage(region: Region, offset: UInt64, reason: String)
    /// The log ends (zero, damaged or foreign header) but a valid kset of the same generation follows in
    /// the same key segment: damage inside the log; `reason` says what ended it and what lies behind.
    case logDamagedInside(region: Region, offset: UInt64, reason: String)
    /// A log position (dirty_tail) that must lie on the log from key_tail was never reached.
    case positionNotOnLog(region: Region, offset: UInt64, chainIndex: UInt32, segmentOffset: UInt32)
    /// Cached data does not match the key's data_crc.
    case dataCrcMismatch(region: Region, offset: UInt64, stored: UInt32, computed: UInt32)
    /// The two superblock copies are valid but not identical.
    case copiesDiffer(region: Region, offset: UInt64)
    /// Both copies are valid with the same sequence number, so neither is newer.
    case sameSequence(region: Region, offset: UInt64, seq: UInt32)
    /// The device carries no pcache superblock at all (both copies zero).
    case notFormatted(offset: UInt64)

    /// Where on the device the problem lies, in bytes.
    public var offset: UInt64 {
        switch self {
        case .deviceTooSmall: return 0
        case .truncated(_, let o, _, _), .badMagic(_, let o, _, _), .crcMismatch(_, let o, _, _),
            .noValidCopy(_, let o), .unsupportedVersion(let o, _, _), .unknownIncompatFeatures(let o, _),
            .unknownRoCompatFeatures(let o, _), .geometryMismatch(_, let o, _, _),
            .segmentCountOutOfRange(let o, _, _), .fieldOutOfRange(_, _, let o, _, _),
            .fieldMismatch(_, _, let o, _, _), .badString(_, _, let o, _), .keyCountOutOfRange(_, let o, _, _),
            .chainLoop(_, let o, _), .segmentOwnedTwice(_, let o, _, _), .chainLengthMismatch(_, let o, _, _),
            .logLoop(_, let o, _), .logEndsInGarbage(_, let o, _), .logDamagedInside(_, let o, _), .positionNotOnLog(_, let o, _, _),
            .dataCrcMismatch(_, let o, _, _), .copiesDiffer(_, let o), .sameSequence(_, let o, _),
            .notFormatted(let o):
            return o
        }
    }

    /// The structure concerned.
    public var region: Region {
        switch self {
        case .deviceTooSmall: return .device
        case .unsupportedVersion, .unknownIncompatFeatures, .unknownRoCompatFeatures, .geometryMismatch,
            .segmentCountOutOfRange, .notFormatted:
            return Region(.superblock)
        case .truncated(let r, _, _, _), .badMagic(let r, _, _, _), .crcMismatch(let r, _, _, _),
            .noValidCopy(let r, _), .fieldOutOfRange(let r, _, _, _, _), .fieldMismatch(let r, _, _, _, _),
            .badString(let r, _, _, _), .keyCountOutOfRange(let r, _, _, _), .chainLoop(let r, _, _),
            .segmentOwnedTwice(let r, _, _, _), .chainLengthMismatch(let r, _, _, _), .logLoop(let r, _, _),
            .logEndsInGarbage(let r, _, _), .logDamagedInside(let r, _, _), .positionNotOnLog(let r, _, _, _), .dataCrcMismatch(let r, _, _, _),
            .copiesDiffer(let r, _), .sameSequence(let r, _, _):
            return r
        }
    }

    /// A stable snake_case name of the reason, for JSON and tests.
    public var code: String {
        switch self {
        case .truncated: return "truncated"
        case .deviceTooSmall: return "device_too_small"
        case .badMagic: return "bad_magic"
        case .crcMismatch: return "crc_mismatch"
        case .noValidCopy: return "no_valid_copy"
        case .unsupportedVersion: return "unsupported_version"
        case .unknownIncompatFeatures: return "unknown_incompat_features"
        case .unknownRoCompatFeatures: return "unknown_ro_compat_features"
        case .geometryMismatch: return "geometry_mismatch"
        case .segmentCountOutOfRange: return "segment_count_out_of_range"
        case .fieldOutOfRange: return "field_out_of_range"
        case .fieldMismatch: return "field_mismatch"
        case .badString: return "bad_string"
        case .keyCountOutOfRange: return "key_count_out_of_range"
        case .chainLoop: return "chain_loop"
        case .segmentOwnedTwice: return "segment_owned_twice"
        case .chainLengthMismatch: return "chain_length_mismatch"
        case .logLoop: return "log_loop"
        case .logEndsInGarbage: return "log_ends_in_garbage"
        case .logDamagedInside: return "log_damaged_inside"
        case .positionNotOnLog: return "position_not_on_log"
        case .dataCrcMismatch: return "data_crc_mismatch"
        case .copiesDiffer: return "copies_differ"
        case .sameSequence: return "same_sequence"
        case .notFormatted: return "not_formatted"
        }
    }

    /// What was found and what was expected, for people and for JSON (numbers stay numbers).
    public var found: Value? {
        switch self {
        case .truncated(_, _, _, let a): return .number(a)
        case .deviceTooSmall(let s, _): return .number(s)
        case .badMagic(_, _, let f, _): return .number(f)
        case .crcMismatch(_, _, let s, _), .dataCrcMismatch(_, _, let s, _): return .number(UInt64(s))
        case .unsupportedVersion(_, let f, _): return .number(UInt64(f))
        case .unknownIncompatFeatures(_, let b), .unknownRoCompatFeatures(_, let b): return .number(UInt64(b))
        case .geometryMismatch(_, _, let f, _), .fieldOutOfRange(_, _, _, let f, _), .fieldMismatch(_, _, _, let f, _):
            return .number(f)
        case .segmentCountOutOfRange(_, let f, _): return .number(UInt64(f))
        case .badString(_, _, _, let r): return .text(r)
        case .keyCountOutOfRange(_, _, let f, _): return .number(UInt64(f))
        case .chainLoop(_, _, let s), .segmentOwnedTwice(_, _, let s, _): return .number(UInt64(s))
        case .chainLengthMismatch(_, _, let f, _): return .number(UInt64(f))
        case .logLoop(_, _, let c): return .number(UInt64(c))
        case .logEndsInGarbage(_, _, let r), .logDamagedInside(_, _, let r): return .text(r)
        case .positionNotOnLog(_, _, let c, let o): return .text("\(c):\(o)")
        case .sameSequence(_, _, let s): return .number(UInt64(s))
        case .noValidCopy, .copiesDiffer, .notFormatted: return nil
        }
    }

    /// See `found`.
    public var expected: Value? {
        switch self {
        case .truncated(_, _, let n, _): return .number(n)
        case .deviceTooSmall(_, let m): return .number(m)
        case .badMagic(_, _, _, let e): return .number(e)
        case .crcMismatch(_, _, _, let c), .dataCrcMismatch(_, _, _, let c): return .number(UInt64(c))
        case .unsupportedVersion(_, _, let s): return .number(UInt64(s))
        case .unknownIncompatFeatures, .unknownRoCompatFeatures: return .number(0)
        case .geometryMismatch(_, _, _, let e), .fieldMismatch(_, _, _, _, let e): return .number(e)
        case .fieldOutOfRange(_, _, _, _, let a): return .text(a)
        case .segmentCountOutOfRange(_, _, let f): return .text("1...\(f)")
        case .badString(_, let field, _, _):
            return .text(field == "path" ? "NUL-terminated path starting with /dev/" : "NUL-terminated text")
        case .keyCountOutOfRange(_, _, _, let m): return .text("0...\(m)")
        case .chainLengthMismatch(_, _, _, let e): return .number(UInt64(e))
        case .chainLoop, .segmentOwnedTwice: return .text("each segment once")
        case .logLoop: return .text("each key segment once")
        case .logEndsInGarbage: return .text("a zero kset header or a valid kset")
        case .logDamagedInside: return .text("no valid kset of this generation behind the log end")
        case .positionNotOnLog: return .text("a kset boundary between key_tail and the log end")
        case .sameSequence: return .text("different sequence numbers")
        case .noValidCopy: return .text("at least one valid copy")
        case .copiesDiffer: return .text("identical copies")
        case .notFormatted: return .text("a pcache superblock")
        }
    }

    /// A found/expected value: a number when it is one.
    public enum Value: Hashable, Sendable, CustomStringConvertible, Encodable {
        case number(UInt64)
        case text(String)

        public var description: String {
            switch self {
            case .number(let n): return String(n)
            case .text(let t): return t
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .number(let n): try c.encode(n)
            case .text(let t): try c.encode(t)
            }
        }
    }
}

extension FormatError: CustomStringConvertible {
    /// One line naming the structure, the offset and the problem, e.g.
    /// `superblock copy 0 at offset 4096: crc mismatch: stored 0x00000000, computed 0x1c2d3e4f`.
    public var description: String {
        "\(region) at offset \(offset): \(reason)"
    }

    /// The problem without its place.
    public var reason: String {
        switch self {
        case .truncated(_, _, let n, let a):
            return "truncated: needs \(n) bytes, the device has \(a)"
        case .deviceTooSmall(let s, let m):
            return "device too small: \(s) bytes, at least \(m) needed"
        case .badMagic(_, _, let f, let e):
            return "bad magic: found \(hex(f)), expected \(hex(e))"
        case .crcMismatch(_, _, let s, let c):
            return "crc mismatch: stored \(hex32(s)), computed \(hex32(c))"
        case .noValidCopy:
            return "no valid copy: both slots are damaged or empty"
        case .unsupportedVersion(_, let f, let s) where f < s && f > 0:
            // intact, but an older format (Docs/format.md, Upgrading)
            return "older format version \(f) (this tool reads version \(s)): write its caches back under the "
                + "version \(f) module, then format it (Docs/format.md, Upgrading)"
        case .unsupportedVersion(_, let f, let s):
            return "unsupported format version \(f) (this tool reads version \(s))"
        case .unknownIncompatFeatures(_, let b):
            return "unknown incompatible features \(hex32(b)): refusing the device"
        case .unknownRoCompatFeatures(_, let b):
            return "unknown read-only-compatible features \(hex32(b)): refusing to write"
        case .geometryMismatch(let f, _, let v, let e):
            return f == "dev_size" ? "dev_size is \(v) but the device has \(e) bytes (the module refuses it unless registered with force=1)"
                : "\(f) is \(v), expected \(e)"
        case .segmentCountOutOfRange(_, let f, let fits):
            return "seg_num \(f) out of range: the device fits 1...\(fits) segments"
        case .fieldOutOfRange(_, let f, _, let v, let a):
            return "\(f) \(v) out of range, allowed \(a)"
        case .fieldMismatch(_, let f, _, let v, let e):
            return "\(f) is \(v), expected \(e)"
        case .badString(_, let f, _, let r):
            return "\(f) \(r)"
        case .keyCountOutOfRange(_, _, let f, let m):
            return "key_num \(f) out of range, at most \(m)"
        case .chainLoop(_, _, let s):
            return "segment chain loops back to segment \(s)"
        case .segmentOwnedTwice(_, _, let s, let owner):
            return "segment \(s) is already in the chain of backing \(owner)"
        case .chainLengthMismatch(_, _, let f, let e):
            return "segment chain has \(f) segments, cache_segs says \(e)"
        case .logLoop(_, _, let c):
            return "kset log returns to cache segment \(c)"
        case .logEndsInGarbage(_, _, let r):
            return "log ends at a damaged kset header (\(r)); replay stops here"
        case .logDamagedInside(_, _, let r):
            return "kset log damaged inside: \(r)"
        case .positionNotOnLog(_, _, let c, let o):
            return "position \(c):\(o) is not on the kset log from key_tail"
        case .dataCrcMismatch(_, _, let s, let c):
            return "data crc mismatch: key says \(hex32(s)), data has \(hex32(c))"
        case .copiesDiffer:
            return "the two copies are valid but differ"
        case .sameSequence(_, _, let s):
            return "both copies are valid with seq \(s); neither is newer"
        case .notFormatted:
            return "no pcache superblock (both copies are zero)"
        }
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16, uppercase: false).leftPadded(to: 16) }
func hex32(_ v: UInt32) -> String { "0x" + String(v, radix: 16, uppercase: false).leftPadded(to: 8) }

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
