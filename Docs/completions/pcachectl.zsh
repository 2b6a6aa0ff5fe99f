#compdef pcachectl

__pcachectl_complete() {
    local -ar non_empty_completions=("${@:#(|:*)}")
    local -ar empty_completions=("${(M)@:#(|:*)}")
    _describe -V '' non_empty_completions -- empty_completions -P $'\'\''
}

__pcachectl_custom_complete() {
    local -a completions
    completions=("${(@f)"$("${command_name}" "${@}" "${command_line[@]}")"}")
    if [[ "${#completions[@]}" -gt 1 ]]; then
        __pcachectl_complete "${completions[@]:0:-1}"
    fi
}

__pcachectl_cursor_index_in_current_word() {
    if [[ -z "${QIPREFIX}${IPREFIX}${PREFIX}" ]]; then
        printf 0
    else
        printf %s "${#${(z)LBUFFER}[-1]}"
    fi
}

_pcachectl() {
    emulate -RL zsh -G
    setopt extendedglob nullglob numericglobsort
    unsetopt aliases banghist

    local -xr SAP_SHELL=zsh
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(builtin emulate zsh -c 'printf %s "${ZSH_VERSION}"')"
    local -r SAP_SHELL_VERSION

    local context state state_descr line
    local -A opt_args

    local -r command_name="${words[1]}"
    local -ar command_line=("${words[@]}")
    local -ir current_word_index="$((CURRENT - 1))"

    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'format:Write an empty pcache cache device: both superblock copies and a zeroed metadata area.'
            'check:Check a cache device or image for damage, fsck-style (read-only).'
            'dump:Show everything on a cache device or image in human form (read-only).'
            'cache:Register or unregister pmem cache devices.'
            'backing:Start, stop or forget backing devices on a cache device.'
            'get:Show attributes of a backing device.'
            'set:Change a tunable attribute of a backing device.'
            'list:Show cache devices and their backing devices as a tree.'
            'status:Show how full, how dirty and how effective each cache is.'
            'flush:Wait until a backing device has no dirty data left in the cache.'
            'apply:Bring caches and backing devices to the declared configuration.'
            'devices:List pmem devices and candidate backing disks with their identity.'
            'module:Load the pcache module or show its version.'
            'probe:Tell what a block device is to pcache (for udev'\''s IMPORT{program}).'
            'autostart:Start configured caches that involve a device which just appeared (from udev).'
            'help:Show subcommand help information.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        format|check|dump|cache|backing|get|set|list|status|flush|apply|devices|module|probe|autostart|help)
            "_pcachectl_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_pcachectl_format() {
    local -i ret=1
    local -ar arg_specs=(
        '--json[Print JSON (snake_case keys, a top-level schema_version) instead of text.]'
        '--force[Format even over a pcache superblock or another signature.]'
        '--label[A label stored in the superblock (at most 31 bytes of printable text).]:label:'
        ':device:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_check() {
    local -i ret=1
    local -ar arg_specs=(
        '--json[Print JSON (snake_case keys, a top-level schema_version) instead of text.]'
        '--skip-data[Do not read cached data to verify data_crc (metadata only).]'
        ':device:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_dump() {
    local -i ret=1
    local -ar arg_specs=(
        '--json[Print JSON (snake_case keys, a top-level schema_version) instead of text.]'
        ':device:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_cache() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'register:Register a formatted pmem device with the kernel (loads the module if needed).'
            'unregister:Unregister a cache device that has no backing devices.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        register|unregister)
            "_pcachectl_cache_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_pcachectl_cache_register() {
    local -i ret=1
    local -ar arg_specs=(
        ':device:'
        '--force[Pass force=1 to the kernel.]'
        '--module-path[Load the module from this file instead of modules.dep (also $PCACHE_MODULE).]:file:'
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_cache_unregister() {
    local -i ret=1
    local -ar arg_specs=(
        ':cache:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_backing() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'start:Start a backing device and print its cached device /dev/pcacheN.'
            'stop:Stop a backing device, keeping its cache (clean and dirty) for the next start.'
            'forget:Forget a backing record that is not started, discarding its cache (dirty data included).'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        start|stop|forget)
            "_pcachectl_backing_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_pcachectl_backing_start() {
    local -i ret=1
    local -ar arg_specs=(
        '--cache[The cache device\: cache_devN, its pmem path or its uuid.]:cache:'
        ':device:'
        '--cache-size[Cache space for this device\: 512M, 1G, ... (bare numbers are MiB).]:size:'
        '--queues[Hardware queues of /dev/pcacheN, 1...128 (default 1).]:queues:'
        '--data-crc[Keep a crc32c of every cached extent and verify it on read.]'
        '--ident[Identity to record instead of the disk'\''s WWN/serial.]:ident:'
        '--force[Start even if the backing record names a different disk (its cached data, dirty data included, is discarded; the disk is not written).]'
        '--timeout[Seconds to wait for /dev/pcacheN.]:timeout:'
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_backing_stop() {
    local -i ret=1
    local -ar arg_specs=(
        ':backing:'
        '--all[Stop every started backing device (keeping the caches); each failure is reported, the others still stop.]'
        '--flush[Write all dirty data back and release the cache, so that the disk alone is current.]'
        '--interval[Seconds between progress samples with --flush.]:interval:'
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_backing_forget() {
    local -i ret=1
    local -ar arg_specs=(
        ':record:'
        '--discard-dirty-data[Confirm that the record'\''s cached data, dirty data included, is thrown away.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_get() {
    local -i ret=1
    local -ar arg_specs=(
        ':backing:'
        ':attribute:'
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_set() {
    local -i ret=1
    local -ar arg_specs=(
        ':backing:'
        ':attribute:'
        ':value:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_list() {
    local -i ret=1
    local -ar arg_specs=(
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_status() {
    local -i ret=1
    local -ar arg_specs=(
        ':device:'
        '--watch[Refresh until interrupted.]'
        '--interval[Seconds between refreshes with --watch.]:interval:'
        '--count[Stop after this many refreshes with --watch (0 = forever).]:count:'
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_flush() {
    local -i ret=1
    local -ar arg_specs=(
        ':device:'
        '--wait[Wait until dirty_bytes reaches 0.]'
        '--timeout[Give up after this many seconds (0 = no limit).]:timeout:'
        '--interval[Seconds between samples.]:interval:'
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_apply() {
    local -i ret=1
    local -ar arg_specs=(
        '--config[Configuration file (default $PCACHE_CONFIG or /etc/pcache/pcache.conf).]:file:'
        '--dry-run[Show what would change without changing anything.]'
        '*--only[Only this \[cache\] or \[backing\] section (repeatable).]:name:'
        '--available[Skip entries whose devices are absent instead of failing (used by autostart).]'
        '--timeout[Seconds to wait for each /dev/pcacheN.]:timeout:'
        '--module-path[Load the module from this file instead of modules.dep (also $PCACHE_MODULE).]:file:'
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_devices() {
    local -i ret=1
    local -ar arg_specs=(
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_module() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'load:Load pcache and its dependencies through libkmod (no-op when loaded).'
            'status:Show whether pcache is loaded and its version.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        load|status)
            "_pcachectl_module_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_pcachectl_module_load() {
    local -i ret=1
    local -ar arg_specs=(
        '--module-path[Load the module from this file instead of modules.dep (also $PCACHE_MODULE).]:file:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_module_status() {
    local -i ret=1
    local -ar arg_specs=(
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_probe() {
    local -i ret=1
    local -ar arg_specs=(
        '--udev[Print udev KEY=value lines.]'
        ':device:'
        '--config[Configuration file (default $PCACHE_CONFIG or /etc/pcache/pcache.conf).]:file:'
        '--json[Print JSON (snake_case keys, schema_version, numbers as numbers).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_autostart() {
    local -i ret=1
    local -ar arg_specs=(
        '--udev[Print udev KEY=value lines naming what to start, and start nothing.]'
        '--foreground[Apply in this process (the default without --udev; kept for scripts).]'
        ':device:'
        '--config[Configuration file (default $PCACHE_CONFIG or /etc/pcache/pcache.conf).]:file:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_pcachectl_help() {
    local -i ret=1
    local -ar arg_specs=(
        '*:subcommands:'
        '--version[Show the version.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

if [[ "${funcstack[1]}" = _pcachectl ]]; then
    _pcachectl "${@}"
else
    compdef _pcachectl pcachectl
fi
