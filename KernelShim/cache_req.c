// SPDX-License-Identifier: GPL-2.0
/*
 * cache_req.c - requests of /dev/pcacheN: writes into pmem, reads from pmem
 * or the backing device (and read fills), FLUSH and FUA.
 *
 * queue_rq runs in process context (BLK_MQ_F_BLOCKING) after
 * blk_mq_start_request(); every request is completed here, possibly later
 * from a backing completion or a fill work item.
 */
#include <linux/highmem.h>
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <linux/libnvdimm.h>

#include "cache_internal.h"

/* Forward-only cursor over the single-page segments of a request. */
struct rq_cursor {
	struct bio	*bio;
	struct bvec_iter iter;
	u32		pos;
};

static void rq_cursor_init(struct rq_cursor *c, struct request *rq)
{
	c->bio = rq->bio;
	c->iter = c->bio->bi_iter;
	c->pos = 0;
}

static struct bio_vec rq_cursor_bvec(struct rq_cursor *c)
{
	while (!c->iter.bi_size) {
		c->bio = c->bio->bi_next;
		c->iter = c->bio->bi_iter;
	}
	return bio_iter_iovec(c->bio, c->iter);
}

static void rq_cursor_step(struct rq_cursor *c, u32 n)
{
	bio_advance_iter_single(c->bio, &c->iter, n);
	c->pos += n;
}

static void rq_cursor_seek(struct rq_cursor *c, u32 to)
{
	struct bio_vec bv;

	while (c->pos < to) {
		bv = rq_cursor_bvec(c);
		rq_cursor_step(c, min(bv.bv_len, to - c->pos));
	}
}

/* Copy @len bytes at the cursor into pmem at @dst (caller issues pmem_wmb). */
static void rq_copy_to_pmem(struct rq_cursor *c, void *dst, u32 len)
{
	struct bio_vec bv;
	void *src;
	u32 n;

	while (len) {
		bv = rq_cursor_bvec(c);
		n = min(bv.bv_len, len);
		src = kmap_local_page(bv.bv_page);
		memcpy_flushcache(dst, src + bv.bv_offset, n);
		kunmap_local(src);
		rq_cursor_step(c, n);
		dst += n;
		len -= n;
	}
}

/*
 * rq_copy_to_pmem() through @bounce (a page the kernel owns): the request's
 * pages are read once, and the crc returned is that of what was stored even
 * if their owner changes them meanwhile.
 */
static u32 rq_copy_to_pmem_crc(struct rq_cursor *c, void *dst, u32 len, void *bounce)
{
	u32 crc = PCACHE_CRC_SEED, n;
	struct bio_vec bv;
	void *src;

	while (len) {
		bv = rq_cursor_bvec(c);
		n = min(bv.bv_len, len);	/* a cursor segment is at most a page */
		src = kmap_local_page(bv.bv_page);
		memcpy(bounce, src + bv.bv_offset, n);
		kunmap_local(src);
		crc = crc32c(crc, bounce, n);
		memcpy_flushcache(dst, bounce, n);
		rq_cursor_step(c, n);
		dst += n;
		len -= n;
	}
	return crc;
}

/*
 * Copy @len bytes of pmem at @src to the cursor; -EIO on a media error.
 * With @bounce (a page the kernel owns), through it, and *@crc receives
 * the crc of what pmem held (never computed over the request's pages).
 */
static int rq_copy_from_pmem(struct rq_cursor *c, const void *src, u32 len, void *bounce,
			     u32 *crc)
{
	struct bio_vec bv;
	unsigned long left;
	void *dst;
	u32 n;

	if (crc)
		*crc = PCACHE_CRC_SEED;
	while (len) {
		bv = rq_cursor_bvec(c);
		n = min(bv.bv_len, len);
		if (bounce) {
			if (copy_mc_to_kernel(bounce, src, n))
				return -EIO;
			*crc = crc32c(*crc, bounce, n);
		}
		dst = kmap_local_page(bv.bv_page);
		if (bounce) {
			memcpy(dst + bv.bv_offset, bounce, n);
			left = 0;
		} else {
			left = copy_mc_to_kernel(dst + bv.bv_offset, src, n);
		}
		kunmap_local(dst);
		if (left)
			return -EIO;
		rq_cursor_step(c, n);
		src += n;
		len -= n;
	}
	return 0;
}

/*
 * Sleep (waking every second) until the key log can take a kset again.
 * Return: 0 (look again), or -EIO once writeback has failed without
 * progress for stall_timeout_s (see cache_wb_stalled()) or on stop.
 */
static int cache_wait_log_space(struct pcache_cache *cache)
{
	atomic_inc(&cache->space_waiters);
	cache_space_kick(cache);
	wait_event_timeout(cache->space_wq, READ_ONCE(cache->free_segs) > 0 ||
			   READ_ONCE(cache->stopping), HZ);
	atomic_dec(&cache->space_waiters);
	if (READ_ONCE(cache->stopping) ||
	    (cache_wb_stalled(cache) && !READ_ONCE(cache->free_segs)))
		return -EIO;
	return 0;
}

static int cache_persist_all_wait(struct pcache_cache *cache)
{
	int ret;

	while ((ret = cache_ksets_persist_all(cache)) == -ENOSPC) {
		if (cache_wait_log_space(cache))
			return -EIO;
	}
	return ret;
}

/*
 * Insert and log a key, waiting for key-log space if needed.
 * Return: 0, or -EIO when no space came (nothing was inserted: the caller
 * still owns @key and its segment reference).
 */
static int cache_key_commit_wait(struct pcache_cache *cache, struct pcache_key *key, bool dirty)
{
	struct cache_subtree *st = cache_subtree_of(cache, key->off);
	struct pcache_key *spare = NULL;
	int ret;

	for (;;) {
		spin_lock(&st->lock);
		ret = cache_key_commit(cache, st, key, &spare, dirty);
		spin_unlock(&st->lock);
		if (!ret)
			break;
		if (ret == -EAGAIN)
			spare = cache_key_alloc(cache);	/* it splits an entry */
		else if (cache_wait_log_space(cache))
			break;
	}
	if (spare)
		cache_key_free(cache, spare);
	return ret ? -EIO : 0;
}

/*
 * A request the cache cannot absorb: writeback has failed without progress
 * for stall_timeout_s and no space is left. Counted in write_errors, one
 * log line per device at most every 5 s.
 */
static blk_status_t cache_write_failed(struct pcache_cache *cache, struct request *rq,
				       const char *what)
{
	atomic64_inc(&cache->write_errors);
	if (__ratelimit(&cache->write_err_rs))
		pcache_err("%s: %s at sector %llu failed with EIO: %s and writeback is failing (%d) without progress for over %u s",
			   cache->name, req_op(rq) == REQ_OP_FLUSH ? "flush" : "write",
			   (unsigned long long)blk_rq_pos(rq), what,
			   READ_ONCE(cache->wb_last_err), cache_wb_stall_secs());
	return BLK_STS_IOERR;
}

/*
 * A write that fails part-way has logged its first pieces: its contents
 * are undefined, as for any failed write, but nothing leaks.
 */
static blk_status_t cache_write(struct pcache_cache *cache, struct request *rq)
{
	u64 pos = blk_rq_pos(rq) << SECTOR_SHIFT;
	u32 total = blk_rq_bytes(rq), done = 0, want, n, seg, seg_off;
	u32 head_idx = rq->mq_hctx->queue_num;
	struct pcache_key *key;
	struct rq_cursor cur;
	u64 off, gen, r, first, last;
	struct page *bounce;
	void *dst;
	u32 crc = 0;

	if (!total)
		return BLK_STS_OK;
	rq_cursor_init(&cur, rq);
	while (done < total) {
		off = pos + done;
		want = min_t(u64, total - done, PCACHE_SUBTREE_SIZE - (off & (PCACHE_SUBTREE_SIZE - 1)));
		n = cache_data_alloc(cache, head_idx, want, true, &seg, &seg_off, &gen);
		if (!n)
			return cache_write_failed(cache, rq, "the cache is full");
		dst = cache_data_addr(cache, seg, seg_off);
		if (cache->data_crc) {
			/* taken and returned around the copy only: never held across a wait */
			bounce = mempool_alloc(cache->page_pool, GFP_NOIO);
			crc = rq_copy_to_pmem_crc(&cur, dst, n, page_address(bounce));
			mempool_free(bounce, cache->page_pool);
		} else {
			rq_copy_to_pmem(&cur, dst, n);
		}
		pmem_wmb();

		key = cache_key_alloc(cache);
		key->off = off;
		key->len = n;
		key->seg = seg;
		key->seg_off = seg_off;
		key->seg_gen = gen;
		key->crc_off = seg_off;
		key->crc_len = n;
		key->data_crc = crc;
		if (cache_key_commit_wait(cache, key, true)) {
			cache_key_free(cache, key);
			cache_seg_put(cache, seg);
			return cache_write_failed(cache, rq, "the key log is full");
		}
		done += n;
	}

	if (rq->cmd_flags & REQ_FUA) {
		/* persist the kset of every 4 MiB region the write touched */
		first = pos >> PCACHE_SUBTREE_SHIFT;
		last = (pos + total - 1) >> PCACHE_SUBTREE_SHIFT;
		if (last - first + 1 >= cache->n_ksets) {
			if (cache_persist_all_wait(cache))
				return cache_write_failed(cache, rq, "the key log is full");
		} else {
			for (r = first; r <= last; r++)
				while (cache_kset_persist(&cache->ksets[r % cache->n_ksets]) == -ENOSPC)
					if (cache_wait_log_space(cache))
						return cache_write_failed(cache, rq,
									  "the key log is full");
		}
	}
	return BLK_STS_OK;
}

/* ---- reads ---- */

/*
 * A read fill: one extent of a miss, read from the backing device straight
 * into cache space allocated for it (never into the request's pages, whose
 * owner could change them while the read is in flight), then copied from
 * there to the request and logged as a CLEAN key.
 */
struct cache_fill {
	struct list_head node;
	u64		off;
	u32		len;
	u32		rq_off;
	u64		eseq;
	u32		seg;		/* holds a reference until committed or dropped */
	u32		seg_off;
	u64		gen;
};

/* Lives in the request's pdu (see pcache_cache_rq_pdu_size): no allocation per read. */
struct cache_read_ctx {
	struct pcache_cache	*cache;
	struct request		*rq;
	atomic_t		pending;
	blk_status_t		status;
	struct list_head	fills;
	struct work_struct	work;
};

size_t pcache_cache_rq_pdu_size(void)
{
	return sizeof(struct cache_read_ctx);
}

static void cache_read_finish(struct cache_read_ctx *ctx)
{
	struct cache_fill *fill, *tmp;
	struct request *rq = ctx->rq;
	blk_status_t status = READ_ONCE(ctx->status);

	list_for_each_entry_safe(fill, tmp, &ctx->fills, node)
		kfree(fill);
	blk_mq_end_request(rq, status);	/* frees ctx, the request's pdu */
}

/*
 * The backing device filled @fill's cache space: make it durable, copy it
 * to the request (machine-check safe, with its crc when data_crc is on) and
 * log it as a CLEAN key, but only where nothing was written meanwhile: the
 * range must still have no index entry and no stale entry may have been
 * erased from the subtree since the miss (an erased entry could have hidden
 * a newer write). Otherwise its segment reference is dropped.
 */
static void cache_fill_one(struct cache_read_ctx *ctx, struct rq_cursor *cur,
			   struct cache_fill *fill, void *bounce)
{
	struct pcache_cache *cache = ctx->cache;
	struct cache_subtree *st = cache_subtree_of(cache, fill->off);
	struct pcache_key *key, *spare = NULL;	/* a fill range is empty: it splits nothing */
	void *src = cache_data_addr(cache, fill->seg, fill->seg_off);
	u32 crc = 0;
	int ret;

	/* DMA may have left the data in CPU caches: write it back first */
	arch_wb_cache_pmem(src, fill->len);
	pmem_wmb();
	rq_cursor_seek(cur, fill->rq_off);
	if (rq_copy_from_pmem(cur, src, fill->len, bounce, bounce ? &crc : NULL)) {
		pr_err_ratelimited("pcache: %s: media error reading the fill of backing offset %llu (cache segment %u offset %u len %u)\n",
				   cache->name, fill->off, fill->seg, fill->seg_off, fill->len);
		cmpxchg(&ctx->status, BLK_STS_OK, BLK_STS_IOERR);
		goto drop;
	}
	if (READ_ONCE(cache->stopping))
		goto drop;

	key = cache_key_alloc(cache);
	key->off = fill->off;
	key->len = fill->len;
	key->flags = CACHE_KEY_F_CLEAN;
	key->seg = fill->seg;
	key->seg_off = fill->seg_off;
	key->seg_gen = fill->gen;
	key->crc_off = fill->seg_off;
	key->crc_len = fill->len;
	key->data_crc = crc;

	spin_lock(&st->lock);
	if (st->eseq == fill->eseq && cache_range_empty(st, fill->off, fill->len))
		ret = cache_key_commit(cache, st, key, &spare, false);
	else
		ret = -EAGAIN;
	spin_unlock(&st->lock);
	if (ret) {
		cache_key_free(cache, key);
		goto drop;
	}
	atomic64_inc(&cache->fills);
	return;
drop:
	cache_seg_put(cache, fill->seg);
}

static void cache_fill_fn(struct work_struct *work)
{
	struct cache_read_ctx *ctx = container_of(work, struct cache_read_ctx, work);
	struct pcache_cache *cache = ctx->cache;
	struct page *bounce = NULL;
	struct cache_fill *fill;
	struct rq_cursor cur;

	if (cache->data_crc && READ_ONCE(ctx->status) == BLK_STS_OK)
		bounce = mempool_alloc(cache->page_pool, GFP_NOIO);
	rq_cursor_init(&cur, ctx->rq);
	list_for_each_entry(fill, &ctx->fills, node) {
		if (READ_ONCE(ctx->status) == BLK_STS_OK)
			cache_fill_one(ctx, &cur, fill, bounce ? page_address(bounce) : NULL);
		else
			cache_seg_put(cache, fill->seg);
	}
	if (bounce)
		mempool_free(bounce, cache->page_pool);
	cache_read_finish(ctx);
}

static void cache_read_put(struct cache_read_ctx *ctx)
{
	if (!atomic_dec_and_test(&ctx->pending))
		return;
	/* fills hold segment references and their data: always to the worker */
	if (!list_empty(&ctx->fills))
		queue_work(ctx->cache->wq, &ctx->work);
	else
		cache_read_finish(ctx);
}

/* Backing completion; may run in interrupt context. */
static void cache_read_done(void *priv, blk_status_t status)
{
	struct cache_read_ctx *ctx = priv;

	if (status)
		cmpxchg(&ctx->status, BLK_STS_OK, status);
	cache_read_put(ctx);
}

/*
 * A miss: read it into cache space where some is free without waiting
 * (a fill is optional), the rest straight into the request's pages.
 */
static void cache_read_miss(struct cache_read_ctx *ctx, u64 off, u32 len, u32 rq_off,
			    u64 eseq, bool fill_ok)
{
	struct pcache_cache *cache = ctx->cache;
	u32 head_idx = ctx->rq->mq_hctx->queue_num;
	struct cache_fill *fill;
	u32 n;

	atomic64_inc(&cache->misses);
	atomic64_add(len, &cache->miss_bytes);
	while (fill_ok && len && !READ_ONCE(cache->stopping)) {
		fill = kmalloc(sizeof(*fill), GFP_NOIO | __GFP_NOWARN);
		if (!fill)
			break;
		n = cache_data_alloc(cache, head_idx, len, false, &fill->seg, &fill->seg_off,
				     &fill->gen);
		if (!n) {
			kfree(fill);
			break;
		}
		fill->off = off;
		fill->len = n;
		fill->rq_off = rq_off;
		fill->eseq = eseq;
		list_add_tail(&fill->node, &ctx->fills);
		atomic_inc(&ctx->pending);
		backing_dev_read_pmem(cache->backing_dev,
				      cache_data_addr(cache, fill->seg, fill->seg_off), off, n,
				      cache_read_done, ctx);
		off += n;
		rq_off += n;
		len -= n;
	}
	if (!len)
		return;
	atomic_inc(&ctx->pending);
	backing_dev_rq_io(cache->backing_dev, ctx->rq, rq_off, len, cache_read_done, ctx);
}

static void cache_read_error(struct cache_read_ctx *ctx)
{
	cmpxchg(&ctx->status, BLK_STS_OK, BLK_STS_IOERR);
}

/* Serve a hit; returns false if the segment was reclaimed under us. */
static bool cache_read_hit(struct cache_read_ctx *ctx, struct rq_cursor *cur,
			   const struct pcache_key *hit, u32 rq_off)
{
	struct pcache_cache *cache = ctx->cache;
	u32 crc;

	if (hit->flags & CACHE_KEY_F_BAD) {
		pr_err_ratelimited("pcache: %s: read of %llu+%u hits cached data that failed data_crc\n",
				   cache->name, hit->off, hit->len);
		cache_read_error(ctx);
		return true;
	}
	if (cache->data_crc) {
		if (cache_data_crc(cache, hit->seg, hit->crc_off, hit->crc_len, &crc) ||
		    crc != hit->data_crc) {
			smp_rmb();
			if (READ_ONCE(cache->segs[hit->seg].gen) != hit->seg_gen)
				return false;
			atomic64_inc(&cache->data_crc_errors);
			pcache_err("%s: data_crc mismatch reading backing offset %llu (cache segment %u offset %u len %u)",
				   cache->name, hit->off, hit->seg, hit->crc_off, hit->crc_len);
			cache_read_error(ctx);
			return true;
		}
	}
	rq_cursor_seek(cur, rq_off);
	if (rq_copy_from_pmem(cur, cache_data_addr(cache, hit->seg, hit->seg_off), hit->len,
			      NULL, NULL)) {
		pr_err_ratelimited("pcache: %s: media error reading cached data of backing offset %llu\n",
				   cache->name, hit->off);
		cache_read_error(ctx);
		return true;
	}
	smp_rmb();
	if (READ_ONCE(cache->segs[hit->seg].gen) != hit->seg_gen)
		return false;
	atomic64_inc(&cache->hits);
	atomic64_add(hit->len, &cache->hit_bytes);
	return true;
}

static void cache_read(struct pcache_cache *cache, struct request *rq)
{
	u64 pos = blk_rq_pos(rq) << SECTOR_SHIFT, off, chunk_end, eseq = 0;
	u32 total = blk_rq_bytes(rq), done = 0, len;
	struct cache_read_ctx *ctx;
	struct cache_subtree *st;
	struct pcache_key *key, hit;
	struct rq_cursor cur;
	bool is_hit;

	ctx = blk_mq_rq_to_pdu(rq);
	ctx->cache = cache;
	ctx->rq = rq;
	atomic_set(&ctx->pending, 1);
	ctx->status = BLK_STS_OK;
	INIT_LIST_HEAD(&ctx->fills);
	INIT_WORK(&ctx->work, cache_fill_fn);
	if (!total)
		goto out;

	rq_cursor_init(&cur, rq);
	while (done < total && READ_ONCE(ctx->status) == BLK_STS_OK) {
		off = pos + done;
		chunk_end = min(pos + total, round_down(off, PCACHE_SUBTREE_SIZE) + PCACHE_SUBTREE_SIZE);
		st = cache_subtree_of(cache, off);

		spin_lock(&st->lock);
		for (;;) {
			key = cache_key_first_after(st, off);
			if (!key || key->off > off || !cache_key_stale(cache, key))
				break;
			rb_erase(&key->node, &st->root);
			cache_key_free(cache, key);
			st->eseq++;
		}
		is_hit = key && key->off <= off;
		if (is_hit) {
			hit = *key;
			len = min(cache_key_end(key), chunk_end) - off;
			hit.seg_off += off - key->off;
			hit.off = off;
			hit.len = len;
		} else {
			len = (key ? min(key->off, chunk_end) : chunk_end) - off;
			eseq = st->eseq;
		}
		spin_unlock(&st->lock);

		if (!is_hit)
			cache_read_miss(ctx, off, len, done, eseq, true);
		else if (!cache_read_hit(ctx, &cur, &hit, done))
			cache_read_miss(ctx, off, len, done, 0, false);
		done += len;
	}
out:
	cache_read_put(ctx);
}

/*
 * pcache_cache_queue_rq - handle one request; it is always completed by
 * the engine (here or later), so the return value is always BLK_STS_OK.
 */
blk_status_t pcache_cache_queue_rq(struct pcache_cache *cache, struct request *rq)
{
	blk_status_t status;

	if (READ_ONCE(cache->last_io) != jiffies)
		WRITE_ONCE(cache->last_io, jiffies);	/* writeback waits for idle time */
	switch (req_op(rq)) {
	case REQ_OP_FLUSH:
		status = cache_persist_all_wait(cache) ?
			 cache_write_failed(cache, rq, "the key log is full") : BLK_STS_OK;
		break;
	case REQ_OP_WRITE:
		if ((rq->cmd_flags & REQ_PREFLUSH) && cache_persist_all_wait(cache))
			status = cache_write_failed(cache, rq, "the key log is full");
		else
			status = cache_write(cache, rq);
		break;
	case REQ_OP_READ:
		cache_read(cache, rq);
		return BLK_STS_OK;
	default:
		status = BLK_STS_NOTSUPP;
		break;
	}
	blk_mq_end_request(rq, status);
	return BLK_STS_OK;
}
