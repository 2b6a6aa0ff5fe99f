// SPDX-License-Identifier: Apache-2.0
//
// pcache-corrupt: writes deliberately damaged pcache cache devices for the
// corrupted-media suites (Tests/kernel/060-corrupt-media.sh, make soak).
//
//   pcache-corrupt list                         every case: name, expectation, what is damaged
//   pcache-corrupt write CASE DEVICE [--backing-path P] [--backing-sectors N]
//                                               a valid cache with dirty data, then CASE's damage
//   pcache-corrupt verify DEVICE                the cached extents read back from DEVICE (/dev/pcacheN)
//   pcache-corrupt serve DEVICE [--backing-path P] [--backing-sectors N]
//                                               reads "write CASE" / "verify DEV" lines on stdin and
//                                               answers one line each (one process for a whole suite)
//   pcache-corrupt selfcheck [--random N]       every case (and N random ones) on in-memory images
//                                               through the Checker: each must be reported
//
// CASE is a name from `list` or random-<seed> (random bytes of the metadata flipped, some
// records resealed so the damage passes the crc and reaches the deeper checks).
//
// Expectations: "recover" (one copy of a two-copy record damaged: the kernel must use the good
// copy and every cached extent must read back), "refuse" (the kernel must refuse the device or
// the cache with a log line), "any" (either, but never a crash or hang).
//
// Everything on-media comes from PcacheFormat and pcache_format.h; this file declares no offsets.

import CPcacheFormat
import PcacheFormat

#if canImport(Glibc)
import Glibc
#endif

// MARK: - The base image

/// What the base image holds: one running cache of `cacheSegments` segments for backing 0 with
/// `extents` dirty extents of 4 KiB at `extentStride` steps, spread over three key segments
/// (linked by LAST ksets), every two-copy record written twice so both slots are valid.
enum Base {
    static let cacheSegments: UInt32 = 8
    static let extents = 300
    static let extentSize = 4096
    static let extentStride: UInt64 = 12288
    static let label = "pcache-corrupt"
    /// Segment generations come from this seed (CacheWriter.firstGenerations): images are reproducible.
    static let generationSeed: UInt64 = 0x060

    /// The 4 KiB written for backing offset `offset`: 64-bit words that encode their own offset.
    static func pattern(offset: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: extentSize)
        out.withUnsafeMutableBytes { b in
            for j in 0..<(extentSize / 8) {
                let v = (offset &+ UInt64(j * 8)) ^ 0x7063_6163_6865_0000
                b.storeBytes(of: v.littleEndian, toByteOffset: j * 8, as: UInt64.self)
            }
        }
        return out
    }

    static func extentOffset(_ i: Int) -> UInt64 { UInt64(i) * extentStride }
}

/// Where the base image put things, for the damage functions.
struct Built {
    var superblock: Superblock
    /// Physical ids of backing 0's chain, in chain order.
    var segments: [UInt32]
    /// Their generations.
    var generations: [UInt64]
    /// Kset positions (chain index, data-area offset) with keys, in log order.
    var ksets: [(segment: UInt32, offset: UInt32)]
    /// LAST ksets (chain index, offset) in log order.
    var lasts: [(segment: UInt32, offset: UInt32)]
    /// Where the zero header that ends the log lies.
    var end: (segment: UInt32, offset: UInt32)
    /// Chain index of the data segment.
    var dataSegment: UInt32
    var backingSectors: UInt64

    /// The gen_stamp of ksets in chain segment `chainIndex`.
    func stamp(_ chainIndex: UInt32) -> UInt32 { KeySet.stamp(generation: generations[Int(chainIndex)]) }
}

func buildBase<I: ImageSink>(_ image: I, backingPath: String, backingSectors: UInt64, dataCRC: Bool) throws -> Built {
    let formatter = try Formatter(label: Base.label, uuid: Array(0..<16), formatTime: 1_700_000_000)
    let sb = try formatter.format(image)
    var writer = try CacheWriter(image: image)
    var log = try writer.startCache(id: 0, path: backingPath, deviceSectors: backingSectors,
                                    cacheSegments: Base.cacheSegments,
                                    flags: dataCRC ? BackingRecord.dataCRCFlag : 0, generationSeed: Base.generationSeed)
    // Small enough that every full kset opens a new key segment through a LAST kset.
    log.keySegmentLimit = UInt64(Layout.ksetSizeMax + 1000)
    var dataSegment: UInt32?
    for i in 0..<Base.extents {
        let off = Base.extentOffset(i)
        let ok = try Base.pattern(offset: off).withUnsafeBytes { try log.cache($0, at: off) }
        guard ok else { throw Usage("the base cache ran out of room at extent \(i)") }
    }
    guard try log.flush() else { throw Usage("the base cache ran out of key segments") }
    // The data segment: the chain index the first key points at.
    let firstKset = try readKset(image, segments: log.segments, at: log.ksetPositions[0])
    dataSegment = firstKset.keys.first?.cacheSegment

    // Every two-copy record a second time: seq 2 in slot 1, so both slots are valid.
    let rec = BackingRecord(id: 0, state: .running, path: backingPath, deviceSectors: backingSectors,
                            firstSegment: log.segments[0], cacheSegments: Base.cacheSegments,
                            flags: (dataCRC ? BackingRecord.dataCRCFlag : 0) | BackingRecord.initDoneFlag)
    try writer.write(rec, slot0: Layout.backingRecordOffset(id: 0, copy: 0), stride: Layout.slotSize)
    for (i, seg) in log.segments.enumerated() {
        let next = i + 1 < log.segments.count ? log.segments[i + 1] : nil
        try writer.write(SegmentInfo(backingID: 0, index: UInt32(i), next: next),
                         slot0: Layout.segmentInfoOffset(segment: seg, copy: 0), stride: Layout.slotSize)
        try writer.write(SegmentGen(gen: log.generations[i]), slot0: Layout.segmentGenOffset(segment: seg, copy: 0),
                         stride: Layout.positionStride)
    }
    try log.setTails(keyTail: (0, 0), dirtyTail: (0, 0))
    try image.sync()

    // Walk the log once to learn the LAST ksets and the end, the way a reader would.
    var lasts: [(UInt32, UInt32)] = []
    var pos: (segment: UInt32, offset: UInt32) = (0, 0)
    var steps = 0
    while steps < 64 {
        steps += 1
        let hdr = try image.read(at: Layout.dataOffset(segment: log.segments[Int(pos.segment)], offset: UInt64(pos.offset)),
                                 count: Layout.ksetHeaderSize)
        if hdr.allSatisfy({ $0 == 0 }) { break }
        let k = try readKset(image, segments: log.segments, at: pos)
        if k.isLast {
            lasts.append(pos)
            pos = (k.header.nextCacheSegment, 0)
        } else {
            pos.offset += UInt32(k.size)
        }
    }
    // The rest of the last key segment as a new cache leaves it: without anything of this log. The module
    // scans it for ksets with this generation's stamp (a damaged log), and the generations here are seeded:
    // the ksets an earlier engine run appended on this device would carry the same stamps.
    try zeroSegmentTail(image, segment: log.segments[Int(pos.segment)], from: UInt64(pos.offset))
    try image.sync()
    return Built(superblock: sb, segments: log.segments, generations: log.generations, ksets: log.ksetPositions,
                 lasts: lasts, end: pos, dataSegment: dataSegment ?? 1, backingSectors: backingSectors)
}

/// Zeroes the data area of `segment` from `from` on, writing only the chunks that are not zero already.
func zeroSegmentTail<I: ImageSink>(_ image: I, segment: UInt32, from: UInt64) throws {
    let chunk = 65536
    let zeros = [UInt8](repeating: 0, count: chunk)
    var off = from
    while off < Layout.segmentDataSize {
        let n = Int(min(UInt64(chunk), Layout.segmentDataSize - off))
        let at = Layout.dataOffset(segment: segment, offset: off)
        if try image.read(at: at, count: n).contains(where: { $0 != 0 }) {
            try zeros.withUnsafeBytes { try image.write(UnsafeRawBufferPointer(rebasing: $0[0..<n]), at: at) }
        }
        off += UInt64(n)
    }
}

func readKset<I: ImageSource>(_ image: I, segments: [UInt32], at pos: (segment: UInt32, offset: UInt32)) throws -> KeySet {
    let off = Layout.dataOffset(segment: segments[Int(pos.segment)], offset: UInt64(pos.offset))
    let bytes = try image.read(at: off, count: Layout.ksetSizeMax)
    return try KeySet(decoding: bytes, region: Region(.kset(backing: 0, chainIndex: pos.segment, offset: pos.offset)),
                      offset: off)
}

// MARK: - Damage primitives

struct Usage: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Loads the C struct `R.Raw` at `offset`.
func load<R: OnMediaStruct, I: ImageSource>(_: R.Type, _ image: I, at offset: UInt64) throws -> R {
    let bytes = try image.read(at: offset, count: R.size)
    guard bytes.count == R.size else { throw Usage("short read at \(offset)") }
    return bytes.withUnsafeBytes { R(raw: $0.loadUnaligned(as: R.Raw.self)) }
}

/// Rewrites the record at `offset` after `change`; `reseal` recomputes its crc (the damage then
/// passes the crc check and must be caught by a field check).
func mutate<R: ChecksummedStruct, I: ImageSink>(_ t: R.Type, _ image: I, at offset: UInt64, reseal: Bool = true,
                                                 _ change: (inout R) -> Void) throws {
    var r = try load(t, image, at: offset)
    change(&r)
    try image.write(reseal ? r.encoded() : r.rawBytes, at: offset)
}

/// Flips every bit of the byte at `offset` (a crc or magic byte: the copy becomes invalid).
func flip<I: ImageSink>(_ image: I, at offset: UInt64, mask: UInt8 = 0xFF) throws {
    var b = try image.read(at: offset, count: 1)
    b[0] ^= mask
    try image.write(b, at: offset)
}

func fieldOffset<Raw, V>(_ path: KeyPath<Raw, V>) -> UInt64 { UInt64(MemoryLayout<Raw>.offset(of: path)!) }

/// Recomputes a kset's crc over `keyNum` keys as they lie on media.
func resealKset<I: ImageSink>(_ image: I, at off: UInt64, keyNum: Int) throws {
    let size = Layout.ksetHeaderSize + keyNum * Layout.keySize
    var bytes = try image.read(at: off, count: size)
    let crc = CRC32C.checksum(bytes[Layout.crcStart...])
    withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange(0..<4, with: $0) }
    try image.write(Array(bytes[0..<4]), at: off)
}

// MARK: - The cases

enum Expect: String { case recover, refuse, any }

/// What `pcachectl check` (the Checker) must say about the image: nothing, repairable only (exit 2),
/// fatal (65), some damage (2 or 65), or anything (damage only visible online, e.g. a backing device
/// size that differs from the record, or a slot zeroed that looks never written).
enum CheckExpect: String { case clean, repairable, fatal, damaged, any }

struct Case {
    var name: String
    var expect: Expect
    var what: String
    /// The base needs data_crc on.
    var dataCRC = false
    /// Overrides the check expectation derived from `expect`.
    var checkOverride: CheckExpect? = nil
    var check: CheckExpect {
        if let c = checkOverride { return c }
        switch expect {
        case .recover: return .repairable
        case .refuse: return .fatal
        case .any: return .damaged
        }
    }
    /// The damage, applied after the base is built.
    var apply: (any ImageSink, Built) throws -> Void
}

/// Both superblock copies, changed by `change` and resealed.
func bothSuperblocks(_ img: any ImageSink, reseal: Bool = true, _ change: @escaping (inout Superblock) -> Void) throws {
    for c in 0..<Layout.metaCopies {
        try mutate(Superblock.self, img, at: Layout.superblockOffset(copy: c), reseal: reseal, change)
    }
}

/// Both slots of backing record 0 (the latest is slot 1).
func bothBacking(_ img: any ImageSink, _ change: @escaping (inout BackingRecord) -> Void) throws {
    for c in 0..<Layout.metaCopies {
        try mutate(BackingRecord.self, img, at: Layout.backingRecordOffset(id: 0, copy: c), change)
    }
}

func bothSegInfo(_ img: any ImageSink, _ seg: UInt32, _ change: @escaping (inout SegmentInfo) -> Void) throws {
    for c in 0..<Layout.metaCopies {
        try mutate(SegmentInfo.self, img, at: Layout.segmentInfoOffset(segment: seg, copy: c), change)
    }
}

func bothPos(_ img: any ImageSink, key: Bool, first: UInt32, _ change: @escaping (inout LogPosition) -> Void) throws {
    for c in 0..<Layout.metaCopies {
        let off = key ? Layout.keyTailOffset(firstSegment: first, copy: c) : Layout.dirtyTailOffset(firstSegment: first, copy: c)
        try mutate(LogPosition.self, img, at: off, change)
    }
}

/// Key `index` of the first kset, changed and the kset resealed.
func mutateKey(_ img: any ImageSink, _ b: Built, kset: Int = 0, index: Int = 5, _ change: @escaping (inout CacheKey) -> Void) throws {
    let pos = b.ksets[kset]
    let off = Layout.dataOffset(segment: b.segments[Int(pos.segment)], offset: UInt64(pos.offset))
    var k = try readKset(img, segments: b.segments, at: pos)
    change(&k.keys[index])
    try img.write(k.encoded(), at: off)
}

func ksetOffset(_ b: Built, _ pos: (segment: UInt32, offset: UInt32)) -> UInt64 {
    Layout.dataOffset(segment: b.segments[Int(pos.segment)], offset: UInt64(pos.offset))
}

let sbCRC = UInt64(0)
let sbMagic = fieldOffset(\pcache_sb_onmedia.magic)

func allCases() -> [Case] {
    var c: [Case] = []
    func add(_ name: String, _ expect: Expect, _ what: String, dataCRC: Bool = false, check: CheckExpect? = nil,
             _ apply: @escaping (any ImageSink, Built) throws -> Void) {
        c.append(Case(name: name, expect: expect, what: what, dataCRC: dataCRC, checkOverride: check, apply: apply))
    }
    add("clean", .recover, "no damage (control)", check: .clean) { _, _ in }

    // Superblock.
    add("sb0-crc", .recover, "superblock copy 0 crc") { i, _ in try flip(i, at: Layout.superblockOffset(copy: 0) + sbCRC) }
    add("sb1-crc", .recover, "superblock copy 1 crc") { i, _ in try flip(i, at: Layout.superblockOffset(copy: 1) + sbCRC) }
    add("sb0-magic", .recover, "superblock copy 0 magic") { i, _ in try flip(i, at: Layout.superblockOffset(copy: 0) + sbMagic) }
    add("sb0-zero", .recover, "superblock copy 0 zeroed") { i, _ in
        try i.zero(at: Layout.superblockOffset(copy: 0), count: Layout.superblockSlotSize)
    }
    add("sb-both-crc", .refuse, "both superblock crcs") { i, _ in
        for k in 0..<2 { try flip(i, at: Layout.superblockOffset(copy: k) + sbCRC) }
    }
    add("sb-both-magic", .refuse, "both superblock magics") { i, _ in
        for k in 0..<2 { try flip(i, at: Layout.superblockOffset(copy: k) + sbMagic, mask: 0x01) }
    }
    add("sb-both-zero", .refuse, "both superblocks zeroed (not formatted)") { i, _ in
        for k in 0..<2 { try i.zero(at: Layout.superblockOffset(copy: k), count: Layout.superblockSlotSize) }
    }
    add("sb-version", .refuse, "format version PCACHE_FORMAT_VERSION + 1, resealed") { i, _ in
        try bothSuperblocks(i) { $0.version = UInt16(PCACHE_FORMAT_VERSION) + 1 }
    }
    add("sb-version-0", .refuse, "format version 0, resealed") { i, _ in try bothSuperblocks(i) { $0.version = 0 } }
    add("sb-incompat", .refuse, "unknown incompat feature bit, resealed") { i, _ in
        try bothSuperblocks(i) { $0.featureIncompat = 0x8000_0000 }
    }
    add("sb-ro-compat", .any, "unknown ro_compat feature bit (read-only or refused)") { i, _ in
        try bothSuperblocks(i) { $0.featureRoCompat = 0x4 }
    }
    add("sb-flags", .refuse, "unknown superblock flag") { i, _ in try bothSuperblocks(i) { $0.flags = 0x8000 } }
    add("sb-seg-num-plus1", .refuse, "seg_num one more than fits") { i, b in
        try bothSuperblocks(i) { $0.segmentCount = b.superblock.segmentCount + 1 }
    }
    add("sb-seg-num-zero", .refuse, "seg_num 0") { i, _ in try bothSuperblocks(i) { $0.segmentCount = 0 } }
    add("sb-seg-num-max", .refuse, "seg_num 0xffffffff") { i, _ in try bothSuperblocks(i) { $0.segmentCount = .max } }
    add("sb-seg-num-segmax", .refuse, "seg_num PCACHE_SEG_MAX") { i, _ in
        try bothSuperblocks(i) { $0.segmentCount = Layout.segmentMax }
    }
    add("sb-seg-size", .refuse, "seg_size 1 MiB") { i, _ in try bothSuperblocks(i) { $0.segmentSize = 1 << 20 } }
    add("sb-seg-size-zero", .refuse, "seg_size 0") { i, _ in try bothSuperblocks(i) { $0.segmentSize = 0 } }
    add("sb-backing-max", .refuse, "backing_max 4096") { i, _ in try bothSuperblocks(i) { $0.backingMax = 4096 } }
    add("sb-segments-off", .refuse, "segments_off past the device") { i, _ in
        try bothSuperblocks(i) { $0.segmentsOffset = 1 << 60 }
    }
    add("sb-dev-size", .refuse, "dev_size larger than the device") { i, _ in
        try bothSuperblocks(i) { $0.deviceSize = $0.deviceSize * 4 }
    }
    add("sb0-version-1-good", .any, "copy 0 resealed with version 9, copy 1 good") { i, _ in
        try mutate(Superblock.self, i, at: Layout.superblockOffset(copy: 0)) { $0.version = 9 }
    }

    // Backing record 0 (slot 1 is the latest copy).
    let br = { (k: Int) in Layout.backingRecordOffset(id: 0, copy: k) }
    add("backing-latest-crc", .recover, "backing record 0: latest slot crc") { i, _ in try flip(i, at: br(1)) }
    add("backing-older-crc", .recover, "backing record 0: older slot crc") { i, _ in try flip(i, at: br(0)) }
    add("backing-latest-zero", .recover, "backing record 0: latest slot zeroed (looks never written)", check: .any) { i, _ in
        try i.zero(at: br(1), count: Layout.slotSize)
    }
    add("backing-both-crc", .refuse, "backing record 0: both slots' crc") { i, _ in
        try flip(i, at: br(0)); try flip(i, at: br(1))
    }
    add("backing-same-seq", .any, "backing record 0: both slots valid with one seq, different content") { i, _ in
        try mutate(BackingRecord.self, i, at: br(1)) { $0.seq = 1; $0.gcPercent = 33 }
    }
    add("backing-id", .refuse, "backing_id 5 in record 0") { i, _ in try bothBacking(i) { $0.backingID = 5 } }
    add("backing-id-huge", .refuse, "backing_id 0xffffffff in record 0") { i, _ in
        try bothBacking(i) { $0.backingID = .max }
    }
    add("backing-state", .refuse, "state 7") { i, _ in try bothBacking(i) { $0.stateValue = 7 } }
    add("backing-first-seg", .refuse, "first_seg past seg_num") { i, b in
        try bothBacking(i) { $0.firstSegment = b.superblock.segmentCount + 3 }
    }
    add("backing-first-seg-max", .refuse, "first_seg 0xffffffff") { i, _ in try bothBacking(i) { $0.firstSegment = .max } }
    add("backing-cache-segs-zero", .refuse, "cache_segs 0") { i, _ in try bothBacking(i) { $0.cacheSegments = 0 } }
    add("backing-cache-segs-max", .refuse, "cache_segs 0xffffffff") { i, _ in
        try bothBacking(i) { $0.cacheSegments = .max }
    }
    add("backing-cache-segs-more", .refuse, "cache_segs larger than the chain") { i, _ in
        try bothBacking(i) { $0.cacheSegments = Base.cacheSegments + 2 }
    }
    add("backing-cache-segs-fewer", .any, "cache_segs smaller than the chain") { i, _ in
        try bothBacking(i) { $0.cacheSegments = Base.cacheSegments - 2 }
    }
    add("backing-gc-percent", .any, "gc_percent 250") { i, _ in try bothBacking(i) { $0.gcPercent = 250 } }
    add("backing-queues-zero", .refuse, "queues 0") { i, _ in try bothBacking(i) { $0.queues = 0 } }
    add("backing-queues-huge", .refuse, "queues 100000") { i, _ in try bothBacking(i) { $0.queues = 100_000 } }
    add("backing-flags", .refuse, "unknown backing flag") { i, _ in try bothBacking(i) { $0.flags = 0x8000_0000 } }
    add("backing-path-no-nul", .refuse, "path with no NUL") { i, _ in
        try bothBacking(i) { $0.pathBytes = [UInt8](repeating: 0x41, count: Layout.pathLength) }
    }
    add("backing-ident-no-nul", .refuse, "ident with no NUL") { i, _ in
        try bothBacking(i) { $0.identBytes = [UInt8](repeating: 0x42, count: Layout.identLength) }
    }
    add("backing-dev-sectors-huge", .refuse, "dev_sectors 2^62 (a different disk; only visible online)", check: .any) { i, _ in
        try bothBacking(i) { $0.deviceSectors = 1 << 62 }
    }
    add("backing-63-garbage", .any, "record 63 crc-valid with state running and first_seg out of range") { i, b in
        var r = BackingRecord(id: 63, state: .running, path: "/dev/nonexistent63", deviceSectors: 8,
                              firstSegment: b.superblock.segmentCount + 10, cacheSegments: .max)
        r.seq = 1
        try i.write(r.encoded(), at: Layout.backingRecordOffset(id: 63, copy: 0))
    }
    add("backing-two-share-chain", .any, "record 1 (another disk) claims record 0's first segment") { i, b in
        var r = BackingRecord(id: 1, state: .running, path: "/dev/vdb", deviceSectors: 2_097_152,
                              firstSegment: b.segments[0], cacheSegments: Base.cacheSegments)
        r.flags |= BackingRecord.initDoneFlag   // an initialised chain: a real claim
        r.seq = 1
        try i.write(r.encoded(), at: Layout.backingRecordOffset(id: 1, copy: 0))
    }

    // Segment infos (slot 1 is the latest copy). Chain position 3 is a middle segment.
    let si = { (b: Built, pos: Int, k: Int) in Layout.segmentInfoOffset(segment: b.segments[pos], copy: k) }
    add("seginfo-latest-crc", .recover, "segment info (chain 3): latest slot crc") { i, b in try flip(i, at: si(b, 3, 1)) }
    add("seginfo-older-crc", .recover, "segment info (chain 3): older slot crc") { i, b in try flip(i, at: si(b, 3, 0)) }
    add("seginfo-first-latest-crc", .recover, "segment info (chain 0): latest slot crc") { i, b in
        try flip(i, at: si(b, 0, 1))
    }
    add("seginfo-both-crc", .refuse, "segment info (chain 3): both slots") { i, b in
        try flip(i, at: si(b, 3, 0)); try flip(i, at: si(b, 3, 1))
    }
    add("seginfo-both-zero", .refuse, "segment info (chain 3): both slots zeroed") { i, b in
        try i.zero(at: si(b, 3, 0), count: 2 * Layout.slotSize)
    }
    add("seginfo-next-range", .refuse, "next_seg past seg_num") { i, b in
        try bothSegInfo(i, b.segments[3]) { $0.nextSegment = b.superblock.segmentCount + 100 }
    }
    add("seginfo-next-max", .refuse, "next_seg 0xffffffff") { i, b in
        try bothSegInfo(i, b.segments[3]) { $0.nextSegment = .max }
    }
    add("seginfo-loop-self", .refuse, "chain 3 points at itself") { i, b in
        try bothSegInfo(i, b.segments[3]) { $0.nextSegment = b.segments[3] }
    }
    add("seginfo-loop-first", .refuse, "chain 5 points back at chain 0") { i, b in
        try bothSegInfo(i, b.segments[5]) { $0.nextSegment = b.segments[0] }
    }
    add("seginfo-owner", .refuse, "chain 3 owned by backing 9") { i, b in
        try bothSegInfo(i, b.segments[3]) { $0.backingID = 9 }
    }
    add("seginfo-owner-huge", .refuse, "chain 3 owned by backing 0xffffffff") { i, b in
        try bothSegInfo(i, b.segments[3]) { $0.backingID = .max }
    }
    add("seginfo-index", .refuse, "chain 3 says index 6") { i, b in try bothSegInfo(i, b.segments[3]) { $0.index = 6 } }
    add("seginfo-type", .refuse, "chain 3 type none") { i, b in try bothSegInfo(i, b.segments[3]) { $0.typeValue = 0 } }
    add("seginfo-type-unknown", .refuse, "chain 3 type 77") { i, b in
        try bothSegInfo(i, b.segments[3]) { $0.typeValue = 77 }
    }
    add("seginfo-chain-short", .refuse, "chain 4 has no next (chain shorter than cache_segs)") { i, b in
        try bothSegInfo(i, b.segments[4]) { $0.flags = 0 }
    }
    add("seginfo-chain-long", .any, "the last segment has a next") { i, b in
        try bothSegInfo(i, b.segments[Int(Base.cacheSegments) - 1]) {
            $0.flags = SegmentInfo.hasNextFlag
            $0.nextSegment = b.superblock.segmentCount - 1
        }
    }
    add("seginfo-flags", .refuse, "unknown segment info flag") { i, b in
        try bothSegInfo(i, b.segments[3]) { $0.flags |= 0x4000 }
    }

    // Generations.
    let gen = { (b: Built, pos: Int, k: Int) in Layout.segmentGenOffset(segment: b.segments[pos], copy: k) }
    add("gen-latest-crc", .recover, "data segment gen: latest slot crc") { i, b in
        try flip(i, at: gen(b, Int(b.dataSegment), 1))
    }
    add("gen-older-crc", .recover, "data segment gen: older slot crc") { i, b in
        try flip(i, at: gen(b, Int(b.dataSegment), 0))
    }
    add("gen-both-crc", .refuse, "data segment gen: both slots") { i, b in
        try flip(i, at: gen(b, Int(b.dataSegment), 0)); try flip(i, at: gen(b, Int(b.dataSegment), 1))
    }
    add("gen-both-crc-keyseg", .refuse, "key segment 0 gen: both slots") { i, b in
        try flip(i, at: gen(b, 0, 0)); try flip(i, at: gen(b, 0, 1))
    }

    // key_tail / dirty_tail (in the ctrl area of chain 0; slot 1 is the latest).
    for key in [true, false] {
        let n = key ? "keytail" : "dirtytail"
        let at = { (b: Built, k: Int) in
            key ? Layout.keyTailOffset(firstSegment: b.segments[0], copy: k)
                : Layout.dirtyTailOffset(firstSegment: b.segments[0], copy: k)
        }
        add("\(n)-latest-crc", .recover, "\(n): latest slot crc") { i, b in try flip(i, at: at(b, 1)) }
        add("\(n)-older-crc", .recover, "\(n): older slot crc") { i, b in try flip(i, at: at(b, 0)) }
        add("\(n)-both-crc", .refuse, "\(n): both slots") { i, b in try flip(i, at: at(b, 0)); try flip(i, at: at(b, 1)) }
        add("\(n)-seg-range", .refuse, "\(n): cache_seg past cache_segs") { i, b in
            try bothPos(i, key: key, first: b.segments[0]) { $0.cacheSegment = Base.cacheSegments + 5 }
        }
        add("\(n)-seg-max", .refuse, "\(n): cache_seg 0xffffffff") { i, b in
            try bothPos(i, key: key, first: b.segments[0]) { $0.cacheSegment = .max }
        }
        add("\(n)-off-range", .refuse, "\(n): seg_off past the data area") { i, b in
            try bothPos(i, key: key, first: b.segments[0]) { $0.segmentOffset = UInt32(Layout.segmentDataSize) + 4096 }
        }
        add("\(n)-off-max", .refuse, "\(n): seg_off 0xffffffff") { i, b in
            try bothPos(i, key: key, first: b.segments[0]) { $0.segmentOffset = .max }
        }
        add("\(n)-off-last-bytes", .refuse, "\(n): seg_off 8 bytes before the end of the data area") { i, b in
            try bothPos(i, key: key, first: b.segments[0]) { $0.segmentOffset = UInt32(Layout.segmentDataSize) - 8 }
        }
        add("\(n)-mid-kset", .any, "\(n): seg_off inside a kset") { i, b in
            try bothPos(i, key: key, first: b.segments[0]) { $0.segmentOffset = 64 }
        }
    }

    // Ksets.
    add("kset0-magic", .refuse, "first kset: magic", check: .damaged) { i, b in
        try flip(i, at: ksetOffset(b, b.ksets[0]) + fieldOffset(\pcache_kset_onmedia.magic), mask: 0x10)
    }
    add("kset0-crc", .refuse, "first kset: crc", check: .damaged) { i, b in try flip(i, at: ksetOffset(b, b.ksets[0])) }
    add("kset1-crc", .refuse, "second kset: crc", check: .damaged) { i, b in try flip(i, at: ksetOffset(b, b.ksets[1])) }
    add("kset-key-byte", .refuse, "a key byte inside the first kset (crc no longer matches)", check: .damaged) { i, b in
        try flip(i, at: ksetOffset(b, b.ksets[0]) + UInt64(Layout.ksetHeaderSize + 40 * 7 + 3), mask: 0x04)
    }
    add("kset-keynum-129", .refuse, "key_num 129, crc over 129 keys", check: .damaged) { i, b in
        let off = ksetOffset(b, b.ksets[0])
        try mutate(KeySet.Header.self, i, at: off, reseal: false) { $0.keyCount = 129 }
        try resealKset(i, at: off, keyNum: 129)
    }
    add("kset-keynum-max", .refuse, "key_num 65535, crc over 65535 keys", check: .damaged) { i, b in
        let off = ksetOffset(b, b.ksets[0])
        try mutate(KeySet.Header.self, i, at: off, reseal: false) { $0.keyCount = .max }
        try resealKset(i, at: off, keyNum: 65535)
    }
    add("kset-keynum-past-segment", .refuse, "last kset's key_num runs past the data area", check: .damaged) { i, b in
        // Move the last kset to 100 bytes before the end of its data area, with a LAST to it.
        let pos = b.ksets[2]
        let off = ksetOffset(b, pos)
        let bytes = try i.read(at: off, count: Layout.ksetSizeMax)
        let newOff = UInt32(Layout.segmentDataSize) - 100
        let dst = Layout.dataOffset(segment: b.segments[Int(pos.segment)], offset: UInt64(newOff))
        try i.write(Array(bytes[0..<100]), at: dst)
        try i.zero(at: off, count: UInt64(Layout.ksetHeaderSize))
        // Point key_tail at it: the only way a reader starts there.
        try bothPos(i, key: true, first: b.segments[0]) { $0.cacheSegment = pos.segment; $0.segmentOffset = newOff }
        try bothPos(i, key: false, first: b.segments[0]) { $0.cacheSegment = pos.segment; $0.segmentOffset = newOff }
    }
    add("kset-flags", .refuse, "unknown kset flag, resealed") { i, b in
        let off = ksetOffset(b, b.ksets[0])
        var k = try readKset(i, segments: b.segments, at: b.ksets[0])
        k.header.flags = 0x0100
        try i.write(k.encoded(), at: off)
    }
    add("last-next-range", .refuse, "LAST kset points past cache_segs") { i, b in
        try mutate(KeySet.Header.self, i, at: ksetOffset(b, b.lasts[0])) { $0.nextCacheSegment = Base.cacheSegments + 3 }
    }
    add("last-next-max", .refuse, "LAST kset points at 0xffffffff") { i, b in
        try mutate(KeySet.Header.self, i, at: ksetOffset(b, b.lasts[0])) { $0.nextCacheSegment = .max }
    }
    add("last-self", .refuse, "LAST kset points at its own segment (log loop)") { i, b in
        let p = b.lasts[1]
        try mutate(KeySet.Header.self, i, at: ksetOffset(b, p)) { $0.nextCacheSegment = p.segment }
    }
    add("last-loop-first", .refuse, "log end replaced by a LAST back to chain 0 (log loop)") { i, b in
        try i.write(KeySet(lastPointingTo: 0, stamp: b.stamp(b.end.segment)).encoded(), at: ksetOffset(b, b.end))
    }
    add("last-to-data", .refuse, "LAST kset points at the data segment", check: .damaged) { i, b in
        try mutate(KeySet.Header.self, i, at: ksetOffset(b, b.lasts[0])) { $0.nextCacheSegment = b.dataSegment }
    }
    add("last-with-keys", .refuse, "LAST kset with key_num 3", check: .damaged) { i, b in
        let off = ksetOffset(b, b.lasts[0])
        try mutate(KeySet.Header.self, i, at: off, reseal: false) { $0.keyCount = 3 }
        try resealKset(i, at: off, keyNum: 3)
    }
    add("end-garbage", .any, "garbage instead of the zero header that ends the log") { i, b in
        try i.write([UInt8](repeating: 0xA5, count: Layout.ksetHeaderSize), at: ksetOffset(b, b.end))
    }
    // The first kset after dirty_tail (kset 0 at 0:0) lost: the log seems to end there, but the LAST kset
    // behind it in the same segment still carries this generation's stamp.
    add("kset0-zeroed", .refuse, "first kset after dirty_tail: header zeroed (dirty keys behind it)") { i, b in
        try i.zero(at: ksetOffset(b, b.ksets[0]), count: UInt64(Layout.ksetHeaderSize))
    }
    add("kset0-random", .refuse, "first kset after dirty_tail: header random bytes (dirty keys behind it)") { i, b in
        var g = SplitMix(state: 0x0A5E_7010)
        try i.write((0..<Layout.ksetHeaderSize).map { _ in UInt8.random(in: 0...255, using: &g) }, at: ksetOffset(b, b.ksets[0]))
    }
    add("kset0-foreign-stamp", .refuse, "first kset after dirty_tail: gen_stamp of another generation, resealed") { i, b in
        try mutate(KeySet.Header.self, i, at: ksetOffset(b, b.ksets[0]), reseal: false) { $0.genStamp ^= 0x100 }
        try resealKset(i, at: ksetOffset(b, b.ksets[0]), keyNum: Layout.ksetKeysMax)
    }
    // Leftovers behind the log end: valid ksets with keys for the same extents (pointing at the wrong
    // data), stamped with another generation: of an earlier use of the key segment (its generation
    // before the last reclaim), of an earlier owner (another cache's random generation), of a format
    // version 1 cache (stamp 0). Not damage: the log ends at its zero header, every extent reads back.
    for (n, what, stamp) in [("reused-segment", "the segment's previous generation", { (b: Built) in b.stamp(b.end.segment) &- 1 }),
                             ("earlier-owner", "an earlier owner's generation", { (b: Built) in
                                 KeySet.stamp(generation: CacheWriter<SparseImage>.firstGenerations(count: 1, seed: 99)[0]) }),
                             ("version-1", "stamp 0 (version 1)", { (b: Built) in 0 })] as [(String, String, (Built) -> UInt32)] {
        add("leftover-\(n)", .recover, "valid ksets stamped with \(what) behind the log end", check: .clean) { i, b in
            var at = UInt64(b.end.offset) + UInt64(Layout.ksetHeaderSize) + 64
            for m in 0..<3 {
                let keys = (0..<20).map { k in
                    CacheKey(offset: Base.extentOffset(m * 20 + k), length: UInt32(Base.extentSize), cacheSegment: b.dataSegment,
                             cacheSegmentOffset: UInt32(k * Base.extentSize), segmentGen: b.generations[Int(b.dataSegment)])
                }
                let k = KeySet(keys: keys, stamp: stamp(b))
                try i.write(k.encoded(), at: Layout.dataOffset(segment: b.segments[Int(b.end.segment)], offset: at))
                at += UInt64(k.size)
            }
        }
    }

    // Keys (key 5 of the first kset, resealed so only the bounds check can catch it).
    add("key-len-zero", .refuse, "key len 0") { i, b in try mutateKey(i, b) { $0.length = 0 } }
    add("key-len-odd", .refuse, "key len 1000 (not a sector multiple)") { i, b in try mutateKey(i, b) { $0.length = 1000 } }
    add("key-len-huge", .refuse, "key len 0xfffffe00") { i, b in try mutateKey(i, b) { $0.length = 0xFFFF_FE00 } }
    add("key-off-odd", .refuse, "key off not sector aligned") { i, b in try mutateKey(i, b) { $0.offset += 100 } }
    add("key-off-past-backing", .refuse, "key off at the end of the backing device") { i, b in
        try mutateKey(i, b) { $0.offset = b.backingSectors * 512 }
    }
    add("key-off-overflow", .refuse, "key off + len overflows 64 bits") { i, b in
        try mutateKey(i, b) { $0.offset = UInt64.max - 511 }
    }
    add("key-crosses-4m", .refuse, "key crosses a 4 MiB boundary") { i, b in
        try mutateKey(i, b) { $0.offset = (4 << 20) - 2048 }
    }
    add("key-seg-range", .refuse, "key cache_seg past cache_segs") { i, b in
        try mutateKey(i, b) { $0.cacheSegment = Base.cacheSegments }
    }
    add("key-seg-max", .refuse, "key cache_seg 0xffffffff") { i, b in try mutateKey(i, b) { $0.cacheSegment = .max } }
    add("key-seg-off-end", .refuse, "key data runs past the data area") { i, b in
        try mutateKey(i, b) { $0.cacheSegmentOffset = UInt32(Layout.segmentDataSize) - 2048 }
    }
    add("key-seg-off-max", .refuse, "key cache_seg_off 0xffffffff") { i, b in
        try mutateKey(i, b) { $0.cacheSegmentOffset = .max }
    }
    add("key-flags", .refuse, "unknown key flag") { i, b in try mutateKey(i, b) { $0.flags = 0x8000_0000 } }
    add("key-gen-future", .any, "key seg_gen newer than its segment") { i, b in
        // generations start at random values: newer is relative to the segment's own
        try mutateKey(i, b) { $0.segmentGen = b.generations[Int($0.cacheSegment)] &+ 7 }
    }
    add("data-crc-mismatch", .refuse, "data_crc on, one extent's data damaged", dataCRC: true) { i, b in
        let k = try readKset(i, segments: b.segments, at: b.ksets[0]).keys[5]
        try flip(i, at: Layout.dataOffset(segment: b.segments[Int(k.cacheSegment)], offset: UInt64(k.cacheSegmentOffset) + 100))
    }
    add("data-crc-clean", .recover, "data_crc on, no damage (control)", dataCRC: true, check: .clean) { _, _ in }
    return c
}

// MARK: - Random damage

/// A small deterministic generator (splitmix64), so a failing seed can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Flips 1..8 random bytes inside the metadata the kernel reads (superblocks, backing record 0, the
/// segment headers of the chain, the ksets); in half the cases reseals the damaged record so the
/// damage gets past the crc.
func randomDamage(_ img: any ImageSink, _ b: Built, seed: UInt64) throws {
    var g = SplitMix(state: seed)
    let flips = Int.random(in: 1...8, using: &g)
    let reseal = Bool.random(using: &g)
    for _ in 0..<flips {
        let region = Int.random(in: 0..<6, using: &g)
        var off: UInt64
        var record: (UInt64, Int)?     // (start, size) of a crc-sealed record to reseal
        switch region {
        case 0:
            let copy = Int.random(in: 0..<2, using: &g)
            off = Layout.superblockOffset(copy: copy)
            record = (off, Superblock.size)
            off += UInt64.random(in: 0..<UInt64(Superblock.size), using: &g)
        case 1:
            let copy = Int.random(in: 0..<2, using: &g)
            off = Layout.backingRecordOffset(id: 0, copy: copy)
            record = (off, BackingRecord.size)
            off += UInt64.random(in: 0..<UInt64(BackingRecord.size), using: &g)
        case 2:
            let seg = b.segments[Int.random(in: 0..<b.segments.count, using: &g)]
            let copy = Int.random(in: 0..<2, using: &g)
            off = Layout.segmentInfoOffset(segment: seg, copy: copy)
            record = (off, SegmentInfo.size)
            off += UInt64.random(in: 0..<UInt64(SegmentInfo.size), using: &g)
        case 3:
            let seg = b.segments[Int.random(in: 0..<b.segments.count, using: &g)]
            off = Layout.segmentOffset(seg) + Layout.segmentCtrlOffset + UInt64.random(in: 0..<128, using: &g)
            let slot = (off - Layout.segmentOffset(seg) - Layout.segmentCtrlOffset) / 16 * 16
            record = (Layout.segmentOffset(seg) + Layout.segmentCtrlOffset + slot, 16)
        case 4:
            let k = b.ksets[Int.random(in: 0..<b.ksets.count, using: &g)]
            off = ksetOffset(b, k) + UInt64.random(in: 0..<UInt64(Layout.ksetSizeMax), using: &g)
            record = nil
        default:
            let k = b.lasts.isEmpty ? b.ksets[0] : b.lasts[Int.random(in: 0..<b.lasts.count, using: &g)]
            off = ksetOffset(b, k) + UInt64.random(in: 0..<UInt64(Layout.ksetHeaderSize), using: &g)
            record = nil
        }
        try flip(img, at: off, mask: UInt8.random(in: 1...255, using: &g))
        if reseal, let (start, size) = record, off - start >= 4 {
            var bytes = try img.read(at: start, count: size)
            let crc = CRC32C.checksum(bytes[Layout.crcStart...])
            withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange(0..<4, with: $0) }
            try img.write(bytes, at: start)
        } else if reseal, region >= 4 {
            // Reseal the kset the byte fell into over its (possibly new) key_num, bounded by the maximum.
            let k = region == 4 ? b.ksets : (b.lasts.isEmpty ? b.ksets : b.lasts)
            if let pos = k.first(where: { off >= ksetOffset(b, $0) && off < ksetOffset(b, $0) + UInt64(Layout.ksetSizeMax) }) {
                let at = ksetOffset(b, pos)
                let h = try load(KeySet.Header.self, img, at: at)
                if Int(h.keyCount) <= Layout.ksetKeysMax { try resealKset(img, at: at, keyNum: Int(h.keyCount)) }
            }
        }
    }
}

// MARK: - Commands

func findCase(_ name: String) throws -> Case {
    if name.hasPrefix("random-"), let seed = UInt64(name.dropFirst(7)) {
        return Case(name: name, expect: .any, what: "random damage, seed \(seed)", checkOverride: .any) { i, b in
            try randomDamage(i, b, seed: seed)
        }
    }
    guard let c = allCases().first(where: { $0.name == name }) else { throw Usage("unknown case '\(name)' (see 'list')") }
    return c
}

func write(_ c: Case, to image: any ImageSink, backingPath: String, backingSectors: UInt64) throws -> Built {
    let b = try buildBase(image, backingPath: backingPath, backingSectors: backingSectors, dataCRC: c.dataCRC)
    try c.apply(image, b)
    try image.sync()
    return b
}

/// Reads every extent of the base cache back from `path` (the /dev/pcacheN the kernel made).
func verify(path: String) throws -> (good: Int, bad: [UInt64]) {
    let dev = try FileImage(path: path)
    var good = 0
    var bad: [UInt64] = []
    for i in 0..<Base.extents {
        let off = Base.extentOffset(i)
        let got = try dev.read(at: off, count: Base.extentSize)
        if got == Base.pattern(offset: off) { good += 1 } else { bad.append(off) }
    }
    return (good, bad)
}

/// Every case and `randoms` random seeds on in-memory images through the Checker: a damaged image
/// must yield at least one problem, "refuse" cases a fatal one, and the control images none.
func selfcheck(randoms: Int, firstSeed: UInt64) throws -> Int32 {
    let size: UInt64 = 1022 << 20
    let sectors: UInt64 = 8_388_608
    var failures = 0, tried = 0
    let checker = Checker(verifyData: true)
    var cases = allCases()
    for s in 0..<randoms { cases.append(try findCase("random-\(firstSeed + UInt64(s))")) }
    for c in cases {
        let img = SparseImage(size: size)
        _ = try write(c, to: img, backingPath: "/dev/vda", backingSectors: sectors)
        let ins = try checker.inspect(img)
        tried += 1
        let worst = ins.worst
        let ok: Bool
        switch c.check {
        case .clean: ok = worst == nil
        case .repairable: ok = worst == .repairable
        case .fatal: ok = worst == .fatal
        case .damaged: ok = worst != nil
        case .any: ok = true
        }
        if !ok {
            failures += 1
            print("selfcheck: \(c.name) (\(c.expect.rawValue)): checker worst=\(worst.map(\.rawValue) ?? "clean"): " +
                  (ins.problems.first.map(\.description) ?? "no problem reported"))
        }
    }
    print("selfcheck: \(tried) images, \(tried - failures) as expected, \(failures) not")
    return failures == 0 ? 0 : 1
}

func main() -> Int32 {
    var args = Array(CommandLine.arguments.dropFirst())
    func option(_ name: String) -> String? {
        guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
        let v = args[i + 1]
        args.removeSubrange(i...i + 1)
        return v
    }
    do {
        let backingPath = option("--backing-path") ?? "/dev/vda"
        let sectorsArg = option("--backing-sectors")
        let randoms = Int(option("--random") ?? "0") ?? 0
        let firstSeed = UInt64(option("--seed") ?? "1") ?? 1
        switch args.first {
        case "list":
            for c in allCases() { print("\(c.name) \(c.expect.rawValue) \(c.check.rawValue) \(c.what)") }
            return 0
        case "write":
            guard args.count == 3 else { throw Usage("write CASE DEVICE") }
            let c = try findCase(args[1])
            let image = try FileImage(path: args[2], writable: true)
            var sectors = sectorsArg.flatMap { UInt64($0) }
            if sectors == nil {
                sectors = try FileImage(path: backingPath).size / 512
            }
            let b = try write(c, to: image, backingPath: backingPath, backingSectors: sectors!)
            print("\(c.name) \(c.expect.rawValue) chain=\(b.segments.map(String.init).joined(separator: ",")) " +
                  "data_seg=\(b.dataSegment) ksets=\(b.ksets.count) lasts=\(b.lasts.count)")
            return 0
        case "verify":
            guard args.count == 2 else { throw Usage("verify DEVICE") }
            let (good, bad) = try verify(path: args[1])
            print("verify: \(good) of \(Base.extents) extents intact" +
                  (bad.isEmpty ? "" : "; differ at " + bad.prefix(8).map(String.init).joined(separator: ",")))
            return bad.isEmpty ? 0 : 1
        case "serve":
            guard args.count == 2, let sectors = sectorsArg.flatMap({ UInt64($0) }) else {
                throw Usage("serve DEVICE --backing-sectors N")
            }
            // The device is opened per request: the kernel changes it through DAX in between, and the
            // last close drops the block device's page cache, so nothing stale is read back.
            let device = args[1]
            func say(_ line: String) {
                let l = line + "\n"
                _ = l.withCString { Glibc.write(1, $0, strlen($0)) }
            }
            while let line = readLine() {
                let words = line.split(separator: " ").map(String.init)
                do {
                    switch words.first {
                    case "write" where words.count == 2:
                        let c = try findCase(words[1])
                        let image = try FileImage(path: device, writable: true)
                        let b = try write(c, to: image, backingPath: backingPath, backingSectors: sectors)
                        say("ok \(c.name) \(c.expect.rawValue) chain=\(b.segments.map(String.init).joined(separator: ","))")
                    case "verify" where words.count == 2:
                        let (good, bad) = try verify(path: words[1])
                        say((bad.isEmpty ? "ok" : "bad") + " verify: \(good) of \(Base.extents) extents intact" +
                            (bad.isEmpty ? "" : "; differ at " + bad.prefix(8).map(String.init).joined(separator: ",")))
                    default:
                        say("error unknown request '\(line)'")
                    }
                } catch {
                    say("error \(error)")
                }
            }
            return 0
        case "selfcheck":
            return try selfcheck(randoms: randoms, firstSeed: firstSeed)
        default:
            throw Usage("usage: pcache-corrupt list | write CASE DEVICE [--backing-path P] [--backing-sectors N] | " +
                        "verify DEVICE | selfcheck [--random N] [--seed S]")
        }
    } catch {
        let msg = "pcache-corrupt: \(error)\n"
        _ = msg.withCString { Glibc.write(2, $0, strlen($0)) }
        return 2
    }
}

exit(main())
