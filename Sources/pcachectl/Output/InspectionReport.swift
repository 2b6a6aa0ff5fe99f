// SPDX-License-Identifier: Apache-2.0
import PcacheFormat

// JSON shapes of a checker inspection, shared by `check` and `dump`. Property names are camelCase here
// and snake_case in the output; numbers stay numbers (crc values too).

/// One problem: `{"severity": "fatal", "code": "crc_mismatch", "region": "...", "offset": 4096, ...}`.
struct ProblemJSON: Encodable {
    var severity: String
    var code: String
    var region: String
    var offset: UInt64
    var message: String
    var found: FormatError.Value?
    var expected: FormatError.Value?

    init(_ p: Problem) {
        severity = p.severity.rawValue
        code = p.error.code
        region = p.error.region.description
        offset = p.error.offset
        message = p.error.reason
        found = p.error.found
        expected = p.error.expected
    }
}

/// One slot of a two-copy record.
struct CopyJSON: Encodable {
    var copy: Int
    var offset: UInt64
    /// "valid", "empty" or "damaged".
    var status: String
    /// Whether the copy rule reads this slot.
    var inUse: Bool
    var seq: UInt32?
    var crc: UInt32?
    var error: String?

    init<R>(_ copies: Copies<R>, _ i: Int) {
        copy = i
        offset = copies.offsets[i]
        status = copies.slots[i].name
        inUse = copies.latest?.slot == i
        seq = copies.slots[i].record?.seq
        crc = copies.slots[i].record?.storedCRC
        error = copies.slots[i].error?.reason
    }

    static func all<R>(_ copies: Copies<R>) -> [CopyJSON] { copies.slots.indices.map { CopyJSON(copies, $0) } }
}

struct SuperblockJSON: Encodable {
    struct Copy: Encodable {
        var copy: Int
        var offset: UInt64
        var status: String
        var inUse: Bool
        var crc: UInt32?
        var error: String?
    }

    var copies: [Copy]
    var version: UInt16?
    var flags: UInt16?
    var featureCompat: UInt32?
    var featureRoCompat: UInt32?
    var featureIncompat: UInt32?
    var segNum: UInt32?
    var segSize: UInt32?
    var backingMax: UInt32?
    var segmentsOff: UInt64?
    var devSize: UInt64?
    var formatTime: UInt64?
    var uuid: String?
    var label: String?
    var usableBytes: UInt64?

    init(_ i: Inspection) {
        copies = i.superblockCopies.enumerated().map { n, s in
            Copy(copy: n, offset: Layout.superblockOffset(copy: n), status: s.name, inUse: i.superblockSlot == n,
                 crc: s.record?.storedCRC, error: s.error?.reason)
        }
        guard let sb = i.superblock else { return }
        version = sb.version
        flags = sb.flags
        featureCompat = sb.featureCompat
        featureRoCompat = sb.featureRoCompat
        featureIncompat = sb.featureIncompat
        segNum = sb.segmentCount
        segSize = sb.segmentSize
        backingMax = sb.backingMax
        segmentsOff = sb.segmentsOffset
        devSize = sb.deviceSize
        formatTime = sb.formatTime
        uuid = sb.uuidString
        label = sb.label
        usableBytes = sb.usableBytes
    }
}

struct PositionJSON: Encodable {
    var cacheSeg: UInt32?
    var segOff: UInt32?
    var copies: [CopyJSON]

    init(_ c: Copies<LogPosition>) {
        cacheSeg = c.latest?.record.cacheSegment
        segOff = c.latest?.record.segmentOffset
        copies = CopyJSON.all(c)
    }
}

struct ChainSegmentJSON: Encodable {
    var index: UInt32
    var segment: UInt32
    var offset: UInt64
    var gen: UInt64
    var next: UInt32?
    var info: [CopyJSON]
    var genCopies: [CopyJSON]

    init(_ e: ChainEntry) {
        index = e.index
        segment = e.segment
        offset = Layout.segmentOffset(e.segment)
        gen = e.generation
        if let info = e.info.latest?.record, info.hasNext { next = info.nextSegment }
        info = CopyJSON.all(e.info)
        genCopies = CopyJSON.all(e.gen)
    }
}

struct LogJSON: Encodable {
    var ksets: Int
    var lastKsets: Int
    var keys: Int
    var dirtyKeys: Int
    var cleanKeys: Int
    var staleKeys: Int
    var liveBytes: UInt64
    var ksetBytes: UInt64
    var dataBytesVerified: UInt64
    var keySegments: [UInt32]
    var endCacheSeg: UInt32
    var endSegOff: UInt32
    var endsClean: Bool
    var dirtyTailOnLog: Bool
    /// Log ends with a valid kset of this log behind them (damage inside the log).
    var damage: [Damage]

    struct Damage: Encodable {
        var endCacheSeg: UInt32
        var endSegOff: UInt32
        var resumeSegOff: UInt32
        var keysBehind: Int
        var dirtyKeysBehind: Int
    }

    init(_ l: LogSummary) {
        ksets = l.ksets
        lastKsets = l.lastKsets
        keys = l.keys
        dirtyKeys = l.dirtyKeys
        cleanKeys = l.cleanKeys
        staleKeys = l.staleKeys
        liveBytes = l.liveBytes
        ksetBytes = l.ksetBytes
        dataBytesVerified = l.dataBytesVerified
        keySegments = l.keySegments
        endCacheSeg = l.endSegment
        endSegOff = l.endOffset
        endsClean = l.endsClean
        dirtyTailOnLog = l.dirtyTailReached
        damage = l.damage.map {
            Damage(endCacheSeg: $0.endSegment, endSegOff: $0.endOffset, resumeSegOff: $0.resumeOffset,
                   keysBehind: $0.keysBehind, dirtyKeysBehind: $0.dirtyKeysBehind)
        }
    }
}

struct BackingJSON: Encodable {
    var id: UInt32
    var copies: [CopyJSON]
    var state: String?
    var stateValue: UInt32?
    var path: String?
    var ident: String?
    var devSectors: UInt64?
    var flags: UInt32?
    var dataCrc: Bool?
    var gcPercent: UInt32?
    var queues: UInt32?
    var firstSeg: UInt32?
    var cacheSegs: UInt32?
    var startTime: UInt64?
    /// RUNNING or CACHED with INIT_DONE: the chain holds cached data the next start replays, and was checked.
    var holdsCache: Bool?
    /// RUNNING without INIT_DONE: nothing to replay, the chain was not checked.
    var chainNotInitialised: Bool?
    var keyTail: PositionJSON?
    var dirtyTail: PositionJSON?
    var chain: [ChainSegmentJSON]?
    var log: LogJSON?

    init(_ b: BackingInspection, full: Bool) {
        id = b.id
        copies = CopyJSON.all(b.copies)
        if let r = b.record {
            state = r.state?.name ?? "unknown"
            stateValue = r.stateValue
            path = r.path ?? String(decoding: r.pathBytes, as: UTF8.self)
            ident = r.ident ?? String(decoding: r.identBytes, as: UTF8.self)
            devSectors = r.deviceSectors
            flags = r.flags
            dataCrc = r.dataCRC
            gcPercent = r.gcPercent
            queues = r.queues
            firstSeg = r.firstSegment
            cacheSegs = r.cacheSegments
            startTime = r.startTime
            holdsCache = r.holdsCache
            if b.chainNotInitialised { chainNotInitialised = true }
        }
        keyTail = b.keyTail.map(PositionJSON.init)
        dirtyTail = b.dirtyTail.map(PositionJSON.init)
        if full { chain = b.chain.map(ChainSegmentJSON.init) }
        log = b.log.map(LogJSON.init)
    }
}

/// Summary counts of an inspection.
struct InspectionSummary: Encodable {
    var status: String
    var fatal: Int
    var repairable: Int

    init(_ i: Inspection) {
        fatal = i.problems.filter { $0.severity == .fatal }.count
        repairable = i.problems.count - fatal
        status = fatal > 0 ? "fatal" : repairable > 0 ? "repairable" : "clean"
    }
}

// MARK: text

extension Inspection {
    /// "clean", or "N problems (F fatal, R repairable)".
    var summaryLine: String {
        let s = InspectionSummary(self)
        if s.status == "clean" { return "clean" }
        return "\(problems.count) problem\(problems.count == 1 ? "" : "s") (\(s.fatal) fatal, \(s.repairable) repairable)"
    }
}

/// "3", "0-9", "0-9, 12, 20-21": a chain of physical ids with consecutive runs folded.
func foldRuns(_ ids: [UInt32]) -> String {
    var parts: [String] = []
    var i = 0
    while i < ids.count {
        var j = i
        while j + 1 < ids.count, ids[j + 1] == ids[j] &+ 1 { j += 1 }
        parts.append(i == j ? "\(ids[i])" : "\(ids[i])-\(ids[j])")
        i = j + 1
    }
    return parts.joined(separator: ", ")
}

/// "copy 0 @16384: valid seq 3 crc 0x12345678 (in use)".
func copyLine<R>(_ c: Copies<R>, _ i: Int) -> String {
    var s = "copy \(i) @\(c.offsets[i]): \(c.slots[i].name)"
    if let r = c.slots[i].record { s += " seq \(r.seq) crc \(hexString(r.storedCRC))" }
    if let e = c.slots[i].error { s += " (\(e.reason))" }
    if c.latest?.slot == i { s += " (in use)" }
    return s
}
