// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat
import PcacheFormat
import Testing

/// Fixed sample of every structure, encoded once into Fixtures/<name>.bin.
enum GoldenRecords {
    static func superblock() throws -> Superblock {
        try Superblock(deviceSize: 1 << 30, uuid: Samples.uuid, label: "golden", formatTime: Samples.formatTime)
    }

    static func backing() -> BackingRecord {
        var r = BackingRecord(id: 3, state: .running, path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4",
                              ident: "wwn-0x5000c500a1b2c3d4", deviceSectors: 1_953_525_168, firstSegment: 7,
                              cacheSegments: 40, flags: BackingRecord.dataCRCFlag, gcPercent: 70, queues: 4,
                              startTime: Samples.formatTime + 3600)
        r.seq = 0xFFFF_FFFF
        return r
    }

    static func segmentInfo() -> SegmentInfo {
        var s = SegmentInfo(backingID: 3, index: 12, next: 20)
        s.seq = 5
        return s
    }

    static func segmentGen() -> SegmentGen {
        var g = SegmentGen(gen: 0x1_0000_0002)
        g.seq = 9
        return g
    }

    static func position() -> LogPosition {
        var p = LogPosition(cacheSegment: 17, segmentOffset: 5144 * 3)
        p.seq = 2
        return p
    }

    static func kset() -> KeySet {
        KeySet(keys: [
            CacheKey(offset: 0, length: 4096, cacheSegment: 1, cacheSegmentOffset: 0, segmentGen: 0, dataCRC: 0xDEAD_BEEF),
            CacheKey(offset: 4 << 20, length: 512, flags: CacheKey.cleanFlag, cacheSegment: 2, cacheSegmentOffset: 4096,
                     segmentGen: 7, dataCRC: 0x0102_0304),
        ], stamp: 0x5EED_0007)
    }
}

@Suite("Golden records") struct GoldenTests {
    @Test("the superblock encodes to its golden bytes and back")
    func superblock() throws {
        let sb = try GoldenRecords.superblock()
        try Fixture.expectMatches("superblock.bin", sb.encoded())
        let decoded = try Superblock(decoding: try Fixture.bytes("superblock.bin"))
        #expect(decoded.encoded() == sb.encoded())
        #expect(decoded.segmentCount == 63)
        #expect(decoded.label == "golden")
        #expect(decoded.uuidString == "6f1d3a52-9c0e-4b11-8a77-023cd45e9021")
        try decoded.validate(deviceSize: 1 << 30)
    }

    @Test("the backing record encodes to its golden bytes and back")
    func backing() throws {
        try Fixture.expectMatches("backing.bin", GoldenRecords.backing().encoded())
        let r = try BackingRecord(decoding: try Fixture.bytes("backing.bin"), region: Region(.backingRecord(id: 3)))
        #expect(r.encoded() == GoldenRecords.backing().encoded())
        #expect(r.path == "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4")
        #expect(r.state == .running && r.dataCRC && r.seq == 0xFFFF_FFFF)
        #expect(r.problems(id: 3, segmentCount: 63, offset: 0).isEmpty)
    }

    @Test("segment info, generation and position encode to their golden bytes and back")
    func smallRecords() throws {
        try Fixture.expectMatches("seg_info.bin", GoldenRecords.segmentInfo().encoded())
        try Fixture.expectMatches("seg_gen.bin", GoldenRecords.segmentGen().encoded())
        try Fixture.expectMatches("pos.bin", GoldenRecords.position().encoded())
        let info = try SegmentInfo(decoding: try Fixture.bytes("seg_info.bin"), region: Region(.segmentInfo(segment: 0)))
        #expect(info.encoded() == GoldenRecords.segmentInfo().encoded())
        #expect(info.hasNext && info.nextSegment == 20 && info.index == 12 && info.backingID == 3)
        let gen = try SegmentGen(decoding: try Fixture.bytes("seg_gen.bin"), region: Region(.segmentGen(segment: 0)))
        #expect(gen.gen == 0x1_0000_0002)
        let pos = try LogPosition(decoding: try Fixture.bytes("pos.bin"), region: Region(.keyTail(backing: 0)))
        #expect(pos.cacheSegment == 17 && pos.segmentOffset == 5144 * 3)
    }

    @Test("ksets with keys and LAST ksets encode to their golden bytes and back")
    func ksets() throws {
        try Fixture.expectMatches("kset.bin", GoldenRecords.kset().encoded())
        try Fixture.expectMatches("kset-last.bin", KeySet(lastPointingTo: 5, stamp: 0x5EED_0007).encoded())
        let k = try KeySet(decoding: try Fixture.bytes("kset.bin"), region: Region(.device))
        #expect(k.encoded() == GoldenRecords.kset().encoded())
        #expect(k.keys == GoldenRecords.kset().keys)
        #expect(k.keys[1].isClean && k.keys[1].offset == 4 << 20)
        let last = try KeySet(decoding: try Fixture.bytes("kset-last.bin"), region: Region(.device))
        #expect(last.isLast && last.header.nextCacheSegment == 5 && last.keys.isEmpty)
    }

    @Test("a formatted 512 MiB image is byte for byte the golden one")
    func formattedImage() throws {
        let image = try Samples.formatted()
        try Fixture.expectMatches("formatted-512MiB.sparse", image.serialized())
        let stored = try #require(SparseImage(serialized: try Fixture.bytes("formatted-512MiB.sparse")))
        let inspection = try Checker().inspect(stored)
        #expect(inspection.isClean, "\(inspection.problems)")
        #expect(inspection.superblock?.segmentCount == 31)
    }

    @Test("a 512 MiB image with a running cache is byte for byte the golden one and checks clean")
    func cacheImage() throws {
        let (image, layout) = try Samples.cache()
        try Fixture.expectMatches("cache-512MiB.sparse", image.serialized())
        let stored = try #require(SparseImage(serialized: try Fixture.bytes("cache-512MiB.sparse")))
        let i = try Checker().inspect(stored)
        #expect(i.isClean, "\(i.problems)")
        let log = try #require(i.backings.first?.log)
        #expect(log.keys == layout.keys && log.ksets == 3 && log.lastKsets == 2)
        #expect(log.cleanKeys == 30 && log.dirtyKeys == 270 && log.staleKeys == 0)
        #expect(log.dataBytesVerified == 300 * 512)
        #expect(log.keySegments == layout.keySegments)
        #expect(log.dirtyTailReached && log.endsClean)
        #expect(i.backings.first?.chain.map(\.segment) == [0, 1, 2, 3, 4, 5])
    }
}

@Suite("Round trips") struct RoundTripTests {
    @Test("random backing records survive encode and decode", arguments: 0..<20)
    func backing(seed: UInt64) throws {
        var g = SplitMix(seed: seed)
        var r = BackingRecord(id: UInt32.random(in: 0..<64, using: &g), state: .stopped,
                              path: "/dev/" + String(repeating: "x", count: Int.random(in: 0...250, using: &g)),
                              ident: String(repeating: "i", count: Int.random(in: 0...63, using: &g)),
                              deviceSectors: g.next(), firstSegment: UInt32.random(in: 0...UInt32.max, using: &g),
                              cacheSegments: UInt32.random(in: 0...UInt32.max, using: &g), flags: UInt32.random(in: 0...1, using: &g),
                              gcPercent: UInt32.random(in: 0...90, using: &g), queues: UInt32.random(in: 1...128, using: &g),
                              startTime: g.next())
        r.seq = UInt32.random(in: 0...UInt32.max, using: &g)
        let bytes = r.encoded()
        #expect(bytes.count == 512)
        let back = try BackingRecord(decoding: bytes, region: Region(.device))
        #expect(back.encoded() == bytes)
        #expect(back.path == r.path && back.deviceSectors == r.deviceSectors && back.seq == r.seq)
    }

    @Test("random keys survive a kset round trip", arguments: 0..<20)
    func keys(seed: UInt64) throws {
        var g = SplitMix(seed: seed)
        let keys = (0..<Int.random(in: 0...128, using: &g)).map { _ in
            CacheKey(offset: g.next(), length: UInt32.random(in: 0...UInt32.max, using: &g),
                     flags: UInt32.random(in: 0...3, using: &g), cacheSegment: UInt32.random(in: 0...UInt32.max, using: &g),
                     cacheSegmentOffset: UInt32.random(in: 0...UInt32.max, using: &g), segmentGen: g.next(),
                     dataCRC: UInt32.random(in: 0...UInt32.max, using: &g))
        }
        let k = KeySet(keys: keys, stamp: UInt32.random(in: 0...UInt32.max, using: &g))
        let bytes = k.encoded()
        #expect(bytes.count == 24 + 40 * keys.count)
        #expect(try KeySet(decoding: bytes, region: Region(.device)).keys == keys)
    }

    @Test("a flipped byte anywhere in a superblock is caught", arguments: Array(0..<128))
    func superblockFlip(at offset: Int) throws {
        var bytes = try GoldenRecords.superblock().encoded()
        bytes[offset] ^= 0xFF
        #expect(throws: FormatError.self) { try Superblock(decoding: bytes) }
    }

    @Test("a flipped byte anywhere in a kset is caught", arguments: Array(0..<104))
    func ksetFlip(at offset: Int) throws {
        var bytes = GoldenRecords.kset().encoded()
        bytes[offset] ^= 0x5A
        #expect(throws: FormatError.self) { try KeySet(decoding: bytes + [UInt8](repeating: 0, count: 64), region: Region(.device)) }
    }

    @Test("a truncated record is refused with its needed length")
    func truncated() {
        let bytes = Array(GoldenRecords.backing().encoded().prefix(100))
        #expect(throws: FormatError.truncated(region: Region(.backingRecord(id: 1)), offset: 7, needed: 512, available: 100)) {
            try BackingRecord(decoding: bytes, region: Region(.backingRecord(id: 1)), offset: 7)
        }
    }

    @Test("a kset claiming 129 keys is refused before its crc is computed")
    func tooManyKeys() {
        var k = GoldenRecords.kset()
        k.header.keyCount = 129
        let bytes = k.encoded() + [UInt8](repeating: 0, count: 6000)
        #expect(throws: FormatError.keyCountOutOfRange(region: Region(.device), offset: 4, found: 129, max: 128)) {
            try KeySet(decoding: bytes, region: Region(.device))
        }
    }
}

@Suite("Backing record states") struct BackingStateTests {
    static let stateOffset = UInt64(MemoryLayout.offset(of: \pcache_backing_onmedia.state)!)
    static let flagsOffset = UInt64(MemoryLayout.offset(of: \pcache_backing_onmedia.flags)!)

    func record(_ state: UInt32, initDone: Bool) -> BackingRecord {
        var r = GoldenRecords.backing()
        r.stateValue = state
        r.flags = initDone ? r.flags | BackingRecord.initDoneFlag : r.flags & ~BackingRecord.initDoneFlag
        return r
    }

    @Test("the states are the header's, with their machine names")
    func values() {
        #expect(BackingRecord.State.allCases.map(\.rawValue) == [
            UInt32(PCACHE_BACKING_STATE_FREE), UInt32(PCACHE_BACKING_STATE_RUNNING),
            UInt32(PCACHE_BACKING_STATE_STOPPED), UInt32(PCACHE_BACKING_STATE_CACHED),
        ])
        #expect(BackingRecord.State.allCases.map(\.name) == ["free", "running", "stopped", "cached"])
        #expect(BackingRecord.State.cached.phrase == "cached (stopped, cache kept)")
        #expect(BackingRecord.State(rawValue: UInt32(PCACHE_BACKING_STATE_CACHED) + 1) == nil)
    }

    @Test("a cached record with init_done is valid and holds a cache, as a running one does")
    func cachedValid() {
        let r = record(UInt32(PCACHE_BACKING_STATE_CACHED), initDone: true)
        #expect(r.state == .cached)
        #expect(r.problems(id: 3, segmentCount: 63, offset: 0).isEmpty)
        #expect(r.holdsCache)
        #expect(record(1, initDone: true).holdsCache)
        #expect(!record(1, initDone: false).holdsCache)
        #expect(!record(2, initDone: true).holdsCache && !record(0, initDone: true).holdsCache)
    }

    @Test("a cached record without init_done is reported on its flags")
    func cachedWithoutInitDone() {
        let r = record(3, initDone: false)
        #expect(!r.holdsCache)
        #expect(r.problems(id: 3, segmentCount: 63, offset: 20480) == [
            .fieldOutOfRange(region: Region(.backingRecord(id: 3)), field: "flags", offset: 20480 + Self.flagsOffset,
                             found: UInt64(BackingRecord.dataCRCFlag),
                             allowed: "init_done (0x2) set in a cached record (a cached record without an initialised "
                                + "cache is refused by the module)"),
        ])
    }

    @Test("a cached record's chain is bounded like a running one's")
    func cachedBounds() {
        var r = record(3, initDone: true)
        r.firstSegment = 63
        #expect(r.problems(id: 3, segmentCount: 63, offset: 0).map(\.code) == ["field_out_of_range"])
        r.firstSegment = 7
        r.cacheSegments = 0
        #expect(r.problems(id: 3, segmentCount: 63, offset: 0).map(\.code) == ["field_out_of_range"])
    }

    @Test("state 4, one past cached, is out of range", arguments: [UInt32(4), 7, 0xFFFF_FFFF])
    func unknown(value: UInt32) {
        #expect(record(value, initDone: true).problems(id: 3, segmentCount: 63, offset: 0) == [
            .fieldOutOfRange(region: Region(.backingRecord(id: 3)), field: "state", offset: Self.stateOffset,
                             found: UInt64(value), allowed: "0 (free), 1 (running), 2 (stopped) or 3 (cached)"),
        ])
    }
}

@Suite("Superblock validation") struct SuperblockValidationTests {
    @Test("a device below 512 MiB cannot be formatted")
    func tooSmall() {
        #expect(throws: FormatError.deviceTooSmall(size: (512 << 20) - 1, minimum: 512 << 20)) {
            try Superblock(deviceSize: (512 << 20) - 1, uuid: Samples.uuid, formatTime: 0)
        }
    }

    @Test("another version, unknown incompat bits and a wrong geometry are refused; unknown compat bits are not")
    func refusals() throws {
        let base = try GoldenRecords.superblock()
        #expect(base.version == UInt16(PCACHE_FORMAT_VERSION))
        var v = base
        v.version = Layout.formatVersion + 1
        #expect(throws: FormatError.unsupportedVersion(offset: 4096 + 4, found: Layout.formatVersion + 1,
                                                       supported: Layout.formatVersion)) { try v.validate(deviceSize: 1 << 30) }
        var old = base
        old.version = Layout.formatVersion - 1
        #expect(throws: FormatError.unsupportedVersion(offset: 4096 + 4, found: Layout.formatVersion - 1,
                                                       supported: Layout.formatVersion)) { try old.validate(deviceSize: 1 << 30) }
        let older = FormatError.unsupportedVersion(offset: 0, found: Layout.formatVersion - 1, supported: Layout.formatVersion)
        #expect(older.reason.hasPrefix("older format version \(Layout.formatVersion - 1) (this tool reads version "
                                       + "\(Layout.formatVersion)): write its caches back under the version "
                                       + "\(Layout.formatVersion - 1) module, then format it"), "\(older.reason)")
        let newer = FormatError.unsupportedVersion(offset: 0, found: Layout.formatVersion + 1, supported: Layout.formatVersion)
        #expect(newer.reason == "unsupported format version \(Layout.formatVersion + 1) (this tool reads version \(Layout.formatVersion))")
        var inc = base
        inc.featureIncompat = 0x10
        #expect(throws: FormatError.unknownIncompatFeatures(offset: 4096 + 24, bits: 0x10)) { try inc.validate(deviceSize: 1 << 30) }
        var ro = base
        ro.featureRoCompat = 1
        try ro.validate(deviceSize: 1 << 30)
        #expect(throws: FormatError.unknownRoCompatFeatures(offset: 4096 + 20, bits: 1)) {
            try ro.validate(deviceSize: 1 << 30, forWriting: true)
        }
        var compat = base
        compat.featureCompat = 0xFFFF_FFFF
        try compat.validate(deviceSize: 1 << 30)
        var geo = base
        geo.segmentSize = 1 << 20
        #expect(throws: FormatError.geometryMismatch(field: "seg_size", offset: 4096 + 32, found: 1 << 20, expected: 16 << 20)) {
            try geo.validate(deviceSize: 1 << 30)
        }
        #expect(throws: FormatError.segmentCountOutOfRange(offset: 4096 + 28, found: 63, fits: 31)) {
            try base.validate(deviceSize: 512 << 20)
        }
    }
}

@Suite("Copy rule") struct CopyRuleTests {
    func copies(_ seqs: [UInt32?]) -> Copies<LogPosition> {
        Copies(slots: seqs.map { s in
            guard let s else { return .empty }
            var p = LogPosition(cacheSegment: s, segmentOffset: 0)
            p.seq = s
            return .valid(p)
        }, offsets: [0, 16])
    }

    static let pairs: [([UInt32], Int)] = [
        ([1, 2], 1), ([7, 6], 0), ([0xFFFF_FFFF, 0], 1), ([0, 0xFFFF_FFFF], 0), ([0x8000_0000, 1], 0), ([5, 5], 0),
    ]

    @Test("the newer seq wins in 32-bit serial arithmetic, across the wrap", arguments: pairs)
    func latest(seqs: [UInt32], slot: Int) {
        #expect(copies(seqs.map { $0 }).latest?.slot == slot)
    }

    @Test("a write goes to the slot not holding the latest copy with seq + 1")
    func writeSlot() {
        #expect(copies([nil, nil]).slotToWrite == 0 && copies([nil, nil]).nextSeq == 1)
        #expect(copies([1, nil]).slotToWrite == 1 && copies([1, nil]).nextSeq == 2)
        #expect(copies([3, 4]).slotToWrite == 0 && copies([3, 4]).nextSeq == 5)
        #expect(copies([nil, 9]).slotToWrite == 0)
        #expect(copies([0xFFFF_FFFF, 0xFFFF_FFFE]).nextSeq == 0)
    }

    @Test("writing alternates slots and a torn latest write falls back to the previous copy")
    func alternate() throws {
        let image = MemoryImage(size: 64)
        let w = try CacheWriterHarness(image: image)
        for n in 1...5 {
            let slot = try w.write(LogPosition(cacheSegment: UInt32(n), segmentOffset: 0))
            #expect(slot == (n - 1) % 2)
        }
        #expect(try w.read().latest?.record.cacheSegment == 5)
        try image.flip(at: 0 + 9)   // slot 0 holds seq 5: tear it
        let after = try w.read()
        #expect(after.latest?.record.cacheSegment == 4)
        #expect(after.problems(region: Region(.keyTail(backing: 0))).map(\.1) == [true])
    }
}

/// The copy rule on a bare two-slot image (no superblock needed).
struct CacheWriterHarness {
    let image: MemoryImage
    init(image: MemoryImage) throws { self.image = image }

    func read() throws -> Copies<LogPosition> {
        let bytes = try image.read(at: 0, count: 32)
        return bytes.withUnsafeBytes { all in
            Copies<LogPosition>(decoding: { UnsafeRawBufferPointer(rebasing: all[$0 * 16..<$0 * 16 + 16]) },
                                region: Region(.keyTail(backing: 0)), offsets: [0, 16])
        }
    }

    func write(_ p: LogPosition) throws -> Int {
        let c = try read()
        var r = p
        r.seq = c.nextSeq
        try image.write(r.encoded(), at: UInt64(c.slotToWrite * 16))
        return c.slotToWrite
    }
}
