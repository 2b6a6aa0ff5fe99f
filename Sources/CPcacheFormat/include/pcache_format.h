/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * pcache_format.h - THE on-media layout of a pcache cache device.
 *
 * This header is compiled into the kernel module (KernelShim, via ccflags-y)
 * and imported by the Swift tools (target CPcacheFormat). Nothing else in the
 * project declares an on-media structure, offset, magic or flag.
 *
 * Rules for this file:
 *  - only <linux/types.h> types; every field little-endian; fixed-size structs
 *    with explicit reserved fields; no unions, bitfields or flexible arrays;
 *  - constants are plain integer macros (Swift imports them);
 *  - every struct has a _Static_assert on its size and on key offsets;
 *  - a layout change bumps PCACHE_FORMAT_VERSION, extends the history below,
 *    regenerates Tests/PcacheFormatTests/Fixtures and updates Docs/format.md.
 *
 * Version history:
 *  1 (2026-11) first format: 2 superblock copies, 64 backing records of two
 *    4 KiB slots, 16 MiB segments from 1 MiB on, crc32c with PCACHE_CRC_SEED.
 *  2 (2026-12) kset header: reserved becomes gen_stamp, the low 32 bits of
 *    the generation of the key segment holding the kset (LAST ksets too);
 *    a kset whose stamp differs is a leftover of an earlier use of the
 *    segment, not part of the log. A new cache starts every segment at a
 *    random generation (no longer 0). Backing record flag INIT_DONE.
 *  3 (2026-12) backing record state CACHED: stopped with its cache kept
 *    (clean and dirty data, every kset persisted); the chain stays claimed
 *    and the next start replays it. The bare disk is not current while a
 *    record is CACHED. A version 2 device is refused (drain it with the
 *    version 2 module's backing-stop, then format).
 *
 * Device map (byte offsets):
 *
 *   0        4 KiB   8 KiB   12 KiB  16 KiB                          1 MiB
 *   +--------+-------+-------+-------+-------------------------------+----------
 *   | unused | sb 0  | sb 1  | resv  | backing records 0..63         | segment 0,
 *   |        |       |       |       | (2 x 4 KiB slots each, 512KiB)| 1, ... 16 MiB each
 *   +--------+-------+-------+-------+-------------------------------+----------
 *
 * Segment map (offsets inside one 16 MiB segment):
 *
 *   0            4 KiB        8 KiB                        12 KiB
 *   +------------+------------+----------------------------+------------------
 *   | seg info 0 | seg info 1 | ctrl: gen x2, key_tail x2, | data area
 *   |            |            | dirty_tail x2 (first seg)  | (cached data, ksets)
 *   +------------+------------+----------------------------+------------------
 *
 * CRC rule: crc32c (Castagnoli, reflected, polynomial 0x82F63B78) started from
 * PCACHE_CRC_SEED with no final inversion (the kernel's crc32c(seed, p, n)),
 * over the bytes of the structure after its crc field, i.e. [4, sizeof).
 *
 * Copy rule: every mutable record has two slots. A reader takes the slot whose
 * crc matches and whose seq is newer in 32-bit serial arithmetic
 * ((__s32)(a - b) > 0). A writer writes seq = latest + 1 into the slot that
 * does NOT hold the latest valid copy, flushes it, then issues a barrier.
 */
#ifndef PCACHE_FORMAT_H
#define PCACHE_FORMAT_H

#include <linux/types.h>

#define PCACHE_FORMAT_VERSION		3

/* "PCACHE01" read as a little-endian u64. Zero means never formatted. */
#define PCACHE_MAGIC			0x3130454843414350ULL
/* "PCKSET01" read as a little-endian u64. */
#define PCACHE_KSET_MAGIC		0x31305445534b4350ULL
#define PCACHE_CRC_SEED			0x3B15AU

#define PCACHE_SLOT_SIZE		4096
#define PCACHE_META_COPIES		2

/* ---- device map ---- */
#define PCACHE_SB_OFF			4096
#define PCACHE_SB_SIZE			4096	/* one slot per copy (PCACHE_SLOT_SIZE) */
_Static_assert(PCACHE_SB_SIZE == PCACHE_SLOT_SIZE, "sb slot");
#define PCACHE_SB1_OFF			(PCACHE_SB_OFF + PCACHE_SB_SIZE)
#define PCACHE_SB_RESERVED_OFF		(PCACHE_SB1_OFF + PCACHE_SB_SIZE)
#define PCACHE_SB_RESERVED_SIZE		4096
#define PCACHE_BACKING_OFF		(PCACHE_SB_RESERVED_OFF + PCACHE_SB_RESERVED_SIZE)
#define PCACHE_BACKING_MAX		64
#define PCACHE_BACKING_RECORD_SIZE	(PCACHE_META_COPIES * PCACHE_SLOT_SIZE)
#define PCACHE_BACKING_SIZE		(PCACHE_BACKING_MAX * PCACHE_BACKING_RECORD_SIZE)
#define PCACHE_SEGMENTS_OFF		1048576
#define PCACHE_SEG_SHIFT		24
#define PCACHE_SEG_SIZE			16777216
#define PCACHE_SEG_MAX			1048576		/* 16 TiB of segments */

#define PCACHE_DEV_SIZE_MIN		536870912ULL	/* 512 MiB */

/* ---- segment map ---- */
#define PCACHE_SEG_INFO_OFF		0
#define PCACHE_SEG_INFO1_OFF		(PCACHE_SEG_INFO_OFF + PCACHE_SLOT_SIZE)
#define PCACHE_SEG_CTRL_OFF		(PCACHE_SEG_INFO1_OFF + PCACHE_SLOT_SIZE)
#define PCACHE_SEG_GEN_OFF		PCACHE_SEG_CTRL_OFF		/* 2 x 16 B */
#define PCACHE_SEG_KEY_TAIL_OFF		(PCACHE_SEG_CTRL_OFF + 64)	/* 2 x 16 B */
#define PCACHE_SEG_DIRTY_TAIL_OFF	(PCACHE_SEG_CTRL_OFF + 96)	/* 2 x 16 B */
#define PCACHE_SEG_POS_STRIDE		16
#define PCACHE_SEG_DATA_OFF		(PCACHE_SEG_CTRL_OFF + PCACHE_SLOT_SIZE)
#define PCACHE_SEG_DATA_SIZE		(PCACHE_SEG_SIZE - PCACHE_SEG_DATA_OFF)

/* ---- limits ---- */
#define PCACHE_PATH_LEN			256
#define PCACHE_IDENT_LEN		64
#define PCACHE_KSET_KEYS_MAX		128
#define PCACHE_GC_PERCENT_MIN		0
#define PCACHE_GC_PERCENT_MAX		90
#define PCACHE_GC_PERCENT_DEFAULT	70
#define PCACHE_QUEUES_MAX		128

/*
 * Superblock, two identical copies at PCACHE_SB_OFF and PCACHE_SB1_OFF.
 * Written once by `pcachectl format`; the module never rewrites it.
 */
struct pcache_sb_onmedia {
	__le32	crc;			/* crc32c of bytes [4, 128), PCACHE_CRC_SEED */
	__le16	version;		/* PCACHE_FORMAT_VERSION when formatted */
	__le16	flags;			/* PCACHE_SB_F_*, none defined yet */
	__le64	magic;			/* PCACHE_MAGIC */
	__le32	feature_compat;		/* unknown bits: ignore */
	__le32	feature_ro_compat;	/* unknown bits: refuse writes */
	__le32	feature_incompat;	/* unknown bits: refuse the device */
	__le32	seg_num;		/* whole segments from PCACHE_SEGMENTS_OFF */
	__le32	seg_size;		/* bytes, PCACHE_SEG_SIZE */
	__le32	backing_max;		/* backing records, PCACHE_BACKING_MAX */
	__le64	segments_off;		/* bytes, PCACHE_SEGMENTS_OFF */
	__le64	dev_size;		/* bytes of the device when formatted */
	__le64	format_time;		/* seconds since the epoch, informative */
	__u8	uuid[16];		/* random, identifies this cache device */
	__u8	label[32];		/* NUL-padded, informative */
	__u8	reserved[16];
};
_Static_assert(sizeof(struct pcache_sb_onmedia) == 128, "pcache_sb_onmedia size");
_Static_assert(__builtin_offsetof(struct pcache_sb_onmedia, seg_num) == 28, "sb seg_num");
_Static_assert(__builtin_offsetof(struct pcache_sb_onmedia, uuid) == 64, "sb uuid");

#define PCACHE_SB_CRC_LEN		(128 - 4)

/* Header of every two-copy record. */
struct pcache_meta_header_onmedia {
	__le32	crc;			/* crc32c of the record after this field */
	__le32	seq;			/* serial number, newer wins (wrap-around) */
};
_Static_assert(sizeof(struct pcache_meta_header_onmedia) == 8, "meta header size");

/* Backing record states. */
#define PCACHE_BACKING_STATE_FREE	0	/* slot unused */
#define PCACHE_BACKING_STATE_RUNNING	1	/* started; cache may hold dirty data */
#define PCACHE_BACKING_STATE_STOPPED	2	/* stopped cleanly; cache empty */
/*
 * Stopped with the cache kept: every kset persisted, the chain (INIT_DONE
 * required) holds clean and dirty data and is replayed at the next start.
 * The bare disk lacks the dirty data and must not be used alone.
 */
#define PCACHE_BACKING_STATE_CACHED	3

/* Backing record flags. */
#define PCACHE_BACKING_F_DATA_CRC	(1U << 0)
/*
 * The engine initialised the record's segment chain (generations, log
 * positions, the log's first header). A RUNNING record without it never
 * stored anything in pmem: its chain is not replayed, the next start
 * initialises a new one.
 */
#define PCACHE_BACKING_F_INIT_DONE	(1U << 1)

/*
 * Backing record: record i has slots at
 * PCACHE_BACKING_OFF + i * PCACHE_BACKING_RECORD_SIZE + copy * PCACHE_SLOT_SIZE.
 * The record index is the backing id.
 */
struct pcache_backing_onmedia {
	struct pcache_meta_header_onmedia header;	/* crc over [4, 512) */
	__le32	state;			/* PCACHE_BACKING_STATE_* */
	__le32	backing_id;		/* equals the record index */
	__le32	flags;			/* PCACHE_BACKING_F_* */
	__le32	gc_percent;		/* 0..PCACHE_GC_PERCENT_MAX */
	__le32	first_seg;		/* physical id of the cache's first segment */
	__le32	cache_segs;		/* segments in the cache's chain */
	__le32	queues;			/* hardware queues of /dev/pcacheN */
	__le32	reserved0;
	__le64	dev_sectors;		/* backing device size, 512 B sectors */
	__le64	start_time;		/* seconds since the epoch of the first start */
	char	path[PCACHE_PATH_LEN];	/* NUL-terminated, starts with /dev/ */
	char	ident[PCACHE_IDENT_LEN];/* NUL-terminated identity (WWN/serial), may be empty */
	__u8	reserved[136];
};
_Static_assert(sizeof(struct pcache_backing_onmedia) == 512, "pcache_backing_onmedia size");
_Static_assert(__builtin_offsetof(struct pcache_backing_onmedia, path) == 56, "backing path");

/* Segment types. */
#define PCACHE_SEG_TYPE_NONE		0
#define PCACHE_SEG_TYPE_CACHE		1

/* Segment info flags. */
#define PCACHE_SEG_F_HAS_NEXT		(1U << 0)

/* Segment info, two copies at PCACHE_SEG_INFO_OFF and PCACHE_SEG_INFO1_OFF. */
struct pcache_seg_info_onmedia {
	struct pcache_meta_header_onmedia header;	/* crc over [4, 32) */
	__le16	type;			/* PCACHE_SEG_TYPE_* */
	__le16	flags;			/* PCACHE_SEG_F_* */
	__le32	backing_id;		/* owner record index */
	__le32	next_seg;		/* physical id of the next segment if HAS_NEXT */
	__le32	index;			/* position in the owner's chain, 0-based */
	__le64	reserved;
};
_Static_assert(sizeof(struct pcache_seg_info_onmedia) == 32, "pcache_seg_info_onmedia size");

/*
 * Segment generation, two copies at PCACHE_SEG_GEN_OFF, stride 16. A new
 * cache gives each of its segments a random 32-bit generation, so that
 * ksets an earlier owner left in the segment carry a foreign gen_stamp.
 */
struct pcache_seg_gen_onmedia {
	struct pcache_meta_header_onmedia header;	/* crc over [4, 16) */
	__le64	gen;			/* bumped each time the segment is reclaimed */
};
_Static_assert(sizeof(struct pcache_seg_gen_onmedia) == 16, "pcache_seg_gen_onmedia size");

/*
 * Log position (key_tail, dirty_tail), two copies each in the ctrl area of
 * the cache's first segment. cache_seg is an index into the owner's chain,
 * not a physical id; seg_off is a byte offset into that segment's data area.
 */
struct pcache_pos_onmedia {
	struct pcache_meta_header_onmedia header;	/* crc over [4, 16) */
	__le32	cache_seg;
	__le32	seg_off;
};
_Static_assert(sizeof(struct pcache_pos_onmedia) == 16, "pcache_pos_onmedia size");

/* Cache key flags. */
#define PCACHE_KEY_F_CLEAN		(1U << 1)	/* read-fill data, not dirty */

/* One cached extent. */
struct pcache_key_onmedia {
	__le64	off;			/* byte offset on the backing device, 512 B aligned */
	__le32	len;			/* bytes, 512 B multiple, never crosses 4 MiB */
	__le32	flags;			/* PCACHE_KEY_F_* */
	__le32	cache_seg;		/* chain index of the data segment */
	__le32	cache_seg_off;		/* byte offset in that segment's data area */
	__le64	seg_gen;		/* segment generation when written */
	__le32	data_crc;		/* crc32c of the data when DATA_CRC, else 0 */
	__le32	reserved;
};
_Static_assert(sizeof(struct pcache_key_onmedia) == 40, "pcache_key_onmedia size");

/* Kset flags. */
#define PCACHE_KSET_F_LAST		(1U << 0)	/* log continues at next_cache_seg */

/*
 * Kset header: followed by key_num keys. Ksets are written back to back,
 * 8-byte aligned, in the data area of key segments; a zeroed header
 * terminates the log. A kset whose gen_stamp is not the low 32 bits of its
 * key segment's generation was left by an earlier use of the segment: it
 * ends the log like garbage does. A valid kset with a matching stamp
 * anywhere after the end of the log in the same segment means the log is
 * damaged in the middle (readers refuse the cache).
 */
struct pcache_kset_onmedia {
	__le32	crc;			/* crc32c of [4, 24 + 40 * key_num) */
	__le16	key_num;		/* 0..PCACHE_KSET_KEYS_MAX; 0 for LAST */
	__le16	flags;			/* PCACHE_KSET_F_* */
	__le64	magic;			/* PCACHE_KSET_MAGIC */
	__le32	next_cache_seg;		/* LAST only: chain index of the next key segment */
	__le32	gen_stamp;		/* low 32 bits of the key segment's generation */
};
_Static_assert(sizeof(struct pcache_kset_onmedia) == 24, "pcache_kset_onmedia size");
_Static_assert(__builtin_offsetof(struct pcache_kset_onmedia, gen_stamp) == 20, "kset gen_stamp");

/* A literal: Swift's importer drops macros with more than one operator. */
#define PCACHE_KSET_SIZE_MAX		5144
_Static_assert(PCACHE_KSET_SIZE_MAX == sizeof(struct pcache_kset_onmedia) +
	       PCACHE_KSET_KEYS_MAX * sizeof(struct pcache_key_onmedia), "kset max size");

#endif /* PCACHE_FORMAT_H */
