function __pcachectl_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __pcachectl_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __pcachectl_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __pcachectl_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __pcachectl_parse_tokens -S
    set -l unparsed_tokens (__pcachectl_tokens -pc)
    switch $unparsed_tokens[1]
    case 'pcachectl'
        __pcachectl_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'format'
            __pcachectl_parse_subcommand 1 'json' 'force' 'label=' 'version' 'h/help'
        case 'check'
            __pcachectl_parse_subcommand 1 'json' 'skip-data' 'version' 'h/help'
        case 'dump'
            __pcachectl_parse_subcommand 1 'json' 'version' 'h/help'
        case 'cache'
            __pcachectl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'register'
                __pcachectl_parse_subcommand 1 'force' 'module-path=' 'json' 'version' 'h/help'
            case 'unregister'
                __pcachectl_parse_subcommand 1 'version' 'h/help'
            end
        case 'backing'
            __pcachectl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'start'
                __pcachectl_parse_subcommand 1 'cache=' 'cache-size=' 'queues=' 'data-crc' 'ident=' 'force' 'timeout=' 'json' 'version' 'h/help'
            case 'stop'
                __pcachectl_parse_subcommand 1 'all' 'flush' 'interval=' 'json' 'version' 'h/help'
            case 'forget'
                __pcachectl_parse_subcommand 1 'discard-dirty-data' 'version' 'h/help'
            end
        case 'get'
            __pcachectl_parse_subcommand 2 'json' 'version' 'h/help'
        case 'set'
            __pcachectl_parse_subcommand 3 'version' 'h/help'
        case 'list'
            __pcachectl_parse_subcommand 0 'json' 'version' 'h/help'
        case 'status'
            __pcachectl_parse_subcommand 1 'watch' 'interval=' 'count=' 'json' 'version' 'h/help'
        case 'flush'
            __pcachectl_parse_subcommand 1 'wait' 'timeout=' 'interval=' 'json' 'version' 'h/help'
        case 'apply'
            __pcachectl_parse_subcommand 0 'config=' 'dry-run' 'only=+' 'available' 'timeout=' 'module-path=' 'json' 'version' 'h/help'
        case 'devices'
            __pcachectl_parse_subcommand 0 'json' 'version' 'h/help'
        case 'module'
            __pcachectl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'load'
                __pcachectl_parse_subcommand 0 'module-path=' 'version' 'h/help'
            case 'status'
                __pcachectl_parse_subcommand 0 'json' 'version' 'h/help'
            end
        case 'probe'
            __pcachectl_parse_subcommand 1 'udev' 'config=' 'json' 'version' 'h/help'
        case 'autostart'
            __pcachectl_parse_subcommand 1 'udev' 'foreground' 'config=' 'version' 'h/help'
        case 'help'
            __pcachectl_parse_subcommand -r 1 'version'
        end
    end
end

function __pcachectl_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __pcachectl_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __pcachectl_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __pcachectl_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__pcachectl_tokens -p)
    if test -z "$(__pcachectl_tokens -t)"
        set -l index (count (__pcachectl_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'pcachectl' -f
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'format' -d 'Write an empty pcache cache device: both superblock copies and a zeroed metadata area.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'check' -d 'Check a cache device or image for damage, fsck-style (read-only).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'dump' -d 'Show everything on a cache device or image in human form (read-only).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'cache' -d 'Register or unregister pmem cache devices.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'backing' -d 'Start, stop or forget backing devices on a cache device.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'get' -d 'Show attributes of a backing device.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'set' -d 'Change a tunable attribute of a backing device.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'list' -d 'Show cache devices and their backing devices as a tree.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'status' -d 'Show how full, how dirty and how effective each cache is.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'flush' -d 'Wait until a backing device has no dirty data left in the cache.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'apply' -d 'Bring caches and backing devices to the declared configuration.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'devices' -d 'List pmem devices and candidate backing disks with their identity.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'module' -d 'Load the pcache module or show its version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'probe' -d 'Tell what a block device is to pcache (for udev\'s IMPORT{program}).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'autostart' -d 'Start configured caches that involve a device which just appeared (from udev).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl format" json' -l 'json' -d 'Print JSON (snake_case keys, a top-level schema_version) instead of text.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl format" force' -l 'force' -d 'Format even over a pcache superblock or another signature.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl format" label' -l 'label' -d 'A label stored in the superblock (at most 31 bytes of printable text).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl format" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl format" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl check" json' -l 'json' -d 'Print JSON (snake_case keys, a top-level schema_version) instead of text.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl check" skip-data' -l 'skip-data' -d 'Do not read cached data to verify data_crc (metadata only).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl check" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl check" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl dump" json' -l 'json' -d 'Print JSON (snake_case keys, a top-level schema_version) instead of text.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl dump" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl dump" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl cache" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl cache" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl cache" -eq 1' -fa 'register' -d 'Register a formatted pmem device with the kernel (loads the module if needed).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl cache" -eq 1' -fa 'unregister' -d 'Unregister a cache device that has no backing devices.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl cache register" force' -l 'force' -d 'Pass force=1 to the kernel.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl cache register" module-path' -l 'module-path' -d 'Load the module from this file instead of modules.dep (also $PCACHE_MODULE).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl cache register" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl cache register" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl cache register" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl cache unregister" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl cache unregister" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl backing" -eq 1' -fa 'start' -d 'Start a backing device and print its cached device /dev/pcacheN.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl backing" -eq 1' -fa 'stop' -d 'Stop a backing device, keeping its cache (clean and dirty) for the next start.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl backing" -eq 1' -fa 'forget' -d 'Forget a backing record that is not started, discarding its cache (dirty data included).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing start" cache' -l 'cache' -d 'The cache device: cache_devN, its pmem path or its uuid.' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing start" cache-size' -l 'cache-size' -d 'Cache space for this device: 512M, 1G, ... (bare numbers are MiB).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing start" queues' -l 'queues' -d 'Hardware queues of /dev/pcacheN, 1...128 (default 1).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing start" data-crc' -l 'data-crc' -d 'Keep a crc32c of every cached extent and verify it on read.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing start" ident' -l 'ident' -d 'Identity to record instead of the disk\'s WWN/serial.' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing start" force' -l 'force' -d 'Start even if the backing record names a different disk (its cached data, dirty data included, is discarded; the disk is not written).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing start" timeout' -l 'timeout' -d 'Seconds to wait for /dev/pcacheN.' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing start" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing start" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing start" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing stop" all' -l 'all' -d 'Stop every started backing device (keeping the caches); each failure is reported, the others still stop.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing stop" flush' -l 'flush' -d 'Write all dirty data back and release the cache, so that the disk alone is current.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing stop" interval' -l 'interval' -d 'Seconds between progress samples with --flush.' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing stop" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing stop" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing stop" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing forget" discard-dirty-data' -l 'discard-dirty-data' -d 'Confirm that the record\'s cached data, dirty data included, is thrown away.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing forget" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl backing forget" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl get" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl get" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl get" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl set" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl set" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl list" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl list" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl status" watch' -l 'watch' -d 'Refresh until interrupted.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl status" interval' -l 'interval' -d 'Seconds between refreshes with --watch.' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl status" count' -l 'count' -d 'Stop after this many refreshes with --watch (0 = forever).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl status" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl status" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl flush" wait' -l 'wait' -d 'Wait until dirty_bytes reaches 0.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl flush" timeout' -l 'timeout' -d 'Give up after this many seconds (0 = no limit).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl flush" interval' -l 'interval' -d 'Seconds between samples.' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl flush" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl flush" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl flush" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl apply" config' -l 'config' -d 'Configuration file (default $PCACHE_CONFIG or /etc/pcache/pcache.conf).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl apply" dry-run' -l 'dry-run' -d 'Show what would change without changing anything.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl apply"' -l 'only' -d 'Only this [cache] or [backing] section (repeatable).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl apply" available' -l 'available' -d 'Skip entries whose devices are absent instead of failing (used by autostart).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl apply" timeout' -l 'timeout' -d 'Seconds to wait for each /dev/pcacheN.' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl apply" module-path' -l 'module-path' -d 'Load the module from this file instead of modules.dep (also $PCACHE_MODULE).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl apply" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl apply" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl apply" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl devices" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl devices" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl devices" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl module" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl module" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl module" -eq 1' -fa 'load' -d 'Load pcache and its dependencies through libkmod (no-op when loaded).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_positional "pcachectl module" -eq 1' -fa 'status' -d 'Show whether pcache is loaded and its version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl module load" module-path' -l 'module-path' -d 'Load the module from this file instead of modules.dep (also $PCACHE_MODULE).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl module load" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl module load" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl module status" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl module status" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl module status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl probe" udev' -l 'udev' -d 'Print udev KEY=value lines.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl probe" config' -l 'config' -d 'Configuration file (default $PCACHE_CONFIG or /etc/pcache/pcache.conf).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl probe" json' -l 'json' -d 'Print JSON (snake_case keys, schema_version, numbers as numbers).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl probe" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl probe" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl autostart" udev' -l 'udev' -d 'Print udev KEY=value lines naming what to start, and start nothing.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl autostart" foreground' -l 'foreground' -d 'Apply in this process (the default without --udev; kept for scripts).'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl autostart" config' -l 'config' -d 'Configuration file (default $PCACHE_CONFIG or /etc/pcache/pcache.conf).' -rfka ''
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl autostart" version' -l 'version' -d 'Show the version.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl autostart" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pcachectl' -n '__pcachectl_should_offer_completions_for_flags_or_options "pcachectl help" version' -l 'version' -d 'Show the version.'
