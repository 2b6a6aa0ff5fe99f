// SPDX-License-Identifier: Apache-2.0
import CKmod
import PcacheSysfs
import SystemPackage

/// A libkmod context. Owns its pointer and unrefs it on deinit.
public final class KmodContext {
    let pointer: OpaquePointer

    /// - Throws: `LifecycleError.io` when libkmod cannot start (no /lib/modules for this kernel is fine).
    public init() throws {
        guard let ctx = kmod_new(nil, nil) else {
            throw LifecycleError(.io, "libkmod could not create a context")
        }
        pointer = ctx
    }

    deinit { kmod_unref(pointer) }

    /// Resolves a module name or alias through modules.dep/modules.alias; empty when unknown.
    public func lookup(_ name: String) throws -> [KmodModule] {
        var list: OpaquePointer?
        let rc = kmod_module_new_from_lookup(pointer, name, &list)
        guard rc >= 0 else {
            throw LifecycleError(.io, "libkmod lookup of \(name) failed", errno: Errno(rawValue: -rc))
        }
        defer { if list != nil { kmod_module_unref_list(list) } }
        var modules: [KmodModule] = []
        var entry = list
        while let e = entry {
            if let mod = kmod_module_get_module(e) { modules.append(KmodModule(owning: mod)) }
            entry = kmod_list_next(list, e)
        }
        return modules
    }

    /// Opens a module file (pcache.ko) outside /lib/modules.
    public func module(at path: FilePath) throws -> KmodModule {
        var mod: OpaquePointer?
        let rc = path.withPlatformString { kmod_module_new_from_path(pointer, $0, &mod) }
        guard rc >= 0, let mod else {
            let errno = Errno(rawValue: -rc)
            throw LifecycleError(errno == .noSuchFileOrDirectory ? .moduleMissing : .io,
                                 "cannot open module file \(path)", errno: errno)
        }
        return KmodModule(owning: mod)
    }
}

/// A libkmod module handle. Owns its reference and unrefs it on deinit.
public final class KmodModule {
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer) { self.pointer = pointer }
    deinit { kmod_module_unref(pointer) }

    public var name: String { kmod_module_get_name(pointer).map { String(cString: $0) } ?? "?" }
    public var path: String? { kmod_module_get_path(pointer).map { String(cString: $0) } }

    /// True when the kernel has it live or built in.
    public var isLoaded: Bool {
        let state = kmod_module_get_initstate(pointer)
        return state == Int32(KMOD_MODULE_LIVE.rawValue) || state == Int32(KMOD_MODULE_BUILTIN.rawValue)
    }

    /// modinfo key/value pairs (for "depends", "version", "srcversion", "vermagic").
    public func info() -> [(key: String, value: String)] {
        var list: OpaquePointer?
        guard kmod_module_get_info(pointer, &list) >= 0 else { return [] }
        defer { kmod_module_info_free_list(list) }
        var pairs: [(String, String)] = []
        var entry = list
        while let e = entry {
            let key = kmod_module_info_get_key(e).map { String(cString: $0) } ?? ""
            let value = kmod_module_info_get_value(e).map { String(cString: $0) } ?? ""
            pairs.append((key, value))
            entry = kmod_list_next(list, e)
        }
        return pairs
    }

    /// Inserts the module and, through modules.dep, what it depends on; honours modprobe.d and the
    /// blacklist. Already loaded is success.
    public func probeInsert(options: String? = nil) throws {
        let flags = UInt32(KMOD_PROBE_APPLY_BLACKLIST.rawValue)
        let rc = kmod_module_probe_insert_module(pointer, flags, options, nil, nil, nil)
        try Self.check(rc, action: "load module \(name)")
    }

    /// Inserts just this module (its dependencies must be loaded). Already loaded is success.
    public func insert(options: String? = nil) throws {
        let rc = kmod_module_insert_module(pointer, 0, options)
        if rc == -Errno.fileExists.rawValue { return }
        try Self.check(rc, action: "insert \(path ?? name)")
    }

    static func check(_ rc: Int32, action: String) throws {
        guard rc < 0 else {
            if rc > 0 { throw LifecycleError(.io, "cannot \(action): refused by the blacklist or an install command") }
            return
        }
        let errno = Errno(rawValue: -rc)
        switch errno {
        case .notPermitted, .permissionDenied:
            throw LifecycleError(.permissionDenied, "cannot \(action): loading modules needs root", errno: errno)
        case .noSuchFileOrDirectory:
            throw LifecycleError(.moduleMissing, "cannot \(action): module or dependency not found", errno: errno)
        case .execFormatError, .invalidArgument:
            throw LifecycleError(.badData, "cannot \(action): the module does not match the running kernel (see dmesg)",
                                 errno: errno)
        default:
            throw LifecycleError(.io, "cannot \(action)", errno: errno)
        }
    }
}

/// Loads the pcache module and reports what is loaded.
public struct ModuleLoader: Sendable {
    /// The module's name in /sys/module and modules.dep.
    public static let moduleName = "pcache"
    public var tree: SysfsTree

    public init(tree: SysfsTree = .system) { self.tree = tree }

    /// What `load` did.
    public struct Result: Sendable {
        /// False when the module was already loaded.
        public var loaded: Bool
        /// /sys/module/pcache/version, else srcversion.
        public var version: String?
        /// The file inserted, when known.
        public var path: String?
    }

    /// Loads pcache with its dependencies unless it is already loaded.
    ///
    /// - Parameter path: a module file (e.g. KernelShim/pcache.ko); nil uses $PCACHE_MODULE, then modules.dep.
    ///   With a file, its modinfo `depends` are loaded through modules.dep first, then the file is inserted.
    /// - Throws: `LifecycleError.moduleMissing` naming where we looked.
    public func load(path: FilePath? = nil, environment: [String: String] = [:]) throws -> Result {
        if tree.isModuleLoaded {
            return Result(loaded: false, version: tree.moduleVersion(), path: nil)
        }
        let ctx = try KmodContext()
        let explicit = path ?? environment["PCACHE_MODULE"].flatMap { $0.isEmpty ? nil : FilePath($0) }
        if let explicit {
            let module = try ctx.module(at: explicit)
            let depends = module.info().first(where: { $0.key == "depends" })?.value ?? ""
            for dependency in depends.split(separator: ",") where !dependency.isEmpty {
                let found = try ctx.lookup(String(dependency))
                guard !found.isEmpty else {
                    throw LifecycleError(.moduleMissing, "dependency \(dependency) of \(explicit) is not installed")
                }
                for dep in found { try dep.probeInsert() }
            }
            try module.insert()
            return Result(loaded: true, version: tree.moduleVersion(), path: explicit.string)
        }
        let found = try ctx.lookup(Self.moduleName)
        guard let module = found.first else {
            throw LifecycleError(.moduleMissing,
                                 "the pcache module is not installed for this kernel (install it, or pass "
                                    + "--module-path FILE or set PCACHE_MODULE=FILE)")
        }
        try module.probeInsert()
        return Result(loaded: true, version: tree.moduleVersion(), path: module.path)
    }
}
