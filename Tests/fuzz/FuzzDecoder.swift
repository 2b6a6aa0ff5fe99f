// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the on-media decoder and checker (built by Tests/fuzz/run.sh with
// `swiftc -sanitize=fuzzer,address` together with Sources/PcacheFormat).
//
// Each input is used twice:
//  1. raw: fed to every record decoder (superblock, backing record, segment info, generation, position,
//     kset) and to the two-copy selection, as if it were the bytes on media;
//  2. structured: read as patches applied to a valid 512 MiB image holding a running cache (3 ksets,
//     LAST links, data_crc), which is then walked by the Checker. Each patch is 8 bytes:
//     [area u8][offset u16 LE][len u8][value 4 bytes], writing `len % 5` bytes of value at
//     area base + offset; so the fuzzer starts from a consistent image and reaches the chain and kset
//     walks instead of stopping at the superblock magic.
// Any crash, trap or sanitizer report is a bug: the tools must turn every input into problems.
// run.sh compiles this file into one module with the library sources, hence the conditional import.
#if canImport(PcacheFormat)
import PcacheFormat
#endif

private struct Base {
    let image: SparseImage
    let areas: [UInt64]

    init() {
        let image = SparseImage(size: 512 << 20)
        do {
            try Formatter(label: "fuzz", uuid: [UInt8](repeating: 7, count: 16), formatTime: 1).format(image)
            var writer = try CacheWriter(image: image)
            var log = try writer.startCache(id: 0, path: "/dev/vda", deviceSectors: 1 << 21, cacheSegments: 6,
                                            flags: BackingRecord.dataCRCFlag, generationSeed: 1)
            log.keySegmentLimit = 6000
            for i in 0..<300 {
                let data = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 512)
                _ = try data.withUnsafeBytes { try log.cache($0, at: UInt64(i) * 4096) }
            }
            try log.flush()
            try writer.write(BackingRecord(id: 0, state: .running, path: "/dev/vda", deviceSectors: 1 << 21,
                                           firstSegment: 0, cacheSegments: 6,
                                           flags: BackingRecord.dataCRCFlag | BackingRecord.initDoneFlag),
                             slot0: Layout.backingRecordOffset(id: 0, copy: 0), stride: Layout.slotSize)
            let p = log.ksetPositions
            try log.setTails(keyTail: (0, 0), dirtyTail: (p[1].segment, p[1].offset))
            var areas: [UInt64] = [Layout.superblockOffset(copy: 0), Layout.superblockOffset(copy: 1),
                                   Layout.backingRecordOffset(id: 0, copy: 0), Layout.backingRecordOffset(id: 0, copy: 1),
                                   Layout.backingRecordOffset(id: 1, copy: 0)]
            for seg in UInt32(0)..<6 {
                areas.append(Layout.segmentInfoOffset(segment: seg, copy: 0))
                areas.append(Layout.segmentOffset(seg) + Layout.segmentCtrlOffset)
            }
            for k in p { areas.append(Layout.dataOffset(segment: k.segment, offset: UInt64(k.offset))) }
            areas.append(Layout.dataOffset(segment: p[0].segment, offset: UInt64(p[0].offset) + 5144))
            areas.append(Layout.dataOffset(segment: 1))
            self.areas = areas
        } catch {
            fatalError("fuzz base image: \(error)")
        }
        self.image = image
    }
}

nonisolated(unsafe) private var base: Base?

private func decodeRaw(_ bytes: UnsafeRawBufferPointer) {
    _ = try? Superblock(decoding: bytes).validate(deviceSize: UInt64(bytes.count) << 20)
    if let r = try? BackingRecord(decoding: bytes, region: Region(.backingRecord(id: 0)), offset: 0) {
        _ = r.problems(id: 0, segmentCount: 100, offset: 0)
        _ = r.description
    }
    _ = try? SegmentInfo(decoding: bytes, region: Region(.segmentInfo(segment: 0)), offset: 0)
    _ = try? SegmentGen(decoding: bytes, region: Region(.segmentGen(segment: 0)), offset: 0)
    _ = try? LogPosition(decoding: bytes, region: Region(.keyTail(backing: 0)), offset: 0)
    if let k = try? KeySet(decoding: bytes, region: Region(.device), offset: 0) {
        for key in k.keys { _ = key.problems(cacheSegments: 10, deviceBytes: 1 << 30, region: Region(.device), offset: 0) }
    }
    let half = bytes.count / 2
    let copies = Copies<LogPosition>(decoding: { i in
        UnsafeRawBufferPointer(rebasing: bytes[(i == 0 ? 0 : half)..<(i == 0 ? half : bytes.count)])
    }, region: Region(.keyTail(backing: 0)), offsets: [0, UInt64(half)])
    _ = copies.latest
    _ = copies.problems(region: Region(.keyTail(backing: 0)))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    decodeRaw(bytes)
    if base == nil { base = Base() }
    let b = base!
    let image = SparseImage(copying: b.image, size: b.image.size)
    var i = 0
    while i + 8 <= size {
        let area = b.areas[Int(bytes[i]) % b.areas.count]
        let offset = UInt64(bytes[i + 1]) | UInt64(bytes[i + 2]) << 8
        let len = Int(bytes[i + 3]) % 5
        let value = Array(bytes[i + 4..<i + 4 + len])
        try? image.write(value, at: area + offset)
        i += 8
    }
    do {
        let inspection = try Checker().inspect(image)
        for p in inspection.problems { _ = p.description }
    } catch {
        fatalError("the checker threw on an in-memory image: \(error)")
    }
    return 0
}
