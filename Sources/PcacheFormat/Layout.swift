// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat

/// Sizes, offsets and limits of the on-media layout, all taken from `pcache_format.h` (module
/// `CPcacheFormat`): nothing here restates a number, it only converts the C macros and struct layouts
/// to Swift integer types and composes the per-record addresses that the header documents.
public enum Layout {
    public static let formatVersion = UInt16(PCACHE_FORMAT_VERSION)
    public static let magic = UInt64(PCACHE_MAGIC)
    public static let ksetMagic = UInt64(PCACHE_KSET_MAGIC)

    public static let slotSize = UInt64(PCACHE_SLOT_SIZE)
    public static let metaCopies = Int(PCACHE_META_COPIES)

    // Device map.
    public static let superblockOffset = UInt64(PCACHE_SB_OFF)
    public static let superblock1Offset = UInt64(PCACHE_SB1_OFF)
    public static let superblockSlotSize = UInt64(PCACHE_SB_SIZE)
    public static let reservedOffset = UInt64(PCACHE_SB_RESERVED_OFF)
    public static let reservedSize = UInt64(PCACHE_SB_RESERVED_SIZE)
    public static let backingOffset = UInt64(PCACHE_BACKING_OFF)
    public static let backingMax = UInt32(PCACHE_BACKING_MAX)
    public static let backingRecordSize = UInt64(PCACHE_BACKING_RECORD_SIZE)
    public static let backingAreaSize = UInt64(PCACHE_BACKING_SIZE)
    public static let segmentsOffset = UInt64(PCACHE_SEGMENTS_OFF)
    public static let segmentShift = UInt64(PCACHE_SEG_SHIFT)
    public static let segmentSize = UInt64(PCACHE_SEG_SIZE)
    public static let segmentMax = UInt32(PCACHE_SEG_MAX)
    public static let deviceSizeMin = UInt64(PCACHE_DEV_SIZE_MIN)

    // Segment map.
    public static let segmentInfoOffset = UInt64(PCACHE_SEG_INFO_OFF)
    public static let segmentInfo1Offset = UInt64(PCACHE_SEG_INFO1_OFF)
    public static let segmentCtrlOffset = UInt64(PCACHE_SEG_CTRL_OFF)
    public static let segmentGenOffset = UInt64(PCACHE_SEG_GEN_OFF)
    public static let keyTailOffset = UInt64(PCACHE_SEG_KEY_TAIL_OFF)
    public static let dirtyTailOffset = UInt64(PCACHE_SEG_DIRTY_TAIL_OFF)
    public static let positionStride = UInt64(PCACHE_SEG_POS_STRIDE)
    public static let segmentDataOffset = UInt64(PCACHE_SEG_DATA_OFF)
    public static let segmentDataSize = UInt64(PCACHE_SEG_DATA_SIZE)

    // Limits.
    public static let pathLength = Int(PCACHE_PATH_LEN)
    public static let identLength = Int(PCACHE_IDENT_LEN)
    public static let ksetKeysMax = Int(PCACHE_KSET_KEYS_MAX)
    public static let ksetSizeMax = Int(PCACHE_KSET_SIZE_MAX)
    public static let gcPercentMax = UInt32(PCACHE_GC_PERCENT_MAX)
    public static let gcPercentDefault = UInt32(PCACHE_GC_PERCENT_DEFAULT)
    public static let queuesMax = UInt32(PCACHE_QUEUES_MAX)

    // Struct sizes, as the C compiler lays them out.
    public static let superblockSize = MemoryLayout<pcache_sb_onmedia>.size
    public static let metaHeaderSize = MemoryLayout<pcache_meta_header_onmedia>.size
    public static let backingRecordStructSize = MemoryLayout<pcache_backing_onmedia>.size
    public static let segmentInfoSize = MemoryLayout<pcache_seg_info_onmedia>.size
    public static let segmentGenSize = MemoryLayout<pcache_seg_gen_onmedia>.size
    public static let positionSize = MemoryLayout<pcache_pos_onmedia>.size
    public static let keySize = MemoryLayout<pcache_key_onmedia>.size
    public static let ksetHeaderSize = MemoryLayout<pcache_kset_onmedia>.size

    /// Byte range every CRC covers: from the end of the 4-byte crc field to the end of the structure.
    public static let crcStart = MemoryLayout<pcache_meta_header_onmedia>.offset(of: \.seq)!

    /// Keys never cross this boundary of the backing device (the kernel splits I/O at 4 MiB).
    public static let keyBoundary: UInt64 = 4 << 20
    /// Keys are multiples of this many bytes and aligned to it on the backing device.
    public static let sectorSize: UInt64 = 512

    /// Byte offset of superblock copy `copy` (0 or 1).
    public static func superblockOffset(copy: Int) -> UInt64 {
        superblockOffset + UInt64(copy) * superblockSlotSize
    }

    /// Byte offset of slot `copy` of backing record `id`.
    public static func backingRecordOffset(id: UInt32, copy: Int) -> UInt64 {
        backingOffset + UInt64(id) * backingRecordSize + UInt64(copy) * slotSize
    }

    /// Byte offset of physical segment `segment`.
    public static func segmentOffset(_ segment: UInt32) -> UInt64 {
        segmentsOffset + UInt64(segment) << segmentShift
    }

    /// Byte offset of copy `copy` of the segment info of `segment`.
    public static func segmentInfoOffset(segment: UInt32, copy: Int) -> UInt64 {
        segmentOffset(segment) + segmentInfoOffset + UInt64(copy) * slotSize
    }

    /// Byte offset of copy `copy` of the generation of `segment`.
    public static func segmentGenOffset(segment: UInt32, copy: Int) -> UInt64 {
        segmentOffset(segment) + segmentGenOffset + UInt64(copy) * positionStride
    }

    /// Byte offset of copy `copy` of the key tail kept in the ctrl area of `firstSegment`.
    public static func keyTailOffset(firstSegment: UInt32, copy: Int) -> UInt64 {
        segmentOffset(firstSegment) + keyTailOffset + UInt64(copy) * positionStride
    }

    /// Byte offset of copy `copy` of the dirty tail kept in the ctrl area of `firstSegment`.
    public static func dirtyTailOffset(firstSegment: UInt32, copy: Int) -> UInt64 {
        segmentOffset(firstSegment) + dirtyTailOffset + UInt64(copy) * positionStride
    }

    /// Byte offset of `offset` inside the data area of `segment`.
    public static func dataOffset(segment: UInt32, offset: UInt64 = 0) -> UInt64 {
        segmentOffset(segment) + segmentDataOffset + offset
    }

    /// Segments a device of `deviceSize` bytes holds: whole segments after the header, at most
    /// `PCACHE_SEG_MAX`; 0 when the device is smaller than the header.
    public static func segmentCount(deviceSize: UInt64) -> UInt32 {
        guard deviceSize > segmentsOffset else { return 0 }
        return UInt32(min(UInt64(segmentMax), (deviceSize - segmentsOffset) / segmentSize))
    }
}
