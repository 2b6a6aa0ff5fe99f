// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call on a device or image file.
public struct ImageIOError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    /// What was attempted: "open", "read", "write", "sync", "stat".
    public var operation: String
    public var errno: Int32
    /// Byte offset of a failed read or write.
    public var offset: UInt64?
    /// What the path is when that is the reason ("a FIFO (named pipe)"); the system call itself worked.
    public var fileType: String?

    public init(path: String, operation: String, errno: Int32, offset: UInt64? = nil, fileType: String? = nil) {
        self.path = path
        self.operation = operation
        self.errno = errno
        self.offset = offset
        self.fileType = fileType
    }

    public var description: String {
        if let fileType { return "\(path) is \(fileType), neither a block device nor a regular image file" }
        let what = offset.map { "\(operation) at offset \($0)" } ?? operation
        return "cannot \(what) \(path): \(String(cString: strerror(errno)))"
    }
}

/// What a device or image path names: the only two kinds of file pcachectl reads or writes as an image.
public enum ImageFileKind: Hashable, Sendable {
    /// A block device, with its device number (st_rdev).
    case blockDevice(rdev: UInt64)
    case regularFile

    /// What `path` is, from stat(2), which never opens it: open(2) of a FIFO blocks until a writer comes,
    /// and a character device or socket is no image either. Symbolic links are followed (/dev/disk/by-id).
    /// `format`, `check` and `dump` all go through here before they open anything.
    /// - Throws: `ImageIOError` ("stat") when the path cannot be looked up; `ImageIOError` with `fileType`
    ///   set (errno ENODEV) naming the type of anything else.
    public init(path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw ImageIOError(path: path, operation: "stat", errno: errno) }
        switch st.st_mode & S_IFMT {
        case S_IFBLK: self = .blockDevice(rdev: UInt64(st.st_rdev))
        case S_IFREG: self = .regularFile
        case let type: throw ImageIOError(path: path, operation: "use", errno: ENODEV, fileType: Self.name(of: type))
        }
    }

    static func name(of type: mode_t) -> String {
        switch type {
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFCHR: "a character device"
        case S_IFDIR: "a directory"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "a file of type \(String(type, radix: 8))"
        }
    }
}

/// Bytes of a cache device or image, read in place.
public protocol ImageSource: AnyObject {
    /// Bytes of the device or image.
    var size: UInt64 { get }
    /// Calls `body` with up to `count` bytes from `offset`: fewer where the image ends, none past it.
    /// - Throws: `ImageIOError` when the read fails, or what `body` throws.
    func withBytes<T>(at offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T
}

/// An image that can also be written.
public protocol ImageSink: ImageSource {
    /// Writes `bytes` at `offset`; the image must be large enough.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws
    /// Makes every write so far durable.
    func sync() throws
}

extension ImageSource {
    /// A copy of up to `count` bytes from `offset`.
    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        try withBytes(at: offset, count: count) { Array($0) }
    }
}

extension ImageSink {
    public func write(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    /// Writes `count` zero bytes from `offset`, in pieces of at most 1 MiB.
    public func zero(at offset: UInt64, count: UInt64) throws {
        let piece = [UInt8](repeating: 0, count: Int(min(count, 1 << 20)))
        var done: UInt64 = 0
        while done < count {
            let n = Int(min(UInt64(piece.count), count - done))
            try piece.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[..<n]), at: offset + done) }
            done += UInt64(n)
        }
    }
}

/// An image held in memory (tests, fuzzing).
public final class MemoryImage: ImageSink {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }

    public var size: UInt64 { UInt64(bytes.count) }

    public func withBytes<T>(at offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        let start = Int(min(offset, size))
        let end = Int(min(UInt64(start) + UInt64(max(count, 0)), size))
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    public func write(_ src: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard offset + UInt64(src.count) <= size else {
            throw ImageIOError(path: "<memory>", operation: "write", errno: ENOSPC, offset: offset)
        }
        bytes.withUnsafeMutableBytes { dst in
            UnsafeMutableRawBufferPointer(rebasing: dst[Int(offset)..<Int(offset) + src.count]).copyMemory(from: src)
        }
    }

    public func sync() throws {}
}

/// A device or image file read with pread in large chunks, so that walking the metadata and the data
/// of a whole cache is mostly sequential I/O; writes go straight through with pwrite.
public final class FileImage: ImageSink {
    public let path: String
    public let size: UInt64
    /// Whether the path is a block device (else a regular file).
    public let isBlockDevice: Bool
    /// Bytes read from the file so far (for measurements).
    public private(set) var bytesRead: UInt64 = 0

    private let fd: Int32
    private let chunkSize: Int
    private var chunks: [(offset: UInt64, bytes: [UInt8])] = []
    private let chunkLimit = 4

    /// Opens `path`.
    /// - Parameters:
    ///   - writable: open read-write.
    ///   - exclusive: add O_EXCL, which on a block device fails with EBUSY while something holds it.
    ///   - chunkSize: bytes per read-ahead chunk.
    /// - Throws: `ImageIOError` (open, stat).
    public init(path: String, writable: Bool = false, exclusive: Bool = false, chunkSize: Int = 4 << 20) throws {
        self.path = path
        self.chunkSize = chunkSize
        _ = try ImageFileKind(path: path)
        // O_NONBLOCK: should the path turn into a FIFO after the stat above, open returns instead of
        // waiting for a writer, and the fstat below refuses it. Cleared again before any I/O.
        var flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK
        if exclusive { flags |= O_EXCL }
        let fd = open(path, flags)
        guard fd >= 0 else { throw ImageIOError(path: path, operation: "open", errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw ImageIOError(path: path, operation: "stat", errno: e)
        }
        guard fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0 else {
            let e = errno
            close(fd)
            throw ImageIOError(path: path, operation: "open", errno: e)
        }
        isBlockDevice = (st.st_mode & S_IFMT) == S_IFBLK
        if isBlockDevice {
            let end = lseek(fd, 0, SEEK_END)
            guard end >= 0 else {
                let e = errno
                close(fd)
                throw ImageIOError(path: path, operation: "stat", errno: e)
            }
            size = UInt64(end)
            // The block device's page cache may hold pages from before the kernel module last wrote
            // through its DAX mapping: drop them so reads see the media. (Written pages were synced.)
            _ = fsync(fd)
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        } else if (st.st_mode & S_IFMT) == S_IFREG {
            size = UInt64(st.st_size)
        } else {
            close(fd)
            throw ImageIOError(path: path, operation: "use", errno: ENODEV, fileType: ImageFileKind.name(of: st.st_mode & S_IFMT))
        }
        self.fd = fd
    }

    deinit { close(fd) }

    public func withBytes<T>(at offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        guard offset < size, count > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        let count = Int(min(UInt64(count), size - offset))
        if let i = chunks.firstIndex(where: { $0.offset <= offset && offset + UInt64(count) <= $0.offset + UInt64($0.bytes.count) }) {
            let c = chunks.remove(at: i)
            chunks.append(c)
            let start = Int(offset - c.offset)
            return try c.bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<start + count])) }
        }
        if count >= chunkSize {
            let bytes = try pread(at: offset, count: count)
            return try bytes.withUnsafeBytes { try body($0) }
        }
        // Align the chunk to 4 KiB so that a sequential walk reads whole, aligned pieces.
        var start = offset & ~4095
        if offset + UInt64(count) > start + UInt64(chunkSize) { start = offset }
        let bytes = try pread(at: start, count: Int(min(UInt64(chunkSize), size - start)))
        if chunks.count >= chunkLimit { chunks.removeFirst() }
        chunks.append((start, bytes))
        let s = Int(offset - start)
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[s..<s + count])) }
    }

    /// Reads exactly `count` bytes (the caller bounded them by `size`).
    private func pread(at offset: UInt64, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        try out.withUnsafeMutableBytes { buf in
            while done < count {
                let n = Glibc.pread(fd, buf.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ImageIOError(path: path, operation: "read", errno: errno, offset: offset + UInt64(done))
                }
                if n == 0 { throw ImageIOError(path: path, operation: "read", errno: EIO, offset: offset + UInt64(done)) }
                done += n
            }
        }
        bytesRead += UInt64(count)
        return out
    }

    public func write(_ src: UnsafeRawBufferPointer, at offset: UInt64) throws {
        chunks.removeAll { $0.offset < offset + UInt64(src.count) && offset < $0.offset + UInt64($0.bytes.count) }
        var done = 0
        while done < src.count {
            let n = pwrite(fd, src.baseAddress! + done, src.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageIOError(path: path, operation: "write", errno: errno, offset: offset + UInt64(done))
            }
            done += n
        }
    }

    public func sync() throws {
        guard fsync(fd) == 0 else { throw ImageIOError(path: path, operation: "sync", errno: errno) }
        if isBlockDevice { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) }
    }
}
