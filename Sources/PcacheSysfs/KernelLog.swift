// SPDX-License-Identifier: Apache-2.0
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Collects the `pcache:` kernel log lines a write causes.
///
/// Open before the write (positioned at the end of the log), collect after it. /dev/kmsg returns one record
/// per read ("prio,seq,usec,flags;text" then optional " KEY=value" continuation lines); a plain file (the
/// fake tree in tests) returns whatever was appended. When the log cannot be read (not root with
/// dmesg_restrict, no /dev/kmsg) the watch is inert and the error falls back to errno alone.
public final class KernelLogWatch {
    private var fd: FileDescriptor?
    /// Why the log could not be opened, for `--verbose` and tests.
    public private(set) var unavailableReason: String?

    public init(path: FilePath?) {
        guard let path else { unavailableReason = "no kernel log configured"; return }
        do {
            let fd = try FileDescriptor.open(path, .readOnly, options: [.nonBlocking])
            _ = try fd.seek(offset: 0, from: .end)
            self.fd = fd
        } catch {
            unavailableReason = "\(path): \(error)"
        }
    }

    deinit { try? fd?.close() }

    public var isAvailable: Bool { fd != nil }

    /// Reads what was logged since `init` (or the previous call) and returns the pcache lines, without the
    /// record header and without the "pcache: " prefix.
    public func collect() -> [String] {
        guard let fd else { return [] }
        var lines: [String] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        // /dev/kmsg: one record per read; EAGAIN when drained; EPIPE when records were overwritten.
        for _ in 0..<4096 {
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
            } catch Errno.brokenPipe {
                continue
            } catch {
                break
            }
            if count <= 0 { break }
            let text = String(decoding: buffer[0..<count], as: UTF8.self)
            for line in text.split(separator: "\n") where !line.hasPrefix(" ") {
                if let message = Self.pcacheMessage(in: String(line)) { lines.append(message) }
            }
        }
        return lines
    }

    /// "6,1234,5678,-;pcache: cache_dev0: busy" -> "cache_dev0: busy"; nil for other subsystems.
    public static func pcacheMessage(in record: String) -> String? {
        var text = Substring(record)
        if let semicolon = text.firstIndex(of: ";"),
           text[..<semicolon].allSatisfy({ $0.isNumber || $0 == "," || $0 == "-" || $0.isLetter }),
           text[..<semicolon].contains(",") {
            text = text[text.index(after: semicolon)...]
        }
        guard text.hasPrefix("pcache: ") else { return nil }
        return String(text.dropFirst("pcache: ".count))
    }
}
