// SPDX-License-Identifier: Apache-2.0
import PcacheFormat
import Testing

@Suite("CRC32C") struct CRC32CTests {
    @Test("the check value of \"123456789\" from seed 0xFFFFFFFF is 0x1CF96D7C without final inversion",
          arguments: CRC32C.Implementation.allCases)
    func checkValue(implementation: CRC32C.Implementation) throws {
        try #require(implementation != .hardware || CRC32C.hardwareAvailable, "this CPU has no SSE4.2")
        let crc = CRC32C.checksum(Array("123456789".utf8), seed: 0xFFFF_FFFF, implementation: implementation)
        #expect(crc == 0x1CF9_6D7C)
        #expect(~crc == 0xE306_9283)
    }

    @Test("an empty buffer leaves the seed unchanged")
    func empty() {
        #expect(CRC32C.checksum([UInt8](), seed: 0x3B15A) == 0x3B15A)
    }

    @Test("hardware and table agree on every length and alignment",
          arguments: [0, 1, 3, 7, 8, 9, 31, 32, 33, 63, 64, 65, 511, 4096, 5144, 65537])
    func agree(length: Int) throws {
        try #require(CRC32C.hardwareAvailable, "this CPU has no SSE4.2")
        var g = SplitMix(seed: UInt64(length))
        let buffer = (0..<length + 8).map { _ in UInt8.random(in: 0...255, using: &g) }
        for shift in 0..<8 {
            let slice = Array(buffer[shift..<shift + length])
            let seed = UInt32.random(in: 0...UInt32.max, using: &g)
            #expect(CRC32C.checksum(slice, seed: seed, implementation: .hardware)
                    == CRC32C.checksum(slice, seed: seed, implementation: .table))
        }
    }

    @Test("crc of a concatenation continues from the crc of the prefix")
    func chaining() {
        let a = Array("pcache ".utf8), b = Array("crc32c".utf8)
        #expect(CRC32C.checksum(b, seed: CRC32C.checksum(a)) == CRC32C.checksum(a + b))
    }
}
