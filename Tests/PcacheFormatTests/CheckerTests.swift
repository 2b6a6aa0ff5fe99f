// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat
import PcacheFormat
import Testing

/// One way to damage the sample cache image, and what `check` must say about it.
struct Corruption: CustomTestStringConvertible, Sendable {
    var name: String
    /// The problem code that must be reported, with its severity.
    var code: String
    var severity: Severity
    /// When true the damaged record must still be read, from its other copy.
    var recovered = false
    var damage: @Sendable (SparseImage, Samples.CacheLayout) throws -> Void

    var testDescription: String { name }
}

private let seg0 = Layout.segmentOffset(0)
private func ksetAt(_ l: Samples.CacheLayout, _ i: Int) -> UInt64 {
    // Chain index == physical id in the sample (segments 0-5 in order).
    Layout.dataOffset(segment: l.ksets[i].segment, offset: UInt64(l.ksets[i].offset))
}
private func keyAt(_ l: Samples.CacheLayout, kset: Int, key: Int) -> UInt64 {
    ksetAt(l, kset) + UInt64(Layout.ksetHeaderSize + key * Layout.keySize)
}
private func rec(_ copy: Int) -> UInt64 { Layout.backingRecordOffset(id: 0, copy: copy) }

let corruptions: [Corruption] = [
    // crc class
    Corruption(name: "superblock copy 0 crc", code: "crc_mismatch", severity: .repairable, recovered: true) { i, _ in
        try i.flip(at: Layout.superblockOffset(copy: 0) + 1)
    },
    Corruption(name: "latest backing record copy crc", code: "crc_mismatch", severity: .repairable, recovered: true) { i, _ in
        try i.flip(at: rec(1) + 100)
    },
    Corruption(name: "latest key_tail copy crc", code: "crc_mismatch", severity: .repairable, recovered: true) { i, _ in
        try i.flip(at: Layout.keyTailOffset(firstSegment: 0, copy: 1) + 9)
    },
    Corruption(name: "both backing record copies", code: "no_valid_copy", severity: .fatal) { i, _ in
        try i.flip(at: rec(0) + 60)
        try i.flip(at: rec(1) + 60)
    },
    Corruption(name: "the only segment info copy", code: "no_valid_copy", severity: .fatal) { i, _ in
        try i.flip(at: Layout.segmentInfoOffset(segment: 2, copy: 0) + 12)
    },
    Corruption(name: "the only generation copy", code: "crc_mismatch", severity: .fatal) { i, _ in
        try i.flip(at: Layout.segmentGenOffset(segment: 1, copy: 0) + 8)
    },
    Corruption(name: "cached data", code: "data_crc_mismatch", severity: .fatal) { i, _ in
        try i.flip(at: Layout.dataOffset(segment: 1, offset: 700))
    },
    // seq class
    Corruption(name: "backing record copies with equal seq", code: "same_sequence", severity: .repairable, recovered: true) { i, _ in
        try i.reseal(BackingRecord.self, at: rec(1)) { $0.seq = 1; $0.queues = 3 }
    },
    // magic class
    Corruption(name: "both superblock magics", code: "no_valid_copy", severity: .fatal) { i, _ in
        try i.flip(at: Layout.superblockOffset(copy: 0) + 8)
        try i.flip(at: Layout.superblockOffset(copy: 1) + 8)
    },
    Corruption(name: "first kset magic (before dirty_tail)", code: "log_damaged_inside", severity: .fatal) { i, l in
        try i.flip(at: ksetAt(l, 0) + 8)
    },
    // a damaged kset with a valid one right behind it is damage inside the log, not a torn write
    Corruption(name: "middle kset key byte (valid kset follows)", code: "log_damaged_inside", severity: .fatal) { i, l in
        try i.flip(at: ksetAt(l, 1) + UInt64(Layout.ksetHeaderSize + 3))
    },
    Corruption(name: "last kset magic (after dirty_tail)", code: "log_ends_in_garbage", severity: .repairable) { i, l in
        try i.flip(at: ksetAt(l, 2) + 8)
    },
    // version and features
    Corruption(name: "superblock version PCACHE_FORMAT_VERSION + 1", code: "unsupported_version", severity: .fatal) { i, _ in
        for c in 0..<2 { try i.resealSuperblock(copy: c) { $0.version = Layout.formatVersion + 1 } }
    },
    Corruption(name: "superblock version PCACHE_FORMAT_VERSION - 1", code: "unsupported_version", severity: .fatal) { i, _ in
        for c in 0..<2 { try i.resealSuperblock(copy: c) { $0.version = Layout.formatVersion - 1 } }
    },
    Corruption(name: "unknown incompat feature", code: "unknown_incompat_features", severity: .fatal) { i, _ in
        for c in 0..<2 { try i.resealSuperblock(copy: c) { $0.featureIncompat = 1 << 7 } }
    },
    // the module refuses unknown ro_compat bits too (a cache cannot run read-only), so check must not pass them
    Corruption(name: "unknown ro_compat feature", code: "unknown_ro_compat_features", severity: .fatal) { i, _ in
        for c in 0..<2 { try i.resealSuperblock(copy: c) { $0.featureRoCompat = 1 << 3 } }
    },
    Corruption(name: "superblock copies differ", code: "copies_differ", severity: .repairable, recovered: true) { i, _ in
        try i.resealSuperblock(copy: 1) { $0.labelBytes = Array("other".utf8) }
    },
    Corruption(name: "dev_size of another device", code: "geometry_mismatch", severity: .fatal) { i, _ in
        for c in 0..<2 { try i.resealSuperblock(copy: c) { $0.deviceSize += 1 << 20 } }
    },
    // ids and counts out of range
    Corruption(name: "seg_num beyond the device", code: "segment_count_out_of_range", severity: .fatal) { i, _ in
        for c in 0..<2 { try i.resealSuperblock(copy: c) { $0.segmentCount = 32 } }
    },
    Corruption(name: "backing_id not the record index", code: "field_mismatch", severity: .fatal) { i, _ in
        try i.reseal(BackingRecord.self, at: rec(1)) { $0.backingID = 9 }
    },
    Corruption(name: "unknown backing state", code: "field_out_of_range", severity: .fatal) { i, _ in
        try i.reseal(BackingRecord.self, at: rec(1)) { $0.stateValue = 7 }
    },
    Corruption(name: "backing state 4, one past cached", code: "field_out_of_range", severity: .fatal) { i, _ in
        try i.reseal(BackingRecord.self, at: rec(1)) { $0.stateValue = 4 }
    },
    Corruption(name: "cached record without init_done", code: "field_out_of_range", severity: .fatal) { i, _ in
        try i.reseal(BackingRecord.self, at: rec(1)) {
            $0.stateValue = BackingRecord.State.cached.rawValue
            $0.flags &= ~BackingRecord.initDoneFlag
        }
    },
    Corruption(name: "path outside /dev", code: "bad_string", severity: .fatal) { i, _ in
        try i.reseal(BackingRecord.self, at: rec(1)) { $0.pathBytes = Array("/tmp/x".utf8) }
    },
    Corruption(name: "path without NUL", code: "bad_string", severity: .fatal) { i, _ in
        try i.reseal(BackingRecord.self, at: rec(1)) { $0.pathBytes = Array(repeating: 0x41, count: 256) }
    },
    Corruption(name: "first_seg past seg_num", code: "field_out_of_range", severity: .fatal) { i, _ in
        try i.reseal(BackingRecord.self, at: rec(1)) { $0.firstSegment = 31 }
    },
    Corruption(name: "cache_segs zero", code: "field_out_of_range", severity: .fatal) { i, _ in
        try i.reseal(BackingRecord.self, at: rec(1)) { $0.cacheSegments = 0 }
    },
    Corruption(name: "gc_percent 91", code: "field_out_of_range", severity: .fatal) { i, _ in
        try i.reseal(BackingRecord.self, at: rec(1)) { $0.gcPercent = 91 }
    },
    Corruption(name: "next_seg past seg_num", code: "field_out_of_range", severity: .fatal) { i, _ in
        try i.reseal(SegmentInfo.self, at: Layout.segmentInfoOffset(segment: 1, copy: 0)) { $0.nextSegment = 4000 }
    },
    Corruption(name: "segment owned by another backing", code: "field_mismatch", severity: .fatal) { i, _ in
        try i.reseal(SegmentInfo.self, at: Layout.segmentInfoOffset(segment: 3, copy: 0)) { $0.backingID = 5 }
    },
    Corruption(name: "segment index out of order", code: "field_mismatch", severity: .fatal) { i, _ in
        try i.reseal(SegmentInfo.self, at: Layout.segmentInfoOffset(segment: 3, copy: 0)) { $0.index = 4 }
    },
    Corruption(name: "key_tail past the chain", code: "field_out_of_range", severity: .fatal) { i, _ in
        try i.reseal(LogPosition.self, at: Layout.keyTailOffset(firstSegment: 0, copy: 1)) { $0.cacheSegment = 6 }
    },
    Corruption(name: "dirty_tail off a kset boundary", code: "position_not_on_log", severity: .repairable) { i, _ in
        try i.reseal(LogPosition.self, at: Layout.dirtyTailOffset(firstSegment: 0, copy: 1)) { $0.segmentOffset = 104 }
    },
    Corruption(name: "dirty_tail misaligned", code: "field_out_of_range", severity: .fatal) { i, _ in
        try i.reseal(LogPosition.self, at: Layout.dirtyTailOffset(firstSegment: 0, copy: 1)) { $0.segmentOffset = 100 }
    },
    Corruption(name: "key cache_seg past the chain", code: "field_out_of_range", severity: .fatal) { i, l in
        try i.resealKeySet(at: ksetAt(l, 1)) { $0.keys[5].cacheSegment = 6 }
    },
    Corruption(name: "key generation newer than its segment", code: "field_out_of_range", severity: .fatal) { i, l in
        try i.resealKeySet(at: ksetAt(l, 1)) { $0.keys[5].segmentGen = l.generations[Int($0.keys[5].cacheSegment)] + 1 }
    },
    Corruption(name: "key pointing into a key segment", code: "field_out_of_range", severity: .fatal) { i, l in
        try i.resealKeySet(at: ksetAt(l, 0)) { $0.keys[0].cacheSegment = 0; $0.keys[0].segmentGen = l.generations[0] }
    },
    // key counts
    Corruption(name: "kset key_num 200", code: "log_ends_in_garbage", severity: .repairable) { i, l in
        try i.write(withUnsafeBytes(of: UInt16(200).littleEndian) { Array($0) }, at: ksetAt(l, 2) + 4)
    },
    Corruption(name: "kset key_num 0", code: "log_ends_in_garbage", severity: .repairable) { i, l in
        try i.resealKeySet(at: ksetAt(l, 2)) { $0.keys = []; $0.header.keyCount = 0 }
    },
    Corruption(name: "LAST kset carrying keys", code: "log_ends_in_garbage", severity: .repairable) { i, l in
        let lastAt = Layout.dataOffset(segment: l.ksets[0].segment, offset: UInt64(l.ksets[0].offset) + 5144)
        var last = try KeySet(decoding: try i.read(at: lastAt, count: 24), region: Region(.device))
        last.header.keyCount = 1
        last.keys = [CacheKey(offset: 0, length: 512, cacheSegment: 1, cacheSegmentOffset: 0)]
        try i.write(last.encoded(), at: lastAt)
    },
    // offsets past the end
    Corruption(name: "key extent past the data area", code: "field_out_of_range", severity: .fatal) { i, l in
        try i.resealKeySet(at: ksetAt(l, 1)) { $0.keys[1].cacheSegmentOffset = UInt32(Layout.segmentDataSize) - 256 }
    },
    Corruption(name: "key crossing 4 MiB", code: "field_out_of_range", severity: .fatal) { i, l in
        try i.resealKeySet(at: ksetAt(l, 1)) { $0.keys[1].offset = (4 << 20) - 512; $0.keys[1].length = 1024 }
    },
    Corruption(name: "key past the backing device", code: "field_out_of_range", severity: .fatal) { i, l in
        try i.resealKeySet(at: ksetAt(l, 1)) { $0.keys[1].offset = 2 << 29 }
    },
    Corruption(name: "key of length 0", code: "field_out_of_range", severity: .fatal) { i, l in
        try i.resealKeySet(at: ksetAt(l, 1)) { $0.keys[1].length = 0 }
    },
    // looping chains
    Corruption(name: "segment chain looping back", code: "chain_loop", severity: .fatal) { i, _ in
        try i.reseal(SegmentInfo.self, at: Layout.segmentInfoOffset(segment: 3, copy: 0)) { $0.nextSegment = 1 }
    },
    Corruption(name: "segment chain ending early", code: "chain_length_mismatch", severity: .fatal) { i, _ in
        try i.reseal(SegmentInfo.self, at: Layout.segmentInfoOffset(segment: 3, copy: 0)) { $0.flags = 0 }
    },
    Corruption(name: "segment chain running on", code: "field_mismatch", severity: .fatal) { i, _ in
        try i.reseal(SegmentInfo.self, at: Layout.segmentInfoOffset(segment: 5, copy: 0)) { $0.flags = 1; $0.nextSegment = 6 }
    },
    Corruption(name: "second backing sharing a segment", code: "segment_owned_twice", severity: .fatal) { i, _ in
        let w = try CacheWriter(image: i)
        try w.write(BackingRecord(id: 1, state: .running, path: "/dev/vdb", deviceSectors: 1 << 20, firstSegment: 2, cacheSegments: 1,
                                      flags: BackingRecord.initDoneFlag),
                    slot0: Layout.backingRecordOffset(id: 1, copy: 0), stride: Layout.slotSize)
    },
    Corruption(name: "kset log looping back", code: "log_loop", severity: .fatal) { i, l in
        let lastAt = Layout.dataOffset(segment: l.ksets[2].segment, offset: UInt64(l.ksets[2].offset) + 1784)
        try i.write(KeySet(lastPointingTo: 0, stamp: l.stamps[Int(l.ksets[2].segment)]).encoded(), at: lastAt)
    },
    Corruption(name: "LAST past the chain", code: "field_out_of_range", severity: .fatal) { i, l in
        let lastAt = Layout.dataOffset(segment: l.ksets[2].segment, offset: UInt64(l.ksets[2].offset) + 1784)
        try i.write(KeySet(lastPointingTo: 6, stamp: l.stamps[Int(l.ksets[2].segment)]).encoded(), at: lastAt)
    },
    Corruption(name: "LAST into a data segment", code: "field_out_of_range", severity: .fatal) { i, l in
        let lastAt = Layout.dataOffset(segment: l.ksets[2].segment, offset: UInt64(l.ksets[2].offset) + 1784)
        try i.write(KeySet(lastPointingTo: 1, stamp: l.stamps[Int(l.ksets[2].segment)]).encoded(), at: lastAt)
    },
]

@Suite("Checker") struct CheckerTests {
    @Test("a freshly formatted image checks clean")
    func formatted() throws {
        let i = try Checker().inspect(try Samples.formatted())
        #expect(i.isClean, "\(i.problems)")
        #expect(i.backings.isEmpty)
    }

    @Test("the sample cache checks clean")
    func sample() throws {
        let (image, _) = try Samples.cache()
        let i = try Checker().inspect(image)
        #expect(i.isClean, "\(i.problems)")
    }

    @Test("each corruption is detected with its code and severity, or recovered from the other copy (running and cached)",
          arguments: corruptions, [BackingRecord.State.running, .cached])
    func corruption(_ c: Corruption, state: BackingRecord.State) throws {
        let (image, layout) = try Samples.cache(state: state)
        try c.damage(image, layout)
        let i = try Checker().inspect(image)
        #expect(i.has(c.code, c.severity), "expected \(c.severity) \(c.code), got \(i.problems)")
        if c.recovered {
            #expect(i.worst == .repairable, "\(i.problems)")
            #expect(i.superblock != nil)
            #expect(i.backings.first?.record != nil)
            #expect(i.backings.first?.log?.keys == 300)
        }
        for p in i.problems {
            #expect(p.error.offset < image.size, "offset of \(p) lies outside the image")
            #expect(!p.error.description.isEmpty)
        }
    }

    @Test("a cached record (stopped, cache kept) checks clean and its chain and log are walked like a running one's")
    func cached() throws {
        let (image, layout) = try Samples.cache(state: .cached)
        let i = try Checker().inspect(image)
        #expect(i.isClean, "\(i.problems)")
        let b = try #require(i.backings.first)
        #expect(b.record?.state == .cached && b.record?.holdsCache == true && !b.chainNotInitialised)
        #expect(b.chain.map(\.segment) == [0, 1, 2, 3, 4, 5])
        let log = try #require(b.log)
        #expect(log.keys == layout.keys && log.ksets == 3 && log.lastKsets == 2)
        #expect(log.cleanKeys == 30 && log.dirtyKeys == 270)
        #expect(log.dataBytesVerified == 300 * 512)
        #expect(log.keySegments == layout.keySegments && log.dirtyTailReached && log.endsClean)
        // the data of a cached record is verified: damage in it is found
        try image.flip(at: Layout.dataOffset(segment: 1, offset: 700))
        #expect(try Checker().inspect(image).has("data_crc_mismatch", .fatal))
    }

    @Test("a cached record without init_done is damage: reported on its flags, its chain not walked, no note")
    func cachedWithoutInitDone() throws {
        let (image, _) = try Samples.cache()
        try image.reseal(BackingRecord.self, at: rec(1)) {
            $0.stateValue = BackingRecord.State.cached.rawValue
            $0.flags &= ~BackingRecord.initDoneFlag
        }
        let i = try Checker().inspect(image)
        let flags = rec(1) + UInt64(MemoryLayout.offset(of: \pcache_backing_onmedia.flags)!)
        #expect(i.problems.map(\.description) == [
            "fatal: backing record 0 at offset \(flags): flags 1 out of range, allowed init_done (0x2) set in a cached "
                + "record (a cached record without an initialised cache is refused by the module)",
        ])
        let b = try #require(i.backings.first)
        #expect(b.log == nil && b.chain.isEmpty && !b.chainNotInitialised)
    }

    @Test("a running record without init_done is a note, not damage; a stopped one holds no cache")
    func runningWithoutInitDone() throws {
        for (state, note) in [(BackingRecord.State.running, true), (.stopped, false)] {
            let (image, _) = try Samples.cache()
            try image.reseal(BackingRecord.self, at: rec(1)) {
                $0.stateValue = state.rawValue
                $0.flags &= ~BackingRecord.initDoneFlag
            }
            let i = try Checker().inspect(image)
            #expect(i.isClean, "\(state): \(i.problems)")
            let b = try #require(i.backings.first)
            #expect(b.log == nil && b.chainNotInitialised == note && b.record?.holdsCache == false)
        }
    }

    @Test("a zeroed device is reported as not formatted")
    func zeroed() throws {
        let i = try Checker().inspect(SparseImage(size: 1 << 30))
        #expect(i.codes == ["not_formatted"] && i.worst == .fatal)
    }

    static let cuts: [UInt64] = [0, 100, 4096, 4096 + 60, 8192 + 128, 1 << 20, (1 << 20) + 8192, 300 << 20, (512 << 20) - 1]

    @Test("truncated images never crash and are fatal", arguments: cuts)
    func truncated(size: UInt64) throws {
        let (full, _) = try Samples.cache()
        let cut = SparseImage(copying: full, size: size)
        let i = try Checker().inspect(cut)
        #expect(i.worst == .fatal, "\(i.problems)")
    }

    @Test("a stale key (segment reclaimed) is counted, not reported")
    func stale() throws {
        let (image, l) = try Samples.cache()
        let w = try CacheWriter(image: image)
        try w.write(SegmentGen(gen: l.generations[1] + 1), slot0: Layout.segmentGenOffset(segment: 1, copy: 0), stride: Layout.positionStride)
        let i = try Checker().inspect(image)
        #expect(i.isClean, "\(i.problems)")
        #expect(i.backings.first?.log?.staleKeys == 300)
    }

    @Test("a reformat leaves no backing record behind")
    func reformat() throws {
        let (image, _) = try Samples.cache()
        try Formatter(label: "again").format(image)
        let i = try Checker().inspect(image)
        #expect(i.isClean && i.backings.isEmpty && i.superblock?.label == "again")
    }

    @Test("random byte damage never crashes the checker", arguments: 0..<8)
    func randomDamage(seed: UInt64) throws {
        var g = SplitMix(seed: seed)
        let (image, layout) = try Samples.cache()
        let hot: [UInt64] = [Layout.superblockOffset, rec(0), rec(1), seg0, seg0 + 8192, Layout.segmentOffset(2),
                             ksetAt(layout, 0), ksetAt(layout, 1), ksetAt(layout, 2)]
        for _ in 0..<200 {
            let base = hot[Int.random(in: 0..<hot.count, using: &g)]
            try image.flip(at: base + UInt64.random(in: 0..<256, using: &g), mask: UInt8.random(in: 1...255, using: &g))
            _ = try Checker().inspect(image)
        }
    }
}
