// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheFormat
#if canImport(Glibc)
import Glibc
#endif

/// Exit statuses of pcachectl. They follow sysexits(3) and are part of the interface (tested in
/// PcacheCtlTests and listed in Docs/format.md and pcachectl(8)):
///
/// | status | meaning |
/// |---|---|
/// | 0  | success; for `check`: the device is clean |
/// | 1  | unclassified failure |
/// | 2  | `check` only: repairable damage (the kernel still reads the device; e.g. one bad copy of a two-copy record, a torn kset at the log end) |
/// | 64 | usage: bad arguments or options |
/// | 65 | bad on-media data; for `check`: fatal damage; for `format`: the device carries data (a pcache superblock or another signature) and `--force` was not given |
/// | 69 | unavailable: no such device, module not loaded, device too small or not DAX-capable |
/// | 74 | I/O error reading or writing the device |
/// | 75 | busy: the device is in use (mounted, held, opened exclusively); a retry may work |
/// | 77 | permission denied |
enum ExitStatus: Int32, CaseIterable, Sendable {
    case ok = 0
    case failure = 1
    case checkRepairable = 2
    case usage = 64
    case dataError = 65
    case unavailable = 69
    case ioError = 74
    case busy = 75
    case permission = 77

    /// `check` reports fatal damage with the bad-data status.
    static let checkFatal = ExitStatus.dataError

    /// The status for an errno from open/read/write.
    init(errno code: Int32) {
        switch code {
        case EACCES, EPERM, EROFS: self = .permission
        case ENOENT, ENXIO, ENODEV, ENOTDIR: self = .unavailable
        case EBUSY: self = .busy
        default: self = .ioError
        }
    }
}

/// An error that knows its exit status. Errors of other modules get theirs in `ExitStatus.for(_:)`.
protocol ExitStatusError: Error, CustomStringConvertible {
    var exitStatus: ExitStatus { get }
}

extension ExitStatus {
    /// The status for any error a verb lets escape.
    static func `for`(_ error: any Error) -> ExitStatus {
        switch error {
        case let e as any ExitStatusError: return e.exitStatus
        case is FormatError: return .dataError
        case let e as ImageIOError: return ExitStatus(errno: e.errno)
        default: return .failure
        }
    }
}

/// A refusal or failure of a verb with its own status and message.
struct CommandFailure: ExitStatusError {
    var exitStatus: ExitStatus
    var message: String
    var description: String { message }

    init(_ status: ExitStatus, _ message: String) {
        exitStatus = status
        self.message = message
    }
}

/// Runs a verb's body; an error that escapes becomes one stderr line, `pcachectl: <verb>: <message>`,
/// and the exit status from `ExitStatus.for`. ArgumentParser's own errors (usage, help, explicit exit
/// codes) pass through untouched.
func runVerb(_ verb: String, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch let e as CleanExit {
        throw e
    } catch {
        writeStderr("pcachectl: \(verb): \(error)")
        throw ExitCode(ExitStatus.for(error).rawValue)
    }
}

/// Writes one line to stderr.
func writeStderr(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes[done...].withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        done += n
    }
}
