// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import PcacheLifecycle
import PcacheSysfs
import SystemPackage
import Testing

@testable import pcachectl

@Suite("Exit codes") struct ExitCodeTests {
    @Test("every sysfs error class has its documented status", arguments: [
        (SysfsError.Code.moduleNotLoaded, Errno?.none, Int32(69)), (.notFound, .noSuchFileOrDirectory, 69),
        (.permissionDenied, .permissionDenied, 77), (.busy, .resourceBusy, 75), (.exists, .fileExists, 75),
        (.invalidValue, nil, 64), (.invalidValue, .invalidArgument, 65),
        (.invalidValue, Errno(rawValue: 117), 65), (.noSpace, .noSpace, 69),
        (.unsupported, .notSupported, 69), (.io, .ioError, 74),
    ])
    func sysfs(_ code: SysfsError.Code, _ errno: Errno?, _ status: Int32) {
        let error = SysfsError(code: code, path: "/x", errno: errno, message: "m")
        #expect(ExitStatus.for(error).rawValue == status)
    }

    @Test("every lifecycle error class has its documented status", arguments: [
        (LifecycleError.Code.moduleMissing, Int32(69)), (.notFound, 69), (.busy, 75), (.permissionDenied, 77),
        (.invalidInput, 64), (.badData, 65), (.timeout, 75), (.io, 74),
    ])
    func lifecycle(_ code: LifecycleError.Code, _ status: Int32) {
        #expect(ExitStatus.for(LifecycleError(code, "m")).rawValue == status)
        #expect(exitStatus(forErrorCode: code.rawValue) == status)
    }

    @Test("the codes in the top-level help match the table")
    func helpTable() {
        let help = PcacheCtl.helpMessage()
        for status in ExitStatus.allCases {
            #expect(help.contains("  \(status.rawValue) "), "help lacks exit status \(status.rawValue)")
        }
    }
}

@Suite("JSON values") struct JSONTests {
    @Test("numbers stay numbers, nil becomes null, strings are escaped")
    func rendering() {
        let doc = JSON.document([("n", .int(18_446_744_073_709_551_615)), ("r", .optional(Double?.none)),
                                 ("s", .string("a\"b\\c\n\u{1}")), ("b", .bool(true)), ("d", .double(0.75)),
                                 ("a", .array([])), ("o", .object([]))])
        #expect(doc.render(pretty: false)
                == #"{"schema_version":1,"n":18446744073709551615,"r":null,"s":"a\"b\\c\n\u0001","b":true,"d":0.75,"a":[],"o":{}}"#)
    }

    @Test("a backing device renders every field with snake_case keys")
    func backing() throws {
        let stats = try BackingStats(parsing: "hits 3\nmisses 1\ndirty_bytes 512\n")
        let b = BackingDevice(cache: CacheID(0), id: BackingID(1), path: "/dev/vda", mappedID: 2, cacheSegs: 8,
                              cacheUsedSegs: 2, gcPercent: 70, ident: "", dataCRC: false, stats: stats)
        let text = b.json(stats: true).render(pretty: false)
        #expect(text.contains(#""mapped_id":2"#))
        #expect(text.contains(#""ident":null"#))
        #expect(text.contains(#""hit_ratio":0.75"#))
        #expect(text.contains(#""dirty_bytes":512"#))
        #expect(text.contains(#""writeback_seg":null"#))
        #expect(text.contains(#""used_percent":25.0"#))
        #expect(text.contains(#""counters":{"hits":3,"misses":1,"dirty_bytes":512}"#))
    }
}

@Suite("Argument validation") struct ValidationTests {
    @Test("bad values are usage errors before anything runs", arguments: [
        ["backing", "start", "--cache", "cache_dev0", "/dev/vda", "--queues", "0"],
        ["backing", "start", "--cache", "cache_dev0", "/dev/vda", "--queues", "129"],
        ["backing", "start", "--cache", "cache_dev0", "/dev/vda", "--cache-size", "1.5G"],
        ["backing", "start", "--cache", "cache_dev0", "/dev/vda", "--cache-size", "16M"],
        ["backing", "start", "--cache", "cache_dev0", "vda"],
        ["backing", "start", "--cache", "cache_dev0", "/dev/vda", "--ident", "a,b"],
        ["set", "pcache0", "gc-percent", "91"],
        ["set", "pcache0", "gc-percent", "-1"],
        ["set", "pcache0", "path", "/dev/x"],
        ["set", "pcache0", "nope", "1"],
        ["get", "pcache0", "nope"],
        ["cache", "register", "pmem0"],
        ["status", "--interval", "0"],
        ["flush", "pcache0", "--interval", "0"],
    ])
    func usage(_ arguments: [String]) {
        #expect(throws: (any Error).self) { try PcacheCtl.parseAsRoot(arguments) }
        do {
            _ = try PcacheCtl.parseAsRoot(arguments)
        } catch {
            #expect(PcacheCtl.exitCode(for: error).rawValue == 64, "\(arguments) -> \(error)")
        }
    }

    @Test("every verb has an EXAMPLES section")
    func examples() {
        func walk(_ command: any ParsableCommand.Type, _ path: String) {
            let c = command.configuration
            #expect(c.discussion.contains("EXAMPLES:"), "\(path) has no EXAMPLES")
            for sub in c.subcommands { walk(sub, path + " " + (sub.configuration.commandName ?? "\(sub)")) }
        }
        walk(PcacheCtl.self, "pcachectl")
    }
}
