// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat
import PcacheFormat
import Testing

/// Swift must see the layout the C compiler checks with _Static_assert in pcache_format.h. The numbers
/// here are the ones in the header's comments and asserts; a mismatch means the import broke, not that
/// the format changed (a format change edits the header, these tests and the fixtures together).
@Suite("Layout") struct LayoutTests {
    @Test("the superblock is 128 bytes with seg_num at 28 and uuid at 64")
    func superblock() {
        typealias S = pcache_sb_onmedia
        #expect(MemoryLayout<S>.size == 128)
        #expect(MemoryLayout<S>.offset(of: \.crc) == 0)
        #expect(MemoryLayout<S>.offset(of: \.version) == 4)
        #expect(MemoryLayout<S>.offset(of: \.flags) == 6)
        #expect(MemoryLayout<S>.offset(of: \.magic) == 8)
        #expect(MemoryLayout<S>.offset(of: \.feature_compat) == 16)
        #expect(MemoryLayout<S>.offset(of: \.feature_ro_compat) == 20)
        #expect(MemoryLayout<S>.offset(of: \.feature_incompat) == 24)
        #expect(MemoryLayout<S>.offset(of: \.seg_num) == 28)
        #expect(MemoryLayout<S>.offset(of: \.seg_size) == 32)
        #expect(MemoryLayout<S>.offset(of: \.backing_max) == 36)
        #expect(MemoryLayout<S>.offset(of: \.segments_off) == 40)
        #expect(MemoryLayout<S>.offset(of: \.dev_size) == 48)
        #expect(MemoryLayout<S>.offset(of: \.format_time) == 56)
        #expect(MemoryLayout<S>.offset(of: \.uuid) == 64)
        #expect(MemoryLayout<S>.offset(of: \.label) == 80)
        #expect(MemoryLayout<S>.offset(of: \.reserved) == 112)
        #expect(Int(PCACHE_SB_CRC_LEN) == 128 - 4)
    }

    @Test("the meta header is 8 bytes: crc then seq")
    func metaHeader() {
        typealias S = pcache_meta_header_onmedia
        #expect(MemoryLayout<S>.size == 8)
        #expect(MemoryLayout<S>.offset(of: \.crc) == 0)
        #expect(MemoryLayout<S>.offset(of: \.seq) == 4)
        #expect(Layout.crcStart == 4)
    }

    @Test("the backing record is 512 bytes with path at 56")
    func backing() {
        typealias S = pcache_backing_onmedia
        #expect(MemoryLayout<S>.size == 512)
        #expect(MemoryLayout<S>.offset(of: \.header) == 0)
        #expect(MemoryLayout<S>.offset(of: \.state) == 8)
        #expect(MemoryLayout<S>.offset(of: \.backing_id) == 12)
        #expect(MemoryLayout<S>.offset(of: \.flags) == 16)
        #expect(MemoryLayout<S>.offset(of: \.gc_percent) == 20)
        #expect(MemoryLayout<S>.offset(of: \.first_seg) == 24)
        #expect(MemoryLayout<S>.offset(of: \.cache_segs) == 28)
        #expect(MemoryLayout<S>.offset(of: \.queues) == 32)
        #expect(MemoryLayout<S>.offset(of: \.reserved0) == 36)
        #expect(MemoryLayout<S>.offset(of: \.dev_sectors) == 40)
        #expect(MemoryLayout<S>.offset(of: \.start_time) == 48)
        #expect(MemoryLayout<S>.offset(of: \.path) == 56)
        #expect(MemoryLayout<S>.offset(of: \.ident) == 56 + 256)
        #expect(MemoryLayout<S>.offset(of: \.reserved) == 56 + 256 + 64)
    }

    @Test("the segment info is 32 bytes")
    func segmentInfo() {
        typealias S = pcache_seg_info_onmedia
        #expect(MemoryLayout<S>.size == 32)
        #expect(MemoryLayout<S>.offset(of: \.type) == 8)
        #expect(MemoryLayout<S>.offset(of: \.flags) == 10)
        #expect(MemoryLayout<S>.offset(of: \.backing_id) == 12)
        #expect(MemoryLayout<S>.offset(of: \.next_seg) == 16)
        #expect(MemoryLayout<S>.offset(of: \.index) == 20)
        #expect(MemoryLayout<S>.offset(of: \.reserved) == 24)
    }

    @Test("the segment generation is 16 bytes with gen at 8")
    func segmentGen() {
        typealias S = pcache_seg_gen_onmedia
        #expect(MemoryLayout<S>.size == 16)
        #expect(MemoryLayout<S>.offset(of: \.gen) == 8)
    }

    @Test("the log position is 16 bytes: cache_seg at 8, seg_off at 12")
    func position() {
        typealias S = pcache_pos_onmedia
        #expect(MemoryLayout<S>.size == 16)
        #expect(MemoryLayout<S>.offset(of: \.cache_seg) == 8)
        #expect(MemoryLayout<S>.offset(of: \.seg_off) == 12)
    }

    @Test("the cache key is 40 bytes")
    func key() {
        typealias S = pcache_key_onmedia
        #expect(MemoryLayout<S>.size == 40)
        #expect(MemoryLayout<S>.offset(of: \.off) == 0)
        #expect(MemoryLayout<S>.offset(of: \.len) == 8)
        #expect(MemoryLayout<S>.offset(of: \.flags) == 12)
        #expect(MemoryLayout<S>.offset(of: \.cache_seg) == 16)
        #expect(MemoryLayout<S>.offset(of: \.cache_seg_off) == 20)
        #expect(MemoryLayout<S>.offset(of: \.seg_gen) == 24)
        #expect(MemoryLayout<S>.offset(of: \.data_crc) == 32)
        #expect(MemoryLayout<S>.offset(of: \.reserved) == 36)
    }

    @Test("the kset header is 24 bytes and a full kset 5144")
    func kset() {
        typealias S = pcache_kset_onmedia
        #expect(MemoryLayout<S>.size == 24)
        #expect(MemoryLayout<S>.offset(of: \.crc) == 0)
        #expect(MemoryLayout<S>.offset(of: \.key_num) == 4)
        #expect(MemoryLayout<S>.offset(of: \.flags) == 6)
        #expect(MemoryLayout<S>.offset(of: \.magic) == 8)
        #expect(MemoryLayout<S>.offset(of: \.next_cache_seg) == 16)
        #expect(Layout.ksetSizeMax == 24 + 40 * 128)
    }

    @Test("the device and segment maps chain their offsets")
    func maps() {
        #expect(Layout.superblockOffset(copy: 0) == 4096)
        #expect(Layout.superblockOffset(copy: 1) == 8192)
        #expect(Layout.reservedOffset == 12288)
        #expect(Layout.backingOffset == 16384)
        #expect(Layout.backingRecordOffset(id: 63, copy: 1) + Layout.slotSize == Layout.backingOffset + Layout.backingAreaSize)
        #expect(Layout.backingOffset + Layout.backingAreaSize <= Layout.segmentsOffset)
        #expect(Layout.segmentsOffset == 1 << 20)
        #expect(Layout.segmentSize == 16 << 20)
        #expect(Layout.segmentOffset(2) == (1 << 20) + 2 * (16 << 20))
        #expect(Layout.segmentInfoOffset(segment: 0, copy: 1) == Layout.segmentsOffset + 4096)
        #expect(Layout.segmentGenOffset(segment: 0, copy: 1) == Layout.segmentsOffset + 8192 + 16)
        #expect(Layout.keyTailOffset(firstSegment: 0, copy: 0) == Layout.segmentsOffset + 8192 + 64)
        #expect(Layout.dirtyTailOffset(firstSegment: 0, copy: 1) == Layout.segmentsOffset + 8192 + 96 + 16)
        #expect(Layout.segmentDataOffset == 12288)
        #expect(Layout.segmentDataSize == (16 << 20) - 12288)
        #expect(Layout.magic == 0x3130_4548_4341_4350)
        #expect(Array(withUnsafeBytes(of: Layout.magic.littleEndian) { Array($0) }) == Array("PCACHE01".utf8))
        #expect(Array(withUnsafeBytes(of: Layout.ksetMagic.littleEndian) { Array($0) }) == Array("PCKSET01".utf8))
    }

    static let segmentCounts: [(UInt64, UInt32)] = [
        (512 << 20, 31), (1 << 30, 63), ((1 << 30) + (1 << 20), 64), (4 << 30, 255), (1 << 50, 1 << 20), (0, 0), (1 << 20, 0),
    ]

    @Test("segment counts follow min(PCACHE_SEG_MAX, (size - 1 MiB) / 16 MiB)", arguments: segmentCounts)
    func segmentCount(size: UInt64, expected: UInt32) {
        #expect(Layout.segmentCount(deviceSize: size) == expected)
    }
}
