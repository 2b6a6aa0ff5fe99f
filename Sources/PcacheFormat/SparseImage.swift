// SPDX-License-Identifier: Apache-2.0

/// An image of any size held as its non-zero 4 KiB pages; absent pages read as zero. Lets tests work on
/// 512 MiB+ devices in a few MiB, and stores golden images as small files.
public final class SparseImage: ImageSink {
    public let size: UInt64
    private var pages: [UInt64: [UInt8]] = [:]
    private static let pageSize = 4096
    private static let zeroPage = [UInt8](repeating: 0, count: pageSize)

    public init(size: UInt64) { self.size = size }

    /// A copy of `other` cut (or extended with zeros) to `size` bytes.
    public init(copying other: SparseImage, size: UInt64) {
        self.size = size
        let ps = UInt64(Self.pageSize)
        for (index, page) in other.pages where index * ps < size {
            let keep = Int(min(ps, size - index * ps))
            pages[index] = keep == Self.pageSize ? page : Array(page[..<keep]) + [UInt8](repeating: 0, count: Self.pageSize - keep)
        }
    }

    public func withBytes<T>(at offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        let start = min(offset, size)
        let end = min(start + UInt64(max(count, 0)), size)
        let ps = UInt64(Self.pageSize)
        if start / ps == (end == start ? start : end - 1) / ps {
            let page = pages[start / ps] ?? Self.zeroPage
            let s = Int(start % ps)
            return try page.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[s..<s + Int(end - start)])) }
        }
        var out = [UInt8]()
        out.reserveCapacity(Int(end - start))
        var at = start
        while at < end {
            let page = pages[at / ps] ?? Self.zeroPage
            let s = Int(at % ps)
            let n = Int(min(UInt64(Self.pageSize - s), end - at))
            out += page[s..<s + n]
            at += UInt64(n)
        }
        return try out.withUnsafeBytes { try body($0) }
    }

    public func write(_ src: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard offset + UInt64(src.count) <= size else {
            throw ImageIOError(path: "<sparse>", operation: "write", errno: 28, offset: offset)
        }
        let ps = UInt64(Self.pageSize)
        var done = 0
        while done < src.count {
            let at = offset + UInt64(done)
            let s = Int(at % ps)
            let n = min(Self.pageSize - s, src.count - done)
            var page = pages[at / ps] ?? Self.zeroPage
            page.withUnsafeMutableBytes {
                UnsafeMutableRawBufferPointer(rebasing: $0[s..<s + n]).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[done..<done + n]))
            }
            if page == Self.zeroPage { pages[at / ps] = nil } else { pages[at / ps] = page }
            done += n
        }
    }

    public func sync() throws {}

    /// Offsets of the pages that hold non-zero bytes.
    public var nonZeroPages: [UInt64] { pages.keys.sorted().map { $0 * UInt64(Self.pageSize) } }

    // Serialized form: "PCSPARSE", size (u64 LE), page count (u64 LE), then per page its index (u64 LE)
    // and its 4 KiB, pages in ascending order.
    private static let fileMagic = Array("PCSPARSE".utf8)

    /// The image as a file.
    public func serialized() -> [UInt8] {
        var out = Self.fileMagic
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        u64(size)
        u64(UInt64(pages.count))
        for k in pages.keys.sorted() {
            u64(k)
            out += pages[k]!
        }
        return out
    }

    /// Reads an image written by `serialized()`; nil when the bytes are not one.
    public init?(serialized bytes: [UInt8]) {
        guard bytes.count >= 24, Array(bytes[0..<8]) == Self.fileMagic else { return nil }
        func u64(_ at: Int) -> UInt64 {
            bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        }
        size = u64(8)
        let count = u64(16)
        let stride = 8 + Self.pageSize
        guard count <= UInt64(bytes.count), bytes.count == 24 + Int(count) * stride else { return nil }
        for i in 0..<Int(count) {
            let at = 24 + i * stride
            let index = u64(at)
            guard index < (size + UInt64(Self.pageSize) - 1) / UInt64(Self.pageSize) else { return nil }
            pages[index] = Array(bytes[at + 8..<at + stride])
        }
    }
}
