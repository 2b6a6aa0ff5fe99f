// SPDX-License-Identifier: Apache-2.0
import Foundation
import PcacheFormat
import Testing

/// Golden files under Tests/PcacheFormatTests/Fixtures. `PCACHE_RECORD=1 swift test` rewrites them and
/// fails once, so the diff gets reviewed before it is committed.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static var recording: Bool { ProcessInfo.processInfo.environment["PCACHE_RECORD"] == "1" }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// Compares `actual` with the fixture `name` (or rewrites it when recording).
    static func expectMatches(_ name: String, _ actual: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = directory.appendingPathComponent(name)
        if recording {
            try Data(actual).write(to: url)
            Issue.record("rewrote fixture \(name); review the diff and run again without PCACHE_RECORD",
                         sourceLocation: sourceLocation)
            return
        }
        let stored = try bytes(name)
        #expect(stored == actual, "fixture \(name) differs from what the encoder writes now", sourceLocation: sourceLocation)
    }
}

/// Deterministic sample images.
enum Samples {
    static let mib: UInt64 = 1 << 20
    static let uuid: [UInt8] = [0x6f, 0x1d, 0x3a, 0x52, 0x9c, 0x0e, 0x4b, 0x11, 0x8a, 0x77, 0x02, 0x3c, 0xd4, 0x5e, 0x90, 0x21]
    static let formatTime: UInt64 = 1_795_000_000

    /// A freshly formatted 512 MiB device.
    static func formatted(size: UInt64 = 512 << 20) throws -> SparseImage {
        let image = SparseImage(size: size)
        try Formatter(label: "golden", uuid: uuid, formatTime: formatTime).format(image)
        return image
    }

    /// Where things are in `cache()`.
    struct CacheLayout {
        var ksets: [(segment: UInt32, offset: UInt32)]
        var keySegments: [UInt32]
        var keys: Int
        /// Generation of each chain segment (random from a fixed seed), and the gen_stamp of its ksets.
        var generations: [UInt64]
        var stamps: [UInt32] { generations.map { KeySet.stamp(generation: $0) } }
    }

    /// A formatted 512 MiB device with backing 0 running on 6 segments (physical 0-5), data_crc on,
    /// 300 keys of 512 bytes in 3 ksets spread over 3 key segments (LAST links after each), the backing
    /// record, key_tail and dirty_tail each written twice (so both slots are valid), dirty_tail at the
    /// second kset. With `state` .cached the latest record copy says cached (stopped with the cache kept),
    /// the older one running, as after a stop of a running cache.
    static func cache(state: BackingRecord.State = .running) throws -> (SparseImage, CacheLayout) {
        let image = try formatted()
        var writer = try CacheWriter(image: image)
        var log = try writer.startCache(id: 0, path: "/dev/vda", deviceSectors: 2 << 20, cacheSegments: 6,
                                        flags: BackingRecord.dataCRCFlag, generationSeed: 6)
        log.keySegmentLimit = 6000
        for i in 0..<300 {
            let data = (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            let ok = try data.withUnsafeBytes { try log.cache($0, at: UInt64(i) * 4096, clean: i % 10 == 0) }
            precondition(ok)
        }
        try log.flush()
        var record = BackingRecord(id: 0, state: state, path: "/dev/vda", ident: "serial-QM00001",
                                   deviceSectors: 2 << 20, firstSegment: 0, cacheSegments: 6,
                                   flags: BackingRecord.dataCRCFlag | BackingRecord.initDoneFlag,
                                   startTime: formatTime + 60)
        record.queues = 2
        try writer.write(record, slot0: Layout.backingRecordOffset(id: 0, copy: 0), stride: Layout.slotSize)
        let second = log.ksetPositions[1]
        try log.setTails(keyTail: (0, 0), dirtyTail: (second.segment, second.offset))
        let keySegs = [UInt32(0)] + log.ksetPositions.dropFirst().map(\.segment)
        return (image, CacheLayout(ksets: log.ksetPositions, keySegments: keySegs, keys: 300,
                                       generations: log.generations))
    }
}

extension ImageSink {
    /// Decodes the record at `offset`, lets `change` modify it, and writes it back with its crc resealed
    /// (a crafted but crc-valid record).
    func reseal<R: MetaRecord>(_ type: R.Type, at offset: UInt64, _ change: (inout R) -> Void) throws {
        var r = try R(decoding: try read(at: offset, count: R.size), region: Region(.device), offset: offset)
        change(&r)
        try write(r.encoded(), at: offset)
    }

    /// The same for a superblock copy.
    func resealSuperblock(copy: Int, _ change: (inout Superblock) -> Void) throws {
        let at = Layout.superblockOffset(copy: copy)
        var sb = try Superblock(decoding: try read(at: at, count: Layout.superblockSize), copy: copy)
        change(&sb)
        try write(sb.encoded(), at: at)
    }

    /// The same for a kset.
    func resealKeySet(at offset: UInt64, _ change: (inout KeySet) -> Void) throws {
        var k = try KeySet(decoding: try read(at: offset, count: Layout.ksetSizeMax), region: Region(.device), offset: offset)
        change(&k)
        try write(k.encoded(), at: offset)
    }

    func flip(at offset: UInt64, mask: UInt8 = 0xFF) throws {
        var b = try read(at: offset, count: 1)
        b[0] ^= mask
        try write(b, at: offset)
    }
}

extension Inspection {
    var codes: [String] { problems.map(\.error.code) }
    func has(_ code: String, _ severity: Severity) -> Bool {
        problems.contains { $0.error.code == code && $0.severity == severity }
    }
}

/// A small deterministic PRNG (SplitMix64) so property tests are reproducible.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
