// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat

/// A Swift view of one C on-media structure from `pcache_format.h`. The C struct itself (`raw`) is the
/// storage, so Swift never restates a field offset: decoding copies the bytes into the struct that the
/// C compiler laid out, and the accessors only convert from little-endian.
public protocol OnMediaStruct: Hashable, Sendable {
    associatedtype Raw
    /// The C structure exactly as on media (little-endian fields).
    var raw: Raw { get set }
    init(raw: Raw)
}

extension OnMediaStruct {
    /// Bytes of the C structure.
    public static var size: Int { MemoryLayout<Raw>.size }

    /// The structure's bytes as they are (crc not recomputed).
    public var rawBytes: [UInt8] { withUnsafeBytes(of: raw) { Array($0) } }

    public static func == (a: Self, b: Self) -> Bool { a.rawBytes == b.rawBytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawBytes) }

    /// Copies `Self.size` bytes from `bytes` into the C structure.
    /// - Throws: `FormatError.truncated` when `bytes` is shorter.
    static func loadRaw(_ bytes: UnsafeRawBufferPointer, region: Region, offset: UInt64) throws -> Raw {
        guard bytes.count >= size else {
            throw FormatError.truncated(region: region, offset: offset, needed: UInt64(size),
                                        available: UInt64(bytes.count))
        }
        return bytes.loadUnaligned(as: Raw.self)
    }
}

/// A structure whose first field is a crc32c over the rest of it, bytes [4, size).
public protocol ChecksummedStruct: OnMediaStruct {}

extension ChecksummedStruct {
    /// The crc stored in the structure.
    public var storedCRC: UInt32 {
        withUnsafeBytes(of: raw) { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
    }

    /// The crc the structure's bytes call for.
    public var computedCRC: UInt32 {
        withUnsafeBytes(of: raw) { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[Layout.crcStart...])) }
    }

    /// The structure's bytes with the crc recomputed: what a writer puts on media.
    public func encoded() -> [UInt8] {
        var copy = self
        copy.sealCRC()
        return copy.rawBytes
    }

    /// Recomputes and stores the crc.
    public mutating func sealCRC() {
        let crc = computedCRC.littleEndian
        withUnsafeMutableBytes(of: &raw) { $0.storeBytes(of: crc, as: UInt32.self) }
    }

    /// Throws `crcMismatch` unless the stored crc is the computed one.
    func verifyCRC(region: Region, offset: UInt64) throws {
        let stored = storedCRC, computed = computedCRC
        guard stored == computed else {
            throw FormatError.crcMismatch(region: region, offset: offset, stored: stored, computed: computed)
        }
    }
}

/// A two-copy record: a `pcache_meta_header_onmedia` (crc, seq) first.
public protocol MetaRecord: ChecksummedStruct {
    /// Serial number of this copy; the newer copy wins in 32-bit serial arithmetic.
    var seq: UInt32 { get set }
    /// Decodes one copy and checks its crc.
    init(decoding bytes: UnsafeRawBufferPointer, region: Region, offset: UInt64) throws
}

extension MetaRecord {
    public init(decoding bytes: UnsafeRawBufferPointer, region: Region, offset: UInt64) throws {
        self.init(raw: try Self.loadRaw(bytes, region: region, offset: offset))
        try verifyCRC(region: region, offset: offset)
    }

    /// Decodes one copy from a byte array; see `init(decoding:region:offset:)`.
    public init(decoding bytes: [UInt8], region: Region, offset: UInt64 = 0) throws {
        self = try bytes.withUnsafeBytes { try Self(decoding: $0, region: region, offset: offset) }
    }
}

/// Reads a little-endian unsigned integer field of a raw struct.
@inline(__always) func le<T: FixedWidthInteger>(_ v: T) -> T { T(littleEndian: v) }

/// Bytes of a fixed C array field (imported as a tuple).
func tupleBytes<T>(_ tuple: T) -> [UInt8] { withUnsafeBytes(of: tuple) { Array($0) } }

/// Stores `bytes` into a fixed C array field, zero-padding the rest.
func setTupleBytes<T>(_ tuple: inout T, _ bytes: [UInt8]) {
    withUnsafeMutableBytes(of: &tuple) { dst in
        for i in 0..<dst.count { dst[i] = i < bytes.count ? bytes[i] : 0 }
    }
}

/// The text before the first NUL of a fixed field, or nil when the field has no NUL at all.
func nulTerminated(_ bytes: [UInt8]) -> String? {
    guard let end = bytes.firstIndex(of: 0) else { return nil }
    return String(decoding: bytes[..<end], as: UTF8.self)
}

/// Whether every byte is zero (a slot never written).
func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
    for b in bytes where b != 0 { return false }
    return true
}

/// `a` is newer than `b` in 32-bit serial arithmetic: `(int32)(a - b) > 0`.
public func isNewer(_ a: UInt32, than b: UInt32) -> Bool { Int32(bitPattern: a &- b) > 0 }

extension Superblock: CustomStringConvertible {
    public var description: String {
        "Superblock(version \(version), seg_num \(segmentCount), uuid \(uuidString), label \"\(label)\", crc \(hex32(storedCRC)))"
    }
}

extension BackingRecord: CustomStringConvertible {
    public var description: String {
        "BackingRecord(id \(backingID), seq \(seq), state \(stateValue), path \(path ?? "?"), first_seg \(firstSegment), "
            + "cache_segs \(cacheSegments), flags \(hex32(flags)), crc \(hex32(storedCRC)))"
    }
}

extension SegmentInfo: CustomStringConvertible {
    public var description: String {
        "SegmentInfo(seq \(seq), type \(typeValue), flags \(flags), backing \(backingID), index \(index), next \(nextSegment))"
    }
}

extension SegmentGen: CustomStringConvertible {
    public var description: String { "SegmentGen(seq \(seq), gen \(gen))" }
}

extension LogPosition: CustomStringConvertible {
    public var description: String { "LogPosition(seq \(seq), \(cacheSegment):\(segmentOffset))" }
}

extension CacheKey: CustomStringConvertible {
    public var description: String {
        "CacheKey(off \(offset), len \(length), flags \(flags), seg \(cacheSegment), seg_off \(cacheSegmentOffset), gen \(segmentGen))"
    }
}

extension KeySet: CustomStringConvertible {
    public var description: String {
        isLast ? "KeySet(LAST -> \(header.nextCacheSegment))" : "KeySet(\(keys.count) keys, crc \(hex32(header.storedCRC)))"
    }
}

extension KeySet.Header: CustomStringConvertible {
    public var description: String { "KeySet.Header(key_num \(keyCount), flags \(flags), magic \(hex(magic)))" }
}
