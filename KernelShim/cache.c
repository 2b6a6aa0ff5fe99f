// SPDX-License-Identifier: GPL-2.0
/*
 * TEMPORARY: no engine yet. backing_dev->cache stays NULL and logic_dev
 * passes every request through to the backing device. The cache engine
 * replaces this file.
 */
#include "cache.h"

int pcache_cache_start(struct pcache_backing_dev *backing_dev,
		       const struct pcache_cache_opts *opts)
{
	backing_dev->cache = NULL;
	return 0;
}

int pcache_cache_stop(struct pcache_backing_dev *backing_dev, bool writeback_all)
{
	return 0;
}

blk_status_t pcache_cache_queue_rq(struct pcache_cache *cache, struct request *rq)
{
	return BLK_STS_NOTSUPP;
}

void pcache_cache_set_gc_percent(struct pcache_cache *cache, u32 gc_percent)
{
}

u32 pcache_cache_used_segs(struct pcache_cache *cache)
{
	return 0;
}

ssize_t pcache_cache_stats_show(struct pcache_cache *cache, char *buf)
{
	return 0;
}
