// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat

/// The superblock, two identical copies at `PCACHE_SB_OFF` and `PCACHE_SB1_OFF`, written once by
/// `pcachectl format`. The corresponding C struct is `pcache_sb_onmedia`.
public struct Superblock: ChecksummedStruct {
    public var raw: pcache_sb_onmedia
    public init(raw: pcache_sb_onmedia) { self.raw = raw }

    /// Feature bits this tool understands (none are defined yet).
    public static let knownCompatFeatures: UInt32 = 0
    public static let knownRoCompatFeatures: UInt32 = 0
    public static let knownIncompatFeatures: UInt32 = 0
    /// Flags defined in `PCACHE_SB_F_*` (none yet).
    public static let knownFlags: UInt16 = 0

    public var version: UInt16 { get { le(raw.version) } set { raw.version = newValue.littleEndian } }
    public var flags: UInt16 { get { le(raw.flags) } set { raw.flags = newValue.littleEndian } }
    public var magic: UInt64 { get { le(raw.magic) } set { raw.magic = newValue.littleEndian } }
    public var featureCompat: UInt32 {
        get { le(raw.feature_compat) } set { raw.feature_compat = newValue.littleEndian }
    }
    public var featureRoCompat: UInt32 {
        get { le(raw.feature_ro_compat) } set { raw.feature_ro_compat = newValue.littleEndian }
    }
    public var featureIncompat: UInt32 {
        get { le(raw.feature_incompat) } set { raw.feature_incompat = newValue.littleEndian }
    }
    /// Whole segments from `PCACHE_SEGMENTS_OFF`.
    public var segmentCount: UInt32 { get { le(raw.seg_num) } set { raw.seg_num = newValue.littleEndian } }
    /// Bytes per segment.
    public var segmentSize: UInt32 { get { le(raw.seg_size) } set { raw.seg_size = newValue.littleEndian } }
    public var backingMax: UInt32 { get { le(raw.backing_max) } set { raw.backing_max = newValue.littleEndian } }
    /// Byte offset of segment 0.
    public var segmentsOffset: UInt64 {
        get { le(raw.segments_off) } set { raw.segments_off = newValue.littleEndian }
    }
    /// Bytes of the device when it was formatted.
    public var deviceSize: UInt64 { get { le(raw.dev_size) } set { raw.dev_size = newValue.littleEndian } }
    /// Seconds since the epoch.
    public var formatTime: UInt64 { get { le(raw.format_time) } set { raw.format_time = newValue.littleEndian } }
    public var uuid: [UInt8] { get { tupleBytes(raw.uuid) } set { setTupleBytes(&raw.uuid, newValue) } }
    /// The label field's 32 bytes.
    public var labelBytes: [UInt8] { get { tupleBytes(raw.label) } set { setTupleBytes(&raw.label, newValue) } }
    /// The label up to its first NUL (the whole field if it has none).
    public var label: String {
        let b = labelBytes
        return String(decoding: b[..<(b.firstIndex(of: 0) ?? b.endIndex)], as: UTF8.self)
    }

    /// The uuid in its usual text form, 8-4-4-4-12 lowercase hex digits.
    public var uuidString: String { formatUUID(uuid) }

    /// Usable cache bytes: the data areas of all segments.
    public var usableBytes: UInt64 { UInt64(segmentCount) * Layout.segmentDataSize }

    /// A fresh superblock (current format version) for a device of `deviceSize` bytes.
    /// - Throws: `FormatError.deviceTooSmall` below `PCACHE_DEV_SIZE_MIN`.
    public init(deviceSize: UInt64, uuid: [UInt8], label: String = "", formatTime: UInt64) throws {
        guard deviceSize >= Layout.deviceSizeMin else {
            throw FormatError.deviceTooSmall(size: deviceSize, minimum: Layout.deviceSizeMin)
        }
        raw = pcache_sb_onmedia()
        version = Layout.formatVersion
        magic = Layout.magic
        segmentCount = Layout.segmentCount(deviceSize: deviceSize)
        segmentSize = UInt32(Layout.segmentSize)
        backingMax = Layout.backingMax
        segmentsOffset = Layout.segmentsOffset
        self.deviceSize = deviceSize
        self.formatTime = formatTime
        self.uuid = uuid
        labelBytes = Array(label.utf8.prefix(31))
        sealCRC()
    }

    /// Decodes one copy: length, magic and crc. Use `validate(deviceSize:)` before trusting its fields.
    /// - Parameters:
    ///   - bytes: at least `sizeof(pcache_sb_onmedia)` bytes.
    ///   - copy: which copy (0 or 1), for error messages.
    ///   - offset: where `bytes` starts on the device, for error messages.
    /// - Throws: `FormatError.truncated`, `.badMagic`, `.crcMismatch`.
    public init(decoding bytes: UnsafeRawBufferPointer, copy: Int = 0, offset: UInt64? = nil) throws {
        let region = Region(.superblock, copy: copy)
        let offset = offset ?? Layout.superblockOffset(copy: copy)
        raw = try Self.loadRaw(bytes, region: region, offset: offset)
        guard magic == Layout.magic else {
            throw FormatError.badMagic(region: region, offset: offset + UInt64(MemoryLayout.offset(of: \pcache_sb_onmedia.magic)!),
                                       found: magic, expected: Layout.magic)
        }
        try verifyCRC(region: region, offset: offset)
    }

    /// Decodes one copy from a byte array; see `init(decoding:copy:offset:)`.
    public init(decoding bytes: [UInt8], copy: Int = 0, offset: UInt64? = nil) throws {
        self = try bytes.withUnsafeBytes { try Superblock(decoding: $0, copy: copy, offset: offset) }
    }

    /// Checks that this tool can use the superblock on a device of `deviceSize` bytes: version, feature
    /// bits, fixed geometry, that seg_num segments fit on the device and that dev_size is its size.
    /// - Parameters:
    ///   - deviceSize: bytes of the device or image now.
    ///   - forWriting: also refuse unknown read-only-compatible features.
    ///   - offset: where the copy lies, for error messages.
    /// - Throws: `FormatError.unsupportedVersion`, `.unknownIncompatFeatures`, `.unknownRoCompatFeatures`,
    ///   `.geometryMismatch` (seg_size, backing_max, segments_off, dev_size), `.segmentCountOutOfRange`.
    public func validate(deviceSize: UInt64, forWriting: Bool = false, offset: UInt64 = Layout.superblockOffset) throws {
        func at<V>(_ field: KeyPath<pcache_sb_onmedia, V>) -> UInt64 {
            offset + UInt64(MemoryLayout<pcache_sb_onmedia>.offset(of: field)!)
        }
        guard version == Layout.formatVersion else {
            throw FormatError.unsupportedVersion(offset: at(\.version), found: version, supported: Layout.formatVersion)
        }
        let incompat = featureIncompat & ~Self.knownIncompatFeatures
        guard incompat == 0 else { throw FormatError.unknownIncompatFeatures(offset: at(\.feature_incompat), bits: incompat) }
        let roCompat = featureRoCompat & ~Self.knownRoCompatFeatures
        guard !forWriting || roCompat == 0 else {
            throw FormatError.unknownRoCompatFeatures(offset: at(\.feature_ro_compat), bits: roCompat)
        }
        guard UInt64(segmentSize) == Layout.segmentSize else {
            throw FormatError.geometryMismatch(field: "seg_size", offset: at(\.seg_size), found: UInt64(segmentSize),
                                               expected: Layout.segmentSize)
        }
        guard backingMax == Layout.backingMax else {
            throw FormatError.geometryMismatch(field: "backing_max", offset: at(\.backing_max), found: UInt64(backingMax),
                                               expected: UInt64(Layout.backingMax))
        }
        guard segmentsOffset == Layout.segmentsOffset else {
            throw FormatError.geometryMismatch(field: "segments_off", offset: at(\.segments_off), found: segmentsOffset,
                                               expected: Layout.segmentsOffset)
        }
        let fits = Layout.segmentCount(deviceSize: deviceSize)
        guard segmentCount >= 1, segmentCount <= fits else {
            throw FormatError.segmentCountOutOfRange(offset: at(\.seg_num), found: segmentCount, fits: fits)
        }
        // The kernel refuses a device whose size changed since it was formatted (unless registered
        // with force=1): the superblock would describe another device.
        guard self.deviceSize == deviceSize else {
            throw FormatError.geometryMismatch(field: "dev_size", offset: at(\.dev_size), found: self.deviceSize,
                                               expected: deviceSize)
        }
        guard flags & ~Self.knownFlags == 0 else {
            throw FormatError.fieldOutOfRange(region: Region(.superblock), field: "flags", offset: at(\.flags),
                                              found: UInt64(flags), allowed: "no unknown flags (known: 0x0)")
        }
    }
}

/// 8-4-4-4-12 lowercase hex.
func formatUUID(_ b: [UInt8]) -> String {
    var s = ""
    for (i, byte) in b.enumerated() {
        if i == 4 || i == 6 || i == 8 || i == 10 { s += "-" }
        s += byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
    }
    return s
}
