// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// Writes a fresh, empty cache device: zeroes the metadata header (everything before segment 0,
/// including the reserved area and all 64 backing records, so no stale record survives a reformat)
/// and the last 128 KiB of the device (where some foreign signatures live), makes that durable, then
/// writes both superblock copies and makes them durable. The superblock goes last so that an
/// interrupted format leaves no superblock rather than one over stale records.
public struct Formatter: Sendable {
    public var label: String
    public var uuid: [UInt8]
    public var formatTime: UInt64

    /// - Parameters:
    ///   - label: at most 31 bytes of UTF-8, stored NUL-padded.
    ///   - uuid: 16 bytes; nil draws a random version-4 uuid.
    ///   - formatTime: seconds since the epoch; nil takes the current time.
    /// - Throws: `FormatError.badString` for a label longer than 31 bytes or holding NUL/control bytes.
    public init(label: String = "", uuid: [UInt8]? = nil, formatTime: UInt64? = nil) throws {
        let bytes = Array(label.utf8)
        guard bytes.count <= 31, !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw FormatError.badString(region: Region(.superblock), field: "label", offset: Layout.superblockOffset,
                                        reason: "must be at most 31 bytes of printable text")
        }
        self.label = label
        self.uuid = uuid ?? Self.randomUUID()
        self.formatTime = formatTime ?? UInt64(max(0, time(nil)))
    }

    /// The superblock this formatter writes on a device of `deviceSize` bytes.
    /// - Throws: `FormatError.deviceTooSmall`.
    public func superblock(deviceSize: UInt64) throws -> Superblock {
        try Superblock(deviceSize: deviceSize, uuid: uuid, label: label, formatTime: formatTime)
    }

    /// Formats `image`.
    /// - Returns: the superblock written.
    /// - Throws: `FormatError.deviceTooSmall`, `ImageIOError`.
    @discardableResult
    public func format(_ image: some ImageSink) throws -> Superblock {
        let sb = try superblock(deviceSize: image.size)
        try image.zero(at: 0, count: Layout.segmentsOffset)
        let tail: UInt64 = 128 << 10
        try image.zero(at: image.size - tail, count: tail)
        try image.sync()
        let bytes = sb.encoded()
        for copy in 0..<Layout.metaCopies {
            try image.write(bytes, at: Layout.superblockOffset(copy: copy))
        }
        try image.sync()
        return sb
    }

    /// 16 random bytes with the version-4 and variant bits set.
    public static func randomUUID() -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        var b = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return b
    }
}
