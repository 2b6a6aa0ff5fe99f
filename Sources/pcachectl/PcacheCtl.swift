// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

@main
struct PcacheCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcachectl",
        abstract: "Manage pcache persistent-memory caches for block devices.",
        discussion: """
            A pcache cache device is a formatted pmem (DAX) device registered with the kernel module. Backing \
            devices (ordinary disks) are started on it and appear as /dev/pcacheN, cached by the pmem.

            EXIT STATUS:
              0   success
              1   unclassified failure
              2   check only: repairable damage
              64  usage: bad option, value out of range, bad configuration
              65  bad data: unformatted or damaged superblock, different disk
              69  unavailable: module or device missing, no free segments
              74  I/O error
              75  busy: in use, already started, timeout, interrupted
              77  permission denied: needs root (CAP_SYS_ADMIN)

            EXAMPLES:
              pcachectl format /dev/pmem0
              pcachectl cache register /dev/pmem0
              pcachectl backing start --cache cache_dev0 /dev/vda --cache-size 1G
              pcachectl status
              pcachectl flush /dev/pcache0 --wait
              pcachectl backing stop /dev/pcache0
            """,
        version: "0.1.0",
        subcommands: PcacheCtl.allSubcommands)
}
