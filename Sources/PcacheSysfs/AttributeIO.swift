// SPDX-License-Identifier: Apache-2.0
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension SysfsTree {
    /// Reads a whole attribute as text.
    ///
    /// - Throws: `SysfsError` with the errno, or `.moduleNotLoaded` when the bus itself is missing.
    public func read(_ path: FilePath) throws -> String {
        do {
            let fd = try FileDescriptor.open(path, .readOnly)
            defer { try? fd.close() }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
                if n <= 0 { break }
                bytes.append(contentsOf: chunk[0..<n])
                if bytes.count > 1 << 20 { break }
            }
            return String(decoding: bytes, as: UTF8.self)
        } catch let errno as Errno {
            // A missing pcache attribute usually means a missing module; say that instead.
            if path.starts(with: bus) { try requireModule() }
            let code = SysfsError.code(for: errno)
            // The ABI makes every attribute 0400: say so rather than leave a bare EACCES.
            let hint = code == .permissionDenied ? " (pcache attributes are readable by root only)" : ""
            throw SysfsError(code: code, path: path, errno: errno, message: "cannot read \(objectName(of: path))\(hint)")
        }
    }

    /// Reads an attribute and strips the trailing newline.
    public func readLine(_ path: FilePath) throws -> String {
        var text = try read(path)
        while text.last == "\n" { text.removeLast() }
        return text
    }

    /// Reads a numeric attribute and checks it against its range.
    public func readNumber(_ path: FilePath, range: ClosedRange<UInt64>? = nil) throws -> UInt64 {
        let text = try readLine(path)
        guard let value = parseDecimal(text) else {
            throw SysfsError(code: .io, path: path, message: "\(objectName(of: path)) reads '\(text)', not a number")
        }
        if let range, !range.contains(value) {
            throw SysfsError(code: .io, path: path,
                             message: "\(objectName(of: path)) reads \(value), outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// Writes `value` to an attribute in one write(2) and turns a refusal into a `SysfsError` carrying the
    /// kernel's own reason.
    ///
    /// - Parameters:
    ///   - value: the complete option string; a newline is not added (the kernel strips one if present).
    ///   - path: the attribute.
    ///   - action: what we were doing, for the message ("register /dev/pmem0").
    /// - Throws: `SysfsError`; `kernelLog` holds the `pcache:` lines logged during the write.
    ///   - retryOnInterrupt: false lets a signal end a write the kernel waits in (a stop with flush=1):
    ///     the kernel gives up with EINTR and the write is not made again.
    public func write(_ value: String, to path: FilePath, action: String, retryOnInterrupt: Bool = true) throws {
        try requireModule()
        let watch = KernelLogWatch(path: kernelLogPath)
        let failure: Errno?
        do {
            // O_TRUNC as a shell redirection does: harmless on sysfs, and a fake tree reads back exactly the value.
            let fd = try FileDescriptor.open(path, .writeOnly, options: [.truncate])
            defer { try? fd.close() }
            let bytes = Array(value.utf8)
            let written = try bytes.withUnsafeBytes { try fd.write($0, retryOnInterrupt: retryOnInterrupt) }
            failure = written == bytes.count ? nil : .ioError
        } catch let errno as Errno {
            failure = errno
        }
        guard let failure else { return }
        let lines = watch.collect()
        // The last line is the decision ("pcache: cache_dev0: still has backing devices").
        let message = lines.last.map { "cannot \(action): \($0)" } ?? "cannot \(action)"
        throw SysfsError(code: SysfsError.code(for: failure), path: path, errno: failure, message: message,
                         kernelLog: lines)
    }

    /// "cache_dev0/backing_dev1/stats" style name for messages.
    func objectName(of path: FilePath) -> String {
        let parts = path.components.map(\.string)
        if let i = parts.lastIndex(where: { $0.hasPrefix("cache_dev") && !$0.contains("register") }) {
            return parts[i...].joined(separator: "/")
        }
        return parts.last ?? path.string
    }
}

func fileExists(_ path: FilePath) -> Bool {
    var st = stat()
    return path.withPlatformString { stat($0, &st) } == 0
}

func isDirectory(_ path: FilePath) -> Bool {
    var st = stat()
    return path.withPlatformString { stat($0, &st) } == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// Names in a directory, sorted; empty when it cannot be read.
public func directoryEntries(_ path: FilePath) -> [String] {
    guard let dir = path.withPlatformString({ opendir($0) }) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}
