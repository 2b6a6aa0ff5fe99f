/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cache.h - the boundary between the device plumbing and the cache engine.
 *
 * The plumbing (backing_dev.c) owns the segment chain of a backing device:
 * it allocates cache_segs segments at the first start, links them through
 * their segment infos, records first_seg/cache_segs in the backing record,
 * claims the same chain again on restart and releases it after a clean stop.
 * The engine owns everything inside those segments: generations, the log
 * positions in the first segment's ctrl area, data, ksets.
 */
#ifndef PCACHE_CACHE_H
#define PCACHE_CACHE_H

#include "pcache_internal.h"

struct pcache_cache_opts {
	const u32	*seg_ids;	/* physical ids, chain order, n_segs entries */
	u32		n_segs;
	bool		new_cache;	/* true: initialise; false: replay */
	bool		data_crc;
	u32		gc_percent;
	u32		queues;
};

/*
 * pcache_cache_start - start the engine for @backing_dev; on success sets
 * backing_dev->cache (it may leave it NULL only in a build without the
 * engine, in which case I/O passes through to the backing device).
 * Return: 0 or -errno; every failure is logged once, naming the device.
 */
int pcache_cache_start(struct pcache_backing_dev *backing_dev,
		       const struct pcache_cache_opts *opts);

/*
 * pcache_cache_drain - write every dirty key back and flush the backing
 * device while the cache keeps running (the caller keeps new I/O away).
 * Interruptible. Return: 0; -EINTR on a signal; -EIO once writeback has
 * failed without progress for stall_timeout_s, or the flush failed. On
 * error nothing changed: the dirty data is still in the cache.
 */
int pcache_cache_drain(struct pcache_cache *cache);

/*
 * pcache_cache_stop - stop the engine. With @writeback_all, write every dirty
 * key back and flush the backing device first (clean stop); returns -EIO (or
 * -EINTR, see pcache_cache_drain) if that could not be done, in which case
 * the data stays in pmem for replay. Without, the open ksets are persisted
 * (bounded) and the dirty data stays for replay.
 */
int pcache_cache_stop(struct pcache_backing_dev *backing_dev, bool writeback_all);

/* Handle one request of /dev/pcacheN; the engine completes @rq. */
blk_status_t pcache_cache_queue_rq(struct pcache_cache *cache, struct request *rq);
/* Bytes of per-request data (pdu) the engine needs in every request of the tag set. */
size_t pcache_cache_rq_pdu_size(void);

void pcache_cache_set_gc_percent(struct pcache_cache *cache, u32 gc_percent);
u32 pcache_cache_used_segs(struct pcache_cache *cache);
/* sysfs text of the engine counters, one "name value" per line. */
ssize_t pcache_cache_stats_show(struct pcache_cache *cache, char *buf);

/* Module-wide engine state (the key slab), set up before any cache starts. */
int pcache_cache_module_init(void);
void pcache_cache_module_exit(void);

#endif /* PCACHE_CACHE_H */
