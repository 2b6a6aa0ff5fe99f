/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcache_internal.h - in-memory objects shared by the files of pcache.ko.
 *
 * Ownership of the files (keep it so; it is what lets the device plumbing
 * and the cache engine evolve separately):
 *   main.c, cache_dev.c, segment.c, meta.c, backing_dev.c, logic_dev.c
 *       device plumbing: bus, sysfs, DAX mapping, segment allocation,
 *       two-copy metadata helpers, backing open/record, blk-mq disk,
 *       bios to the backing device.
 *   cache.h, cache*.c
 *       the cache engine: index, ksets, write/read paths, replay,
 *       writeback, GC, data CRC.
 *
 * The on-media layout is in pcache_format.h and nowhere else.
 */
#ifndef PCACHE_INTERNAL_H
#define PCACHE_INTERNAL_H

#include <linux/types.h>
#include <linux/device.h>
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/bio.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/dax.h>
#include <linux/crc32c.h>

#include "pcache_format.h"

#define pcache_err(fmt, ...)	pr_err("pcache: " fmt "\n", ##__VA_ARGS__)
#define pcache_warn(fmt, ...)	pr_warn("pcache: " fmt "\n", ##__VA_ARGS__)
#define pcache_info(fmt, ...)	pr_info("pcache: " fmt "\n", ##__VA_ARGS__)

#define PCACHE_CACHE_DEV_MAX	1024

struct pcache_cache;
struct pcache_backing_dev;

/**
 * struct pcache_cache_dev - one registered pmem device (cache_devN).
 * @base: kernel address of byte 0 of the device, the whole device mapped
 *        (directly or through vmap); every on-media access goes through
 *        pcache_seg_addr()/cache_dev_addr() which bound the offset.
 * @seg_bitmap: one bit per segment, set while a backing cache owns it;
 *        protected by @seg_lock.
 * @backings: array of PCACHE_BACKING_MAX pointers, protected by @lock.
 */
struct pcache_cache_dev {
	int			id;
	struct device		dev;
	struct mutex		lock;
	char			path[PCACHE_PATH_LEN];
	struct file		*bdev_file;
	struct dax_device	*dax_dev;
	void			*base;
	bool			vmapped;
	u64			size;
	u32			seg_num;
	struct pcache_sb_onmedia sb;

	spinlock_t		seg_lock;
	unsigned long		*seg_bitmap;
	u32			seg_used;

	struct pcache_backing_dev *backings[PCACHE_BACKING_MAX];
};

/* ---- cache_dev.c / segment.c (plumbing) ---- */

/* Address of byte @off of the cache device; @off + @len must lie inside. */
void *cache_dev_addr(struct pcache_cache_dev *cache_dev, u64 off, u64 len);
/* Address of physical segment @seg_id (seg_id < seg_num, checked by caller). */
void *pcache_seg_addr(struct pcache_cache_dev *cache_dev, u32 seg_id);
/* Allocate a free segment, first fit; -ENOSPC when none. Never sleeps. */
int cache_dev_seg_alloc(struct pcache_cache_dev *cache_dev, u32 *seg_id);
/* Mark a specific segment used (on restart, walking a chain); -EEXIST if taken. */
int cache_dev_seg_claim(struct pcache_cache_dev *cache_dev, u32 seg_id);
void cache_dev_seg_free(struct pcache_cache_dev *cache_dev, u32 seg_id);
/* struct page backing a byte of the mapping (direct map or vmap). */
struct page *cache_dev_addr_to_page(struct pcache_cache_dev *cache_dev, void *addr);

/* ---- meta.c: the two-copy rule of pcache_format.h ---- */

/**
 * pcache_meta_find_latest - pick the newest valid copy of a record.
 * @slot0: address of copy 0; copy 1 is at @slot0 + @stride.
 * @size: sizeof the record (crc covers [4, size)).
 * @out: receives the chosen copy (read with copy_mc_to_kernel).
 * @slot: receives the index of the chosen copy.
 * Return: 0, or -ENOENT when neither copy is valid, -EIO on a media error.
 */
int pcache_meta_find_latest(void *slot0, u32 stride, u32 size, void *out, int *slot);

/**
 * pcache_meta_write - write a record into the slot not holding the latest.
 * @rec: record to write; its header.seq is set to @latest_seq + 1 and its crc
 *       computed here. @latest_slot is updated to the slot written.
 * Flushes the copy to media and issues pmem_wmb() before returning.
 */
void pcache_meta_write(void *slot0, u32 stride, u32 size, void *rec, int *latest_slot);

static inline u32 pcache_crc(const void *data, size_t len)
{
	return crc32c(PCACHE_CRC_SEED, data, len);
}

/* ---- backing_dev.c / logic_dev.c (plumbing) ---- */

struct pcache_logic_dev {
	int			mapped_id;
	struct gendisk		*disk;
	struct blk_mq_tag_set	tag_set;
	atomic_t		open_count;
};

/**
 * struct pcache_backing_dev - one cached disk (cache_devN/backing_devM).
 * @info: in-memory copy of the backing record, written back with
 *        backing_dev_info_write() under @info_lock.
 * @cache: the cache engine instance, NULL when running as passthrough.
 */
struct pcache_backing_dev {
	u32			id;
	struct pcache_cache_dev	*cache_dev;
	struct device		dev;
	struct file		*bdev_file;
	struct block_device	*bdev;
	u64			dev_sectors;

	struct mutex		info_lock;
	struct pcache_backing_onmedia info;
	int			info_slot;

	struct bio_set		bioset;
	struct pcache_logic_dev	logic_dev;
	struct pcache_cache	*cache;
};

/* Persist @backing_dev->info (caller holds info_lock). */
void backing_dev_info_write(struct pcache_backing_dev *backing_dev);

/*
 * Bios to the backing device. Allocation comes from backing_dev->bioset
 * (mempool backed, GFP_NOIO): these never fail and may sleep, so call them
 * from process context (queue_rq of a BLK_MQ_F_BLOCKING set, or a worker).
 */
typedef void (*backing_dev_done_fn)(void *priv, blk_status_t status);

/* Read or write @len bytes at byte @rq_off of request @rq, mapped on its pages. */
void backing_dev_rq_io(struct pcache_backing_dev *backing_dev, struct request *rq,
		       u32 rq_off, u32 len, backing_dev_done_fn done, void *priv);
/* Write @len bytes from the pmem mapping at @addr to backing byte offset @off. */
void backing_dev_write_pmem(struct pcache_backing_dev *backing_dev, void *addr,
			    u64 off, u32 len, backing_dev_done_fn done, void *priv);
/* Flush the backing device's volatile cache; returns 0 or -errno. Sleeps. */
int backing_dev_flush(struct pcache_backing_dev *backing_dev);

#endif /* PCACHE_INTERNAL_H */
