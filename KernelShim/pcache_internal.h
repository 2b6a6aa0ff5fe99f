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

	/* plumbing only (cache_dev.c, main.c) */
	struct list_head	node;		/* pcache_cache_devs, under pcache_mutex */
	dev_t			devt;
	/* chains of RUNNING records, claimed at register, until started */
	u32			*chains[PCACHE_BACKING_MAX];
	/* disk last started on each record since register (backing_dev.c, @lock) */
	dev_t			rec_devt[PCACHE_BACKING_MAX];
	u32			nr_backings;	/* started backing devices, under @lock */
	bool			dying;		/* unregister passed its checks, under @lock */
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
 * @rec: record to write; it starts with struct pcache_meta_header_onmedia
 *       whose seq must hold the latest seq (as read by
 *       pcache_meta_find_latest(), or anything when *@latest_slot < 0). Its
 *       header.seq is set to that seq + 1 and its crc computed here, so @rec
 *       stays the in-memory twin of the newest copy.
 * @latest_slot: in: slot of the latest valid copy, or -1 if none (then slot
 *       0 is written); out: the slot written.
 * Flushes the copy to media and issues pmem_wmb() before returning.
 */
void pcache_meta_write(void *slot0, u32 stride, u32 size, void *rec, int *latest_slot);

/*
 * Whether a backing record's segment chain holds a cache to replay: a
 * RUNNING record once the engine initialised the chain (a crash or a
 * stop that could not persist everything), or a CACHED one (stopped
 * with its cache kept).
 */
static inline bool pcache_rec_holds_cache(const struct pcache_backing_onmedia *rec)
{
	u32 state = le32_to_cpu(rec->state);

	return (state == PCACHE_BACKING_STATE_RUNNING || state == PCACHE_BACKING_STATE_CACHED) &&
	       (le32_to_cpu(rec->flags) & PCACHE_BACKING_F_INIT_DONE);
}

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
	/* plumbing only: @open_count and @closing change under @open_lock */
	spinlock_t		open_lock;
	bool			closing;
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

	/* plumbing only */
	u32			*seg_ids;	/* chain, info.cache_segs entries */
	bool			segs_owned;	/* @seg_ids claimed in seg_bitmap */
	u32			nr_seg_ids;	/* entries of @seg_ids (the record may change) */
};

/* Persist @backing_dev->info (caller holds info_lock). */
void backing_dev_info_write(struct pcache_backing_dev *backing_dev);

/*
 * Bios to the backing device. Allocation comes from backing_dev->bioset
 * (mempool backed, GFP_NOIO): these never fail and may sleep, so call them
 * from process context (queue_rq of a BLK_MQ_F_BLOCKING set, or a worker).
 * @done runs once, from bio completion context (possibly hard irq), after
 * every bio of the call has completed, with the first error seen.
 *
 * When called from queue_rq, the block layer may hold the bios on
 * current->bio_list until queue_rq returns: never wait for @done there.
 */
typedef void (*backing_dev_done_fn)(void *priv, blk_status_t status);

/* Read or write @len bytes at byte @rq_off of request @rq, mapped on its pages. */
void backing_dev_rq_io(struct pcache_backing_dev *backing_dev, struct request *rq,
		       u32 rq_off, u32 len, backing_dev_done_fn done, void *priv);
/* Write @len bytes from the pmem mapping at @addr to backing byte offset @off. */
void backing_dev_write_pmem(struct pcache_backing_dev *backing_dev, void *addr,
			    u64 off, u32 len, backing_dev_done_fn done, void *priv);
/*
 * Read @len bytes at backing byte offset @off into the pmem mapping at @addr.
 * The data may still sit in CPU caches when @done runs (DMA into a
 * write-back cache, e.g. DDIO): write it back before relying on it.
 */
void backing_dev_read_pmem(struct pcache_backing_dev *backing_dev, void *addr,
			   u64 off, u32 len, backing_dev_done_fn done, void *priv);
/* Flush the backing device's volatile cache; returns 0 or -errno. Sleeps. */
int backing_dev_flush(struct pcache_backing_dev *backing_dev);

/* ---- plumbing-internal (main.c, cache_dev.c, segment.c, backing_dev.c, logic_dev.c) ---- */

#define cache_dev_err(cd, fmt, ...)	pcache_err("cache_dev%d: " fmt, (cd)->id, ##__VA_ARGS__)
#define cache_dev_warn(cd, fmt, ...)	pcache_warn("cache_dev%d: " fmt, (cd)->id, ##__VA_ARGS__)
#define cache_dev_info(cd, fmt, ...)	pcache_info("cache_dev%d: " fmt, (cd)->id, ##__VA_ARGS__)
#define backing_dev_err(bd, fmt, ...) \
	cache_dev_err((bd)->cache_dev, "backing_dev%u: " fmt, (bd)->id, ##__VA_ARGS__)
#define backing_dev_info(bd, fmt, ...) \
	cache_dev_info((bd)->cache_dev, "backing_dev%u: " fmt, (bd)->id, ##__VA_ARGS__)

extern const struct bus_type pcache_bus_type;
extern struct device *pcache_root_dev;
extern struct mutex pcache_mutex;
extern struct list_head pcache_cache_devs;

/* main.c: strict "key=value,key=value" parsing, one log line per refusal. */
struct pcache_opt {
	const char	*key;
	char		*val;		/* NULL when absent */
};
bool pcache_capable(const char *object);
char *pcache_store_dup(const char *object, const char *ubuf, size_t size);
int pcache_opts_parse(const char *object, char *buf, struct pcache_opt *opts, int nr);
int pcache_opt_u32(const char *object, const struct pcache_opt *opt, u32 min, u32 max,
		   u32 *out);

/* cache_dev.c */
int pcache_check_dev_path(const char *object, const char *path, dev_t *devt);
int cache_dev_register(const char *object, char *buf);
int cache_dev_unregister(const char *object, char *buf);

/* segment.c */
int cache_dev_segs_init(struct pcache_cache_dev *cache_dev);
void cache_dev_segs_exit(struct pcache_cache_dev *cache_dev);
void *cache_dev_backing_slot0(struct pcache_cache_dev *cache_dev, u32 backing_id);
int segment_chain_create(struct pcache_cache_dev *cache_dev, u32 backing_id,
			 u32 n_segs, u32 *seg_ids);
void segment_chain_release(struct pcache_cache_dev *cache_dev, const u32 *seg_ids, u32 n_segs);

/* backing_dev.c */
int backing_record_read(struct pcache_cache_dev *cache_dev, u32 backing_id,
			struct pcache_backing_onmedia *rec, int *slot);
int backing_record_check(struct pcache_cache_dev *cache_dev, u32 backing_id,
			 const struct pcache_backing_onmedia *rec);
int backing_dev_adm(struct pcache_cache_dev *cache_dev, char *buf);
ssize_t backing_records_show(struct pcache_cache_dev *cache_dev, char *buf);

/* logic_dev.c */
int logic_dev_init(void);
void logic_dev_exit(void);
int logic_dev_start(struct pcache_backing_dev *backing_dev);
int logic_dev_close(struct pcache_backing_dev *backing_dev);
void backing_dev_flush_async(struct pcache_backing_dev *backing_dev, backing_dev_done_fn done,
			     void *priv);
void logic_dev_stop(struct pcache_backing_dev *backing_dev);

#endif /* PCACHE_INTERNAL_H */
