// SPDX-License-Identifier: Apache-2.0

/// Writes cache contents onto a formatted image the way the kernel lays them out: a backing record,
/// a linked segment chain, generations, key_tail/dirty_tail, cached data and a kset log with LAST links
/// and zero terminators, every two-copy record by the copy rule. The kernel module is the real writer;
/// this one builds test images, fixtures, fuzz seeds and benchmark images.
public struct CacheWriter<Image: ImageSink> {
    public let image: Image
    public let superblock: Superblock
    /// Physical segments already given to a chain.
    public private(set) var usedSegments: Set<UInt32> = []

    /// - Throws: `FormatError` when the image has no valid superblock.
    public init(image: Image) throws {
        self.image = image
        let bytes = try image.read(at: Layout.superblockOffset, count: Layout.superblockSize)
        superblock = try Superblock(decoding: bytes)
        try superblock.validate(deviceSize: image.size, forWriting: true)
    }

    /// Writes `record` by the copy rule: seq = latest + 1 into the slot not holding the latest copy.
    /// - Parameters:
    ///   - slot0: byte offset of copy 0; copy 1 is `stride` bytes further.
    /// - Returns: the slot written.
    @discardableResult
    public func write<R: MetaRecord>(_ record: R, slot0: UInt64, stride: UInt64) throws -> Int {
        let offsets = [slot0, slot0 + stride]
        let current = try offsets.flatMap { try image.read(at: $0, count: R.size) }
        let copies = current.withUnsafeBytes { all in
            Copies<R>(decoding: { i in UnsafeRawBufferPointer(rebasing: all[min(i * R.size, all.count)..<min((i + 1) * R.size, all.count)]) },
                      region: Region(.device), offsets: offsets)
        }
        var r = record
        r.seq = copies.nextSeq
        let slot = copies.slotToWrite
        try image.write(r.encoded(), at: offsets[slot])
        return slot
    }

    /// The first generations of a new cache's segments, as the kernel's `cache_seg_gen_init` gives them:
    /// random 32-bit values, or, for reproducible images, values derived from `seed` (splitmix64).
    public static func firstGenerations(count: Int, seed: UInt64?) -> [UInt64] {
        guard var x = seed else {
            var g = SystemRandomNumberGenerator()
            return (0..<count).map { _ in UInt64(UInt32.random(in: .min ... .max, using: &g)) }
        }
        return (0..<count).map { _ in
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return (z ^ (z >> 31)) & 0xFFFF_FFFF
        }
    }

    /// Starts a new cache for backing `id`: takes `cacheSegments` free segments first-fit, links them,
    /// writes their generations (random 32-bit values, or derived from `generationSeed`), both tails at
    /// 0:0, a zero kset header at the start of chain segment 0 (the first key segment), and the record in
    /// state RUNNING with INIT_DONE (the chain is initialised).
    /// - Returns: a log writer for the cache.
    public mutating func startCache(id: UInt32, path: String, deviceSectors: UInt64, cacheSegments: UInt32,
                                    flags: UInt32 = 0, generationSeed: UInt64? = nil) throws -> CacheLog<Image> {
        var segs: [UInt32] = []
        var s: UInt32 = 0
        while segs.count < Int(cacheSegments), s < superblock.segmentCount {
            if !usedSegments.contains(s) { segs.append(s) }
            s += 1
        }
        precondition(segs.count == Int(cacheSegments), "not enough free segments")
        usedSegments.formUnion(segs)
        let gens = Self.firstGenerations(count: segs.count, seed: generationSeed)
        for (i, seg) in segs.enumerated() {
            let next = i + 1 < segs.count ? segs[i + 1] : nil
            try write(SegmentInfo(backingID: id, index: UInt32(i), next: next),
                      slot0: Layout.segmentInfoOffset(segment: seg, copy: 0), stride: Layout.slotSize)
            try write(SegmentGen(gen: gens[i]), slot0: Layout.segmentGenOffset(segment: seg, copy: 0),
                      stride: Layout.positionStride)
        }
        let log = CacheLog(image: image, id: id, segments: segs, generations: gens,
                           dataCRC: flags & BackingRecord.dataCRCFlag != 0)
        try image.write([UInt8](repeating: 0, count: Layout.ksetHeaderSize), at: Layout.dataOffset(segment: segs[0]))
        try log.setTails(keyTail: (0, 0), dirtyTail: (0, 0))
        let record = BackingRecord(id: id, state: .running, path: path, deviceSectors: deviceSectors,
                                   firstSegment: segs[0], cacheSegments: cacheSegments,
                                   flags: flags | BackingRecord.initDoneFlag)
        try write(record, slot0: Layout.backingRecordOffset(id: id, copy: 0), stride: Layout.slotSize)
        return log
    }
}

/// Appends data and ksets to one cache, as the kernel's write path does.
public struct CacheLog<Image: ImageSink> {
    public let image: Image
    public let id: UInt32
    /// Physical ids in chain order.
    public let segments: [UInt32]
    /// Generation of each segment, in chain order: keys carry their data segment's, ksets the low 32 bits
    /// of their key segment's.
    public let generations: [UInt64]
    public let dataCRC: Bool
    /// Where the next kset goes.
    public private(set) var head: (segment: UInt32, offset: UInt32) = (0, 0)
    /// Where each kset with keys was written, in log order.
    public private(set) var ksetPositions: [(segment: UInt32, offset: UInt32)] = []
    /// Bytes of a key segment the log may use before moving on through a LAST kset; smaller than the data
    /// area only to exercise LAST links in small test images.
    public var keySegmentLimit: UInt64 = Layout.segmentDataSize
    /// Chain indexes not yet used for data or keys.
    private var free: [UInt32]
    private var data: (segment: UInt32, offset: UInt32)?
    private var pending: [CacheKey] = []

    init(image: Image, id: UInt32, segments: [UInt32], generations: [UInt64], dataCRC: Bool) {
        self.image = image
        self.id = id
        self.segments = segments
        self.generations = generations
        self.dataCRC = dataCRC
        free = Array((1..<UInt32(segments.count)).reversed())
    }

    /// Writes both log positions by the copy rule.
    public func setTails(keyTail: (UInt32, UInt32), dirtyTail: (UInt32, UInt32)) throws {
        let w = try CacheWriter(image: image)
        try w.write(LogPosition(cacheSegment: keyTail.0, segmentOffset: keyTail.1),
                    slot0: Layout.keyTailOffset(firstSegment: segments[0], copy: 0), stride: Layout.positionStride)
        try w.write(LogPosition(cacheSegment: dirtyTail.0, segmentOffset: dirtyTail.1),
                    slot0: Layout.dirtyTailOffset(firstSegment: segments[0], copy: 0), stride: Layout.positionStride)
    }

    /// Caches `bytes` (a 512-byte multiple, not crossing 4 MiB) for backing offset `offset`: writes the
    /// data into the data area and adds its key to the pending kset, closing it at 128 keys.
    /// - Returns: false when the cache has no room left.
    public mutating func cache(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, clean: Bool = false) throws -> Bool {
        let len = UInt32(bytes.count)
        if data == nil || UInt64(data!.offset) + UInt64(len) > Layout.segmentDataSize {
            guard let seg = free.popLast() else { return false }
            data = (seg, 0)
        }
        let (seg, off) = data!
        try image.write(bytes, at: Layout.dataOffset(segment: segments[Int(seg)], offset: UInt64(off)))
        data!.offset += len
        pending.append(CacheKey(offset: offset, length: len, flags: clean ? CacheKey.cleanFlag : 0, cacheSegment: seg,
                                cacheSegmentOffset: off, segmentGen: generations[Int(seg)],
                                dataCRC: dataCRC ? CRC32C.checksum(bytes) : 0))
        if pending.count == Layout.ksetKeysMax { return try flush() }
        return true
    }

    /// Writes the pending keys as one kset (if any): a zero terminator after it, then the kset; opens a
    /// new key segment through a LAST kset when this one and a header would not fit.
    /// - Returns: false when a new key segment was needed and none was free (the keys are dropped).
    @discardableResult
    public mutating func flush() throws -> Bool {
        guard !pending.isEmpty else { return true }
        let keys = pending
        pending = []
        let size = Layout.ksetHeaderSize + keys.count * Layout.keySize
        if UInt64(head.offset) + UInt64(size + Layout.ksetHeaderSize) > min(keySegmentLimit, Layout.segmentDataSize) {
            guard let next = free.popLast() else { return false }
            let zero = [UInt8](repeating: 0, count: Layout.ksetHeaderSize)
            try image.write(zero, at: Layout.dataOffset(segment: segments[Int(next)]))
            try image.write(KeySet(lastPointingTo: next, stamp: stamp(head.segment)).encoded(),
                            at: Layout.dataOffset(segment: segments[Int(head.segment)], offset: UInt64(head.offset)))
            head = (next, 0)
        }
        let kset = KeySet(keys: keys, stamp: stamp(head.segment))
        let at = Layout.dataOffset(segment: segments[Int(head.segment)], offset: UInt64(head.offset))
        try image.write([UInt8](repeating: 0, count: Layout.ksetHeaderSize), at: at + UInt64(kset.size))
        try image.write(kset.encoded(), at: at)
        ksetPositions.append(head)
        head.offset += UInt32(kset.size)
        return true
    }

    /// The stamp of ksets in chain segment `chainIndex`.
    public func stamp(_ chainIndex: UInt32) -> UInt32 { KeySet.stamp(generation: generations[Int(chainIndex)]) }
}
