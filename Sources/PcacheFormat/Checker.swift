// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat

/// How bad a problem is.
public enum Severity: String, Hashable, Sendable, Encodable, Comparable {
    /// The kernel still reads the device correctly (e.g. one bad copy of a two-copy record while the
    /// other is good, or a torn kset at the end of the log); a repair rewrites the bad part.
    case repairable
    /// The kernel would refuse the device or a cache on it, or data may be lost.
    case fatal

    public static func < (a: Severity, b: Severity) -> Bool { a == .repairable && b == .fatal }
}

/// One problem found by the checker.
public struct Problem: Hashable, Sendable, CustomStringConvertible {
    public var severity: Severity
    public var error: FormatError

    public init(_ severity: Severity, _ error: FormatError) {
        self.severity = severity
        self.error = error
    }

    public var description: String { "\(severity.rawValue): \(error)" }
}

/// One segment of a backing device's chain as the checker found it.
public struct ChainEntry: Hashable, Sendable {
    /// Position in the chain.
    public var index: UInt32
    /// Physical segment id.
    public var segment: UInt32
    public var info: Copies<SegmentInfo>
    public var gen: Copies<SegmentGen>
    /// The generation in force: the latest valid copy, 0 when never written.
    public var generation: UInt64
}

/// What the walk of a backing device's kset log found.
public struct LogSummary: Hashable, Sendable {
    public var ksets = 0
    public var lastKsets = 0
    public var keys = 0
    public var dirtyKeys = 0
    public var cleanKeys = 0
    /// Keys whose seg_gen is older than their segment's generation (reclaimed data; ignored by replay).
    public var staleKeys = 0
    /// Bytes of live (not stale) cached data the keys describe.
    public var liveBytes: UInt64 = 0
    /// Bytes of data whose data_crc was verified.
    public var dataBytesVerified: UInt64 = 0
    /// Bytes of ksets (headers and keys) walked.
    public var ksetBytes: UInt64 = 0
    /// Chain indexes of the key segments, in log order.
    public var keySegments: [UInt32] = []
    /// Where the log ends (the next kset would be written here): chain index and data-area offset.
    public var endSegment: UInt32 = 0
    public var endOffset: UInt32 = 0
    /// Whether the log ends at a zero header (true) or at a damaged one (false).
    public var endsClean = true
    /// Whether dirty_tail lies on the log.
    public var dirtyTailReached = false
    /// Where the log ended before a valid kset of the same generation further on in that key segment
    /// (chain index, data-area offset of the end; then of the kset found): damage inside the log. The walk
    /// goes on from the kset found, so the counts include what lies behind the damage.
    public var damage: [LogDamage] = []
}

/// A log end with a valid kset of this log behind it (the module refuses such a cache).
public struct LogDamage: Hashable, Sendable {
    public var endSegment: UInt32
    public var endOffset: UInt32
    public var resumeOffset: UInt32
    /// Keys and keys not marked clean walked from the kset found on (up to the final log end).
    public var keysBehind = 0
    public var dirtyKeysBehind = 0
}

/// One backing record and everything reachable from it.
public struct BackingInspection: Hashable, Sendable {
    public var id: UInt32
    public var copies: Copies<BackingRecord>
    /// The copy in force.
    public var record: BackingRecord? { copies.latest?.record }
    public var chain: [ChainEntry] = []
    public var keyTail: Copies<LogPosition>?
    public var dirtyTail: Copies<LogPosition>?
    public var log: LogSummary?
    /// A RUNNING record without INIT_DONE: the engine never initialised its chain, nothing to replay (the
    /// next start initialises a new chain), so the chain is not checked. (A CACHED record without INIT_DONE
    /// is damage, reported by `BackingRecord.problems`, not this note.)
    public var chainNotInitialised: Bool {
        guard let r = record else { return false }
        return r.state == .running && !r.initDone
    }
}

/// Everything the checker learned about a device, and every problem it found.
public struct Inspection: Hashable, Sendable {
    public var deviceSize: UInt64
    public var superblockCopies: [CopyStatus<Superblock>] = []
    /// The copy in force, when one is valid.
    public var superblockSlot: Int?
    public var superblock: Superblock? { superblockSlot.flatMap { superblockCopies[$0].record } }
    /// Records that are not entirely zero, by id.
    public var backings: [BackingInspection] = []
    public var problems: [Problem] = []
    /// Bytes read from the device during the walk, when known.
    public var bytesRead: UInt64?

    /// The worst problem's severity; nil when the device is clean.
    public var worst: Severity? { problems.map(\.severity).max() }
    public var isClean: Bool { problems.isEmpty }
}

/// Validates a whole cache device or image: superblock copies, backing records (both slots), the segment
/// chain of each record holding a cache (running or cached with INIT_DONE, `BackingRecord.holdsCache`:
/// bounds, loops, owner, index, length, segments owned twice), segment generations, key_tail/dirty_tail,
/// and the kset log from key_tail (magic, key count, crc, LAST links, every key bounded), optionally the
/// data crc of every live key. Nothing read from the device is trusted: every id, count and offset is
/// bounded before it is used, so a crafted image yields problems, never a crash or a read outside the image.
public struct Checker: Sendable {
    /// Verify data_crc of every live key when the record has DATA_CRC.
    public var verifyData: Bool

    public init(verifyData: Bool = true) { self.verifyData = verifyData }

    /// Walks `image`.
    /// - Returns: the inspection; problems are in `problems`, never thrown.
    /// - Throws: `ImageIOError` when reading fails.
    public func inspect(_ image: some ImageSource) throws -> Inspection {
        var walk = Walk(image: image, verifyData: verifyData, result: Inspection(deviceSize: image.size))
        try walk.run()
        if let f = image as? FileImage { walk.result.bytesRead = f.bytesRead }
        return walk.result
    }
}

private struct Walk<Image: ImageSource> {
    let image: Image
    let verifyData: Bool
    var result: Inspection
    /// Physical segment -> owning backing id, for loops and double ownership.
    var owners: [UInt32: UInt32] = [:]
    /// Damage inside the log being walked (region, offset, reason), reported with its counts at the end.
    var pendingDamage: [(Region, UInt64, String)] = []

    mutating func report(_ severity: Severity, _ error: FormatError) {
        result.problems.append(Problem(severity, error))
    }

    mutating func run() throws {
        let size = image.size
        if size < Layout.deviceSizeMin { report(.fatal, .deviceTooSmall(size: size, minimum: Layout.deviceSizeMin)) }
        guard let sb = try superblock() else { return }
        try backingRecords(segmentCount: sb.segmentCount)
        for i in result.backings.indices {
            guard let rec = result.backings[i].record, rec.holdsCache,
                  rec.problems(id: result.backings[i].id, segmentCount: sb.segmentCount,
                               offset: Layout.backingRecordOffset(id: result.backings[i].id, copy: 0)).isEmpty
            else { continue }
            var b = result.backings[i]
            try cache(&b, record: rec, segmentCount: sb.segmentCount)
            result.backings[i] = b
        }
    }

    // MARK: superblock

    mutating func superblock() throws -> Superblock? {
        let statuses: [CopyStatus<Superblock>] = try (0..<Layout.metaCopies).map { copy in
            let off = Layout.superblockOffset(copy: copy)
            return try image.withBytes(at: off, count: Layout.superblockSize) { bytes in
                do { return .valid(try Superblock(decoding: bytes, copy: copy, offset: off)) } catch let e as FormatError {
                    return .damaged(e)
                }
            }
        }
        result.superblockCopies = statuses
        let valid = statuses.indices.filter { statuses[$0].record != nil }
        guard let slot = valid.first else {
            let zero = try (0..<Layout.metaCopies).allSatisfy { copy in
                try image.withBytes(at: Layout.superblockOffset(copy: copy), count: Layout.superblockSize) {
                    $0.count == Layout.superblockSize && isAllZero($0)
                }
            }
            if zero {
                report(.fatal, .notFormatted(offset: Layout.superblockOffset))
            } else {
                report(.fatal, .noValidCopy(region: Region(.superblock), offset: Layout.superblockOffset))
                for s in statuses { if let e = s.error { report(.fatal, e) } }
            }
            return nil
        }
        for s in statuses { if let e = s.error { report(.repairable, e) } }
        if valid.count == 2, statuses[0] != statuses[1] {
            report(.repairable, .copiesDiffer(region: Region(.superblock), offset: Layout.superblockOffset(copy: 1)))
        }
        result.superblockSlot = slot
        let sb = statuses[slot].record!
        do {
            // forWriting: a cache is written by running it, so unknown read-only-compatible features are
            // as fatal as unknown incompatible ones (the module refuses both).
            try sb.validate(deviceSize: image.size, forWriting: true, offset: Layout.superblockOffset(copy: slot))
        } catch let e as FormatError {
            report(.fatal, e)
            return nil
        }
        return sb
    }

    // MARK: backing records

    mutating func backingRecords(segmentCount: UInt32) throws {
        let area = try image.read(at: Layout.backingOffset, count: Int(Layout.backingAreaSize))
        try area.withUnsafeBytes { all in
            for id in 0..<Layout.backingMax {
                let offsets = (0..<Layout.metaCopies).map { Layout.backingRecordOffset(id: id, copy: $0) }
                let copies = Copies<BackingRecord>(decoding: { i in
                    let start = Int(offsets[i] - Layout.backingOffset)
                    return UnsafeRawBufferPointer(rebasing: all[min(start, all.count)..<min(start + BackingRecord.size, all.count)])
                }, region: Region(.backingRecord(id: id)), offsets: offsets)
                if copies.isEmpty { continue }
                let region = Region(.backingRecord(id: id))
                for (e, repairable) in copies.problems(region: region) { report(repairable ? .repairable : .fatal, e) }
                if let latest = copies.latest {
                    for e in latest.record.problems(id: id, segmentCount: segmentCount, offset: offsets[latest.slot]) {
                        report(.fatal, e)
                    }
                }
                result.backings.append(BackingInspection(id: id, copies: copies))
            }
            if all.count < Int(Layout.backingAreaSize) {
                throw FormatError.truncated(region: Region(.backingRecord(id: 0)), offset: Layout.backingOffset,
                                            needed: Layout.backingAreaSize, available: UInt64(all.count))
            }
        }
    }

    // MARK: one cache (a running or cached record with an initialised chain)

    mutating func cache(_ b: inout BackingInspection, record: BackingRecord, segmentCount: UInt32) throws {
        let id = b.id
        let chainRegion = Region(.segmentChain(backing: id))
        var seg = record.firstSegment
        var complete = false
        let headerSize = Int(Layout.segmentDataOffset)
        for i in 0..<record.cacheSegments {
            let segOff = Layout.segmentOffset(seg)
            if let owner = owners[seg] {
                report(.fatal, owner == id ? .chainLoop(region: chainRegion, offset: segOff, segment: seg)
                                           : .segmentOwnedTwice(region: chainRegion, offset: segOff, segment: seg, firstOwner: owner))
                break
            }
            owners[seg] = id
            let header = try image.read(at: segOff, count: headerSize)
            let entry: ChainEntry = header.withUnsafeBytes { h in
                func slice(_ at: UInt64, _ n: Int) -> UnsafeRawBufferPointer {
                    UnsafeRawBufferPointer(rebasing: h[min(Int(at), h.count)..<min(Int(at) + n, h.count)])
                }
                let info = Copies<SegmentInfo>(
                    decoding: { slice(Layout.segmentInfoOffset + UInt64($0) * Layout.slotSize, SegmentInfo.size) },
                    region: Region(.segmentInfo(segment: seg)),
                    offsets: (0..<2).map { Layout.segmentInfoOffset(segment: seg, copy: $0) })
                let gen = Copies<SegmentGen>(
                    decoding: { slice(Layout.segmentGenOffset + UInt64($0) * Layout.positionStride, SegmentGen.size) },
                    region: Region(.segmentGen(segment: seg)),
                    offsets: (0..<2).map { Layout.segmentGenOffset(segment: seg, copy: $0) })
                return ChainEntry(index: i, segment: seg, info: info, gen: gen, generation: gen.latest?.record.gen ?? 0)
            }
            b.chain.append(entry)
            if i == 0 {
                b.keyTail = positions(header, kind: .keyTail(backing: id), first: seg, base: Layout.keyTailOffset)
                b.dirtyTail = positions(header, kind: .dirtyTail(backing: id), first: seg, base: Layout.dirtyTailOffset)
            }
            let genRegion = Region(.segmentGen(segment: seg))
            for (e, repairable) in entry.gen.problems(region: genRegion) { report(repairable ? .repairable : .fatal, e) }
            // The kernel writes a first generation into every segment of a new cache and refuses to
            // replay a cache (running or cached) whose segment has no valid generation.
            if entry.gen.isEmpty { report(.fatal, .noValidCopy(region: genRegion, offset: entry.gen.offsets[0])) }
            let infoRegion = Region(.segmentInfo(segment: seg))
            for (e, repairable) in entry.info.problems(region: infoRegion) { report(repairable ? .repairable : .fatal, e) }
            guard let (slot, info) = entry.info.latest else {
                if entry.info.isEmpty { report(.fatal, .noValidCopy(region: infoRegion, offset: segOff)) }
                break
            }
            let infoOff = entry.info.offsets[slot]
            func at<V>(_ f: KeyPath<pcache_seg_info_onmedia, V>) -> UInt64 {
                infoOff + UInt64(MemoryLayout<pcache_seg_info_onmedia>.offset(of: f)!)
            }
            if info.typeValue != SegmentType.cache.rawValue {
                report(.fatal, .fieldMismatch(region: infoRegion, field: "type", offset: at(\.type),
                                              found: UInt64(info.typeValue), expected: UInt64(SegmentType.cache.rawValue)))
            }
            if info.backingID != id {
                report(.fatal, .fieldMismatch(region: infoRegion, field: "backing_id", offset: at(\.backing_id),
                                              found: UInt64(info.backingID), expected: UInt64(id)))
            }
            if info.index != i {
                report(.fatal, .fieldMismatch(region: infoRegion, field: "index", offset: at(\.index),
                                              found: UInt64(info.index), expected: UInt64(i)))
            }
            if info.flags & ~SegmentInfo.knownFlags != 0 {
                report(.fatal, .fieldOutOfRange(region: infoRegion, field: "flags", offset: at(\.flags),
                                                found: UInt64(info.flags), allowed: "known flags only (0x1 has_next)"))
            }
            if i + 1 == record.cacheSegments {
                if info.hasNext {
                    report(.fatal, .fieldMismatch(region: infoRegion, field: "flags.has_next", offset: at(\.flags),
                                                       found: 1, expected: 0))
                }
                complete = true
                break
            }
            guard info.hasNext else {
                report(.fatal, .chainLengthMismatch(region: chainRegion, offset: at(\.flags), found: i + 1,
                                                    expected: record.cacheSegments))
                break
            }
            guard info.nextSegment < segmentCount else {
                report(.fatal, .fieldOutOfRange(region: infoRegion, field: "next_seg", offset: at(\.next_seg),
                                                found: UInt64(info.nextSegment), allowed: "0...\(Int64(segmentCount) - 1)"))
                break
            }
            seg = info.nextSegment
        }
        guard complete, let keyTail = b.keyTail?.latest?.record, let dirtyTail = b.dirtyTail?.latest?.record else { return }
        for (name, pos, kind) in [("key_tail", keyTail, Region.Kind.keyTail(backing: id)),
                                  ("dirty_tail", dirtyTail, Region.Kind.dirtyTail(backing: id))] {
            let off = Layout.segmentOffset(record.firstSegment) + (name == "key_tail" ? Layout.keyTailOffset : Layout.dirtyTailOffset)
            if pos.cacheSegment >= record.cacheSegments {
                report(.fatal, .fieldOutOfRange(region: Region(kind), field: "cache_seg", offset: off + 8,
                                                found: UInt64(pos.cacheSegment), allowed: "0...\(record.cacheSegments - 1)"))
                return
            }
            if pos.segmentOffset % 8 != 0 || UInt64(pos.segmentOffset) + UInt64(Layout.ksetHeaderSize) > Layout.segmentDataSize {
                report(.fatal, .fieldOutOfRange(region: Region(kind), field: "seg_off", offset: off + 12,
                                                found: UInt64(pos.segmentOffset),
                                                allowed: "a multiple of 8 in 0...\(Layout.segmentDataSize - UInt64(Layout.ksetHeaderSize))"))
                return
            }
        }
        b.log = try log(b, record: record, keyTail: keyTail, dirtyTail: dirtyTail)
    }

    mutating func positions(_ header: [UInt8], kind: Region.Kind, first: UInt32, base: UInt64) -> Copies<LogPosition> {
        let copies = header.withUnsafeBytes { h in
            Copies<LogPosition>(decoding: { i in
                let at = Int(base + UInt64(i) * Layout.positionStride)
                return UnsafeRawBufferPointer(rebasing: h[min(at, h.count)..<min(at + LogPosition.size, h.count)])
            }, region: Region(kind), offsets: (0..<2).map {
                Layout.segmentOffset(first) + base + UInt64($0) * Layout.positionStride
            })
        }
        for (e, repairable) in copies.problems(region: Region(kind)) { report(repairable ? .repairable : .fatal, e) }
        if copies.isEmpty { report(.fatal, .noValidCopy(region: Region(kind), offset: copies.offsets[0])) }
        return copies
    }

    // MARK: the kset log

    mutating func log(_ b: BackingInspection, record: BackingRecord, keyTail: LogPosition,
                      dirtyTail: LogPosition) throws -> LogSummary {
        let id = b.id
        let segs = b.chain.map(\.segment)
        let gens = b.chain.map(\.generation)
        let deviceBytes = record.deviceSectors.multipliedReportingOverflow(by: Layout.sectorSize)
        let backingBytes = deviceBytes.overflow ? UInt64.max : deviceBytes.partialValue
        let checkData = verifyData && record.dataCRC
        var s = LogSummary()
        var chainIndex = keyTail.cacheSegment
        var segOff = keyTail.segmentOffset
        var visited: Set<UInt32> = [chainIndex]
        var dataSegments: Set<UInt32> = []
        pendingDamage = []
        s.keySegments = [chainIndex]
        while true {
            if chainIndex == dirtyTail.cacheSegment && segOff == dirtyTail.segmentOffset { s.dirtyTailReached = true }
            let region = Region(.kset(backing: id, chainIndex: chainIndex, offset: segOff))
            let at = Layout.dataOffset(segment: segs[Int(chainIndex)], offset: UInt64(segOff))
            let room = Layout.segmentDataSize - UInt64(segOff)
            (s.endSegment, s.endOffset) = (chainIndex, segOff)
            if room < UInt64(Layout.ksetHeaderSize) {
                report(.fatal, .fieldOutOfRange(region: region, field: "kset offset", offset: at, found: UInt64(segOff),
                                                allowed: "room for a 24-byte kset header before the end of the data area"))
                s.endsClean = false
                break
            }
            let decoded: Result<KeySet, FormatError>? = try image.withBytes(at: at, count: Int(min(room, UInt64(Layout.ksetSizeMax)))) { bytes in
                if bytes.count >= Layout.ksetHeaderSize, isAllZero(UnsafeRawBufferPointer(rebasing: bytes[..<Layout.ksetHeaderSize])) {
                    return nil
                }
                do { return .success(try KeySet(decoding: bytes, region: region, offset: at)) } catch let e as FormatError {
                    return .failure(e)
                }
            }
            let stamp = KeySet.stamp(generation: gens[Int(chainIndex)])
            // Why the log ends here (nil: it goes on), and its offset for the message. As the module's
            // kset reader: a zero header, damage (magic, key count, crc, a LAST kset with keys, a kset
            // without keys or leaving no room for the terminator header), or a kset of an earlier use of
            // the segment (gen_stamp not this generation's).
            var end: (reason: String, offset: UInt64)?
            var kset: KeySet?
            switch decoded {
            case nil: end = ("zero header", at)
            case .failure(let e)?: end = (e.reason, e.offset)
            case .success(let k)?:
                let refusal: String? =
                    k.isLast ? (k.keys.isEmpty ? nil : "LAST kset with key_num \(k.keys.count)")
                    : k.keys.isEmpty ? "kset with key_num 0"
                    : UInt64(segOff) + UInt64(k.size + Layout.ksetHeaderSize) > Layout.segmentDataSize
                        ? "kset of \(k.size) bytes leaves no room for a terminator header" : nil
                if let refusal {
                    end = (refusal, at)
                } else if k.header.genStamp != stamp {
                    end = ("a kset of an earlier use of the segment (gen_stamp \(hex32(k.header.genStamp)), the segment's "
                           + "generation stamps \(hex32(stamp)))", at + 20)
                } else {
                    kset = k
                }
            }
            if let end {
                // A torn last write ends the log (repairable); a valid kset of this generation anywhere
                // behind the end in the segment proves damage inside the log: the module refuses to start.
                // The walk goes on from there to show what the damage hides.
                if let follower = try followingKset(segment: segs[Int(chainIndex)], after: segOff, stamp: stamp, region: region) {
                    s.damage.append(LogDamage(endSegment: chainIndex, endOffset: segOff, resumeOffset: follower,
                                              keysBehind: -s.keys, dirtyKeysBehind: -s.dirtyKeys))
                    pendingDamage.append((region, end.offset, end.reason))
                    segOff = follower
                    continue
                }
                if decoded != nil {
                    report(.repairable, .logEndsInGarbage(region: region, offset: end.offset, reason: end.reason))
                    s.endsClean = false
                }
                break
            }
            guard let kset else { break }
            s.ksetBytes += UInt64(kset.size)
            if kset.header.flags & ~KeySet.knownFlags != 0 {
                report(.fatal, .fieldOutOfRange(region: region, field: "flags", offset: at + 6, found: UInt64(kset.header.flags),
                                                allowed: "known flags only (0x1 last)"))
            }
            if kset.isLast {
                s.lastKsets += 1
                let next = kset.header.nextCacheSegment
                guard next < record.cacheSegments else {
                    report(.fatal, .fieldOutOfRange(region: region, field: "next_cache_seg", offset: at + 16, found: UInt64(next),
                                                    allowed: "0...\(record.cacheSegments - 1)"))
                    s.endsClean = false
                    break
                }
                guard visited.insert(next).inserted else {
                    report(.fatal, .logLoop(region: region, offset: at + 16, chainIndex: next))
                    s.endsClean = false
                    break
                }
                if dataSegments.contains(next) {
                    report(.fatal, .fieldOutOfRange(region: region, field: "next_cache_seg", offset: at + 16, found: UInt64(next),
                                                    allowed: "a segment that holds no live data"))
                    s.endsClean = false
                    break
                }
                s.keySegments.append(next)
                chainIndex = next
                segOff = 0
                continue
            }
            s.ksets += 1
            for (k, key) in kset.keys.enumerated() {
                s.keys += 1
                let keyAt = at + UInt64(Layout.ksetHeaderSize + k * Layout.keySize)
                let keyRegion = Region(.key(backing: id, chainIndex: chainIndex, offset: segOff, index: k))
                let bad = key.problems(cacheSegments: record.cacheSegments, deviceBytes: backingBytes, region: keyRegion, offset: keyAt)
                for e in bad { report(.fatal, e) }
                if key.isClean { s.cleanKeys += 1 } else { s.dirtyKeys += 1 }
                guard key.cacheSegment < record.cacheSegments else { continue }
                let gen = gens[Int(key.cacheSegment)]
                if key.segmentGen < gen {
                    s.staleKeys += 1
                    continue
                }
                if key.segmentGen > gen {
                    report(.fatal, .fieldOutOfRange(region: keyRegion, field: "seg_gen", offset: keyAt + 24, found: key.segmentGen,
                                                    allowed: "at most the segment's generation \(gen)"))
                    continue
                }
                if visited.contains(key.cacheSegment) {
                    report(.fatal, .fieldOutOfRange(region: keyRegion, field: "cache_seg", offset: keyAt + 16,
                                                    found: UInt64(key.cacheSegment), allowed: "a data segment, not a key segment"))
                    continue
                }
                dataSegments.insert(key.cacheSegment)
                s.liveBytes += UInt64(key.length)
                if checkData, bad.isEmpty {
                    let dataAt = Layout.dataOffset(segment: segs[Int(key.cacheSegment)], offset: UInt64(key.cacheSegmentOffset))
                    let crc = try image.withBytes(at: dataAt, count: Int(key.length)) { CRC32C.checksum($0) }
                    s.dataBytesVerified += UInt64(key.length)
                    if crc != key.dataCRC {
                        report(.fatal, .dataCrcMismatch(region: Region(.data(backing: id, chainIndex: key.cacheSegment,
                                                                             offset: key.cacheSegmentOffset)),
                                                        offset: dataAt, stored: key.dataCRC, computed: crc))
                    }
                }
            }
            segOff += UInt32(kset.size)
        }
        return finish(s, dirtyTail: dirtyTail, id: id, record: record)
    }

    /// The data-area offset of the first valid kset of this log (as the module's kset reader sees it, with a
    /// gen_stamp of `stamp`) behind the log end at `segmentOffset` in physical segment `segment`; nil when
    /// there is none. Ksets are 8-byte aligned: every 8-byte word holding the kset magic is a candidate.
    /// Mirrors `cache_kset_find_after`.
    func followingKset(segment: UInt32, after segmentOffset: UInt32, stamp: UInt32, region: Region) throws -> UInt32? {
        let magicOff = UInt64(MemoryLayout.offset(of: \pcache_kset_onmedia.magic)!)
        let chunk: UInt64 = 1 << 20
        var off = UInt64(segmentOffset) + 8 + magicOff  // the magic of the first candidate
        while off < Layout.segmentDataSize {
            let n = min(chunk, Layout.segmentDataSize - off)
            let candidates: [UInt64] = try image.withBytes(at: Layout.dataOffset(segment: segment, offset: off), count: Int(n)) { b in
                var found: [UInt64] = []
                var i = 0
                while i + 8 <= b.count {
                    if b.loadUnaligned(fromByteOffset: i, as: UInt64.self) == Layout.ksetMagic.littleEndian {
                        found.append(off + UInt64(i) - magicOff)
                    }
                    i += 8
                }
                return found
            }
            for c in candidates where try validKset(segment: segment, at: c, stamp: stamp, region: region) {
                return UInt32(c)
            }
            off += n
        }
        return nil
    }

    /// Whether the kset at data-area offset `off` is valid and stamped `stamp` (unknown flags allowed: it is
    /// sealed). Mirrors `cache_kset_read`.
    func validKset(segment: UInt32, at off: UInt64, stamp: UInt32, region: Region) throws -> Bool {
        guard off + UInt64(Layout.ksetHeaderSize) <= Layout.segmentDataSize else { return false }
        let at = Layout.dataOffset(segment: segment, offset: off)
        let count = Int(min(Layout.segmentDataSize - off, UInt64(Layout.ksetSizeMax)))
        return try image.withBytes(at: at, count: count) { bytes in
            guard let k = try? KeySet(decoding: bytes, region: region, offset: at), k.header.genStamp == stamp else {
                return false
            }
            return k.isLast ? k.keys.isEmpty
                : !k.keys.isEmpty && off + UInt64(k.size + Layout.ksetHeaderSize) <= Layout.segmentDataSize
        }
    }

    mutating func finish(_ s: LogSummary, dirtyTail: LogPosition, id: UInt32, record: BackingRecord) -> LogSummary {
        var s = s
        for (n, (region, offset, reason)) in pendingDamage.enumerated() {
            s.damage[n].keysBehind += s.keys
            s.damage[n].dirtyKeysBehind += s.dirtyKeys
            let d = s.damage[n]
            report(.fatal, .logDamagedInside(region: region, offset: offset,
                                             reason: "it ends at \(d.endSegment):\(d.endOffset) (\(reason)) but a valid kset of this "
                                                + "generation follows at \(d.endSegment):\(d.resumeOffset); \(d.dirtyKeysBehind) dirty "
                                                + "key(s) (\(d.keysBehind) in all) lie behind the damage; the module refuses to start"))
        }
        pendingDamage = []
        if s.endSegment == dirtyTail.cacheSegment && s.endOffset == dirtyTail.segmentOffset { s.dirtyTailReached = true }
        if !s.dirtyTailReached {
            // After a clean log end the kernel writes back from key_tail again (harmless); after a damaged
            // one the ksets between the damage and dirty_tail are lost.
            let off = Layout.segmentOffset(record.firstSegment) + Layout.dirtyTailOffset
            report(s.endsClean ? .repairable : .fatal, .positionNotOnLog(region: Region(.dirtyTail(backing: id)), offset: off,
                                             chainIndex: dirtyTail.cacheSegment, segmentOffset: dirtyTail.segmentOffset))
        }
        return s
    }
}
