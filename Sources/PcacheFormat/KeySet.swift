// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat

/// One cached extent. The corresponding C struct is `pcache_key_onmedia` (no crc of its own: the kset's
/// crc covers it).
public struct CacheKey: OnMediaStruct {
    public var raw: pcache_key_onmedia
    public init(raw: pcache_key_onmedia) { self.raw = raw }

    public static let cleanFlag = UInt32(PCACHE_KEY_F_CLEAN)
    public static let knownFlags = cleanFlag

    /// Byte offset on the backing device.
    public var offset: UInt64 { get { le(raw.off) } set { raw.off = newValue.littleEndian } }
    /// Bytes.
    public var length: UInt32 { get { le(raw.len) } set { raw.len = newValue.littleEndian } }
    public var flags: UInt32 { get { le(raw.flags) } set { raw.flags = newValue.littleEndian } }
    /// Read-fill data, not dirty.
    public var isClean: Bool { flags & Self.cleanFlag != 0 }
    /// Chain index of the data segment.
    public var cacheSegment: UInt32 { get { le(raw.cache_seg) } set { raw.cache_seg = newValue.littleEndian } }
    /// Byte offset in that segment's data area.
    public var cacheSegmentOffset: UInt32 {
        get { le(raw.cache_seg_off) } set { raw.cache_seg_off = newValue.littleEndian }
    }
    public var segmentGen: UInt64 { get { le(raw.seg_gen) } set { raw.seg_gen = newValue.littleEndian } }
    public var dataCRC: UInt32 { get { le(raw.data_crc) } set { raw.data_crc = newValue.littleEndian } }

    public init(offset: UInt64, length: UInt32, flags: UInt32 = 0, cacheSegment: UInt32, cacheSegmentOffset: UInt32,
                segmentGen: UInt64 = 0, dataCRC: UInt32 = 0) {
        raw = pcache_key_onmedia()
        self.offset = offset
        self.length = length
        self.flags = flags
        self.cacheSegment = cacheSegment
        self.cacheSegmentOffset = cacheSegmentOffset
        self.segmentGen = segmentGen
        self.dataCRC = dataCRC
    }

    /// Decodes a key (no checks; see `problems`).
    public init(decoding bytes: UnsafeRawBufferPointer, region: Region, offset: UInt64) throws {
        raw = try Self.loadRaw(bytes, region: region, offset: offset)
    }

    /// Checks that the key stays inside its cache and its backing device.
    /// - Parameters:
    ///   - cacheSegments: cache_segs of the owner record.
    ///   - deviceBytes: size of the backing device in bytes.
    ///   - region/offset: where the key lies, for error messages.
    /// - Returns: every problem found.
    public func problems(cacheSegments: UInt32, deviceBytes: UInt64, region: Region, offset: UInt64) -> [FormatError] {
        func at<V>(_ field: KeyPath<pcache_key_onmedia, V>) -> UInt64 {
            offset + UInt64(MemoryLayout<pcache_key_onmedia>.offset(of: field)!)
        }
        var out: [FormatError] = []
        let sector = Layout.sectorSize
        if length == 0 || UInt64(length) % sector != 0 {
            out.append(.fieldOutOfRange(region: region, field: "len", offset: at(\.len), found: UInt64(length),
                                        allowed: "a positive multiple of 512"))
        }
        if self.offset % sector != 0 {
            out.append(.fieldOutOfRange(region: region, field: "off", offset: at(\.off), found: self.offset,
                                        allowed: "a multiple of 512"))
        }
        let end = self.offset.addingReportingOverflow(UInt64(length))
        if end.overflow || end.partialValue > deviceBytes {
            out.append(.fieldOutOfRange(region: region, field: "off", offset: at(\.off), found: self.offset,
                                        allowed: "off + len <= \(deviceBytes) (backing device bytes)"))
        } else if length > 0, self.offset / Layout.keyBoundary != (end.partialValue - 1) / Layout.keyBoundary {
            out.append(.fieldOutOfRange(region: region, field: "len", offset: at(\.len), found: UInt64(length),
                                        allowed: "an extent not crossing a 4 MiB boundary of the backing device"))
        }
        if flags & ~Self.knownFlags != 0 {
            out.append(.fieldOutOfRange(region: region, field: "flags", offset: at(\.flags), found: UInt64(flags),
                                        allowed: "known flags only (0x2 clean)"))
        }
        if cacheSegment >= cacheSegments {
            out.append(.fieldOutOfRange(region: region, field: "cache_seg", offset: at(\.cache_seg),
                                        found: UInt64(cacheSegment), allowed: "0...\(Int64(cacheSegments) - 1)"))
        }
        if UInt64(cacheSegmentOffset) % sector != 0 {
            out.append(.fieldOutOfRange(region: region, field: "cache_seg_off", offset: at(\.cache_seg_off),
                                        found: UInt64(cacheSegmentOffset), allowed: "a multiple of 512"))
        }
        if UInt64(cacheSegmentOffset) + UInt64(length) > Layout.segmentDataSize {
            out.append(.fieldOutOfRange(region: region, field: "cache_seg_off", offset: at(\.cache_seg_off),
                                        found: UInt64(cacheSegmentOffset),
                                        allowed: "cache_seg_off + len <= \(Layout.segmentDataSize)"))
        }
        return out
    }
}

/// A kset: a header and up to `PCACHE_KSET_KEYS_MAX` keys, written back to back in the data area of key
/// segments. A LAST kset carries no keys and sends the log to `nextCacheSegment`. The corresponding C
/// struct is `pcache_kset_onmedia`.
public struct KeySet: Hashable, Sendable {
    public var header: Header
    public var keys: [CacheKey]

    /// The 24-byte header.
    public struct Header: ChecksummedStruct {
        public var raw: pcache_kset_onmedia
        public init(raw: pcache_kset_onmedia) { self.raw = raw }

        public var keyCount: UInt16 { get { le(raw.key_num) } set { raw.key_num = newValue.littleEndian } }
        public var flags: UInt16 { get { le(raw.flags) } set { raw.flags = newValue.littleEndian } }
        public var magic: UInt64 { get { le(raw.magic) } set { raw.magic = newValue.littleEndian } }
        public var isLast: Bool { flags & KeySet.lastFlag != 0 }
        /// LAST only: chain index of the next key segment.
        public var nextCacheSegment: UInt32 {
            get { le(raw.next_cache_seg) } set { raw.next_cache_seg = newValue.littleEndian }
        }
        /// The low 32 bits of the generation of the key segment holding the kset; a kset whose stamp differs
        /// is a leftover of an earlier use of the segment, not part of the log.
        public var genStamp: UInt32 { get { le(raw.gen_stamp) } set { raw.gen_stamp = newValue.littleEndian } }
    }

    /// The stamp of a kset written in a key segment of generation `gen`. Mirrors `cache_kset_stamp`.
    public static func stamp(generation gen: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: gen) }

    public static let lastFlag = UInt16(PCACHE_KSET_F_LAST)
    public static let knownFlags = lastFlag

    /// Bytes on media: the header and its keys.
    public var size: Int { Layout.ksetHeaderSize + keys.count * Layout.keySize }
    public var isLast: Bool { header.isLast }

    /// A kset holding `keys`, to be written in a key segment whose generation has the low 32 bits `stamp`
    /// (see `stamp(generation:)`).
    public init(keys: [CacheKey], stamp: UInt32) {
        precondition(keys.count <= Layout.ksetKeysMax, "a kset holds at most PCACHE_KSET_KEYS_MAX keys")
        header = Header(raw: pcache_kset_onmedia())
        header.magic = Layout.ksetMagic
        header.keyCount = UInt16(keys.count)
        header.genStamp = stamp
        self.keys = keys
    }

    /// A LAST kset sending the log to chain index `next`, stamped like the other ksets of its segment.
    public init(lastPointingTo next: UInt32, stamp: UInt32) {
        header = Header(raw: pcache_kset_onmedia())
        header.magic = Layout.ksetMagic
        header.flags = Self.lastFlag
        header.nextCacheSegment = next
        header.genStamp = stamp
        keys = []
    }

    /// Header and keys with the crc over [4, 24 + 40 * key_num) stored: what a writer puts on media.
    public func encoded() -> [UInt8] {
        var bytes = header.rawBytes
        bytes.reserveCapacity(size)
        for k in keys { bytes += k.rawBytes }
        let crc = CRC32C.checksum(bytes[Layout.crcStart...])
        withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange(0..<4, with: $0) }
        return bytes
    }

    /// Decodes a kset: magic, key count, length, crc, then its keys (not bounds-checked; see
    /// `CacheKey.problems`).
    /// - Parameters:
    ///   - bytes: from the kset's first byte to at least its end (the end of the segment's data area).
    ///   - region/offset: where the kset lies, for error messages.
    /// - Throws: `FormatError.truncated`, `.badMagic`, `.keyCountOutOfRange`, `.crcMismatch`.
    public init(decoding bytes: UnsafeRawBufferPointer, region: Region, offset: UInt64) throws {
        header = Header(raw: try Header.loadRaw(bytes, region: region, offset: offset))
        guard header.magic == Layout.ksetMagic else {
            throw FormatError.badMagic(region: region, offset: offset + UInt64(MemoryLayout.offset(of: \pcache_kset_onmedia.magic)!),
                                       found: header.magic, expected: Layout.ksetMagic)
        }
        let count = Int(header.keyCount)
        guard count <= Layout.ksetKeysMax else {
            throw FormatError.keyCountOutOfRange(region: region, offset: offset + UInt64(MemoryLayout.offset(of: \pcache_kset_onmedia.key_num)!),
                                                 found: header.keyCount, max: UInt16(Layout.ksetKeysMax))
        }
        let size = Layout.ksetHeaderSize + count * Layout.keySize
        guard bytes.count >= size else {
            throw FormatError.truncated(region: region, offset: offset, needed: UInt64(size), available: UInt64(bytes.count))
        }
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[Layout.crcStart..<size]))
        let stored = header.storedCRC
        guard computed == stored else {
            throw FormatError.crcMismatch(region: region, offset: offset, stored: stored, computed: computed)
        }
        var keys: [CacheKey] = []
        keys.reserveCapacity(count)
        for i in 0..<count {
            let at = Layout.ksetHeaderSize + i * Layout.keySize
            keys.append(CacheKey(raw: UnsafeRawBufferPointer(rebasing: bytes[at...]).loadUnaligned(as: pcache_key_onmedia.self)))
        }
        self.keys = keys
    }

    /// Decodes a kset from a byte array; see `init(decoding:region:offset:)`.
    public init(decoding bytes: [UInt8], region: Region, offset: UInt64 = 0) throws {
        self = try bytes.withUnsafeBytes { try KeySet(decoding: $0, region: region, offset: offset) }
    }
}
