// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs

extension PcacheCtl {
    struct Cache: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register or unregister pmem cache devices.",
            discussion: """
                EXAMPLES:
                  pcachectl cache register /dev/pmem0
                  pcachectl cache unregister cache_dev0
                """,
            subcommands: [Register.self, Unregister.self])
    }
}

extension PcacheCtl.Cache {
    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a formatted pmem device with the kernel (loads the module if needed).",
            discussion: """
                The device must carry a pcache superblock written by 'pcachectl format'. The kernel checks it and \
                refuses unformatted or damaged devices, naming the reason. Use --force only when the kernel \
                asks for it.

                EXAMPLES:
                  pcachectl cache register /dev/pmem0
                  pcachectl cache register --module-path KernelShim/pcache.ko /dev/pmem0
                  pcachectl cache register --json /dev/pmem0
                """)

        @Argument(help: "The pmem device, such as /dev/pmem0.") var device: String
        @Flag(help: "Pass force=1 to the kernel.") var force = false
        @OptionGroup var module: ModuleOptions
        @OptionGroup var output: JSONOption

        func validate() throws {
            do { _ = try DevicePath(device) } catch let error as SysfsError { throw ValidationError(error.message) }
        }

        func run() throws {
            try runControl("cache register") {
                let tree = controlTree
                try module.ensureLoaded(tree: tree, quiet: output.json)
                let cache = try Operations(tree: tree).registerCache(path: device, force: force)
                if output.json {
                    print(JSON.document([("cache", cache.json(stats: false))]).render())
                } else {
                    print("registered \(device) as \(cache.id) (uuid \(cache.info.uuid), \(cache.info.segFree) of \(cache.info.segNum) segments free)")
                }
            }
        }
    }

    struct Unregister: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unregister a cache device that has no backing devices.",
            discussion: """
                Refuses while backing devices are started on the cache device, naming them; stop them first.

                EXAMPLES:
                  pcachectl cache unregister cache_dev0
                  pcachectl cache unregister /dev/pmem0
                """)

        @Argument(help: "cache_devN, its pmem path or its superblock uuid.") var cache: String

        func run() throws {
            try runControl("cache unregister") {
                let id = try Operations(tree: controlTree).unregisterCache(cache)
                print("unregistered \(id)")
            }
        }
    }
}
