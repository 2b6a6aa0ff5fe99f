// SPDX-License-Identifier: GPL-2.0
/*
 * cache_writeback.c - write dirty keys back in log order.
 *
 * The worker takes up to PCACHE_WB_BATCH_KSETS ksets from dirty_tail,
 * writes their dirty keys from pmem to the backing device (concurrently,
 * except that a key overlapping one already issued in the batch waits for
 * the batch so far: the later write must land last), flushes the backing
 * device and only then advances and persists dirty_tail. After a crash the
 * unfinished batch is simply written again.
 *
 * Every dirty key is written, overwritten or not, so that after each batch
 * the backing device holds a prefix of the write history (old data, then
 * new): if the pmem device is ever lost, the backing disk is an older but
 * consistent image.
 *
 * Writeback runs when the cache has been idle for writeback_idle_ms, when
 * used segments pass half of gc_percent, when writers wait for space, and
 * always to the end on a clean stop: until then the cache absorbs bursts
 * and rewrites without competing with them for the CPU and the disk.
 */
#include <linux/completion.h>
#include <linux/moduleparam.h>

#include "cache_internal.h"

struct cache_wb_io {
	atomic_t		pending;
	blk_status_t		status;
	struct completion	done;
};

static void cache_wb_done(void *priv, blk_status_t status)
{
	struct cache_wb_io *io = priv;

	if (status)
		cmpxchg(&io->status, BLK_STS_OK, status);
	if (atomic_dec_and_test(&io->pending))
		complete(&io->done);
}

/* Wait for every write issued so far; returns 0 or -EIO and rearms @io. */
static int cache_wb_wait(struct cache_wb_io *io)
{
	int ret;

	if (!atomic_dec_and_test(&io->pending))
		wait_for_completion_io(&io->done);
	ret = io->status ? -EIO : 0;
	atomic_set(&io->pending, 1);
	reinit_completion(&io->done);
	io->status = BLK_STS_OK;
	return ret;
}

void cache_pos_persist(struct pcache_cache *cache, bool key_tail)
{
	struct pcache_pos_onmedia rec = { };
	struct cache_pos pos;
	void *slot0;
	u32 *seq;

	spin_lock(&cache->pos_lock);
	pos = key_tail ? cache->key_tail : cache->dirty_tail;
	spin_unlock(&cache->pos_lock);

	seq = key_tail ? &cache->key_tail_seq : &cache->dirty_tail_seq;
	rec.header.seq = cpu_to_le32(*seq);	/* meta_write adds 1 */
	rec.cache_seg = cpu_to_le32(pos.seg);
	rec.seg_off = cpu_to_le32(pos.off);
	slot0 = cache_seg_base(cache, 0) +
		(key_tail ? PCACHE_SEG_KEY_TAIL_OFF : PCACHE_SEG_DIRTY_TAIL_OFF);
	pcache_meta_write(slot0, PCACHE_SEG_POS_STRIDE, sizeof(rec), &rec,
			  key_tail ? &cache->key_tail_slot : &cache->dirty_tail_slot);
	*seq = le32_to_cpu(rec.header.seq);
}

bool cache_is_clean(struct pcache_cache *cache)
{
	struct cache_pos head, tail;

	spin_lock(&cache->log_lock);
	head = cache->key_head;
	spin_unlock(&cache->log_lock);
	spin_lock(&cache->pos_lock);
	tail = cache->dirty_tail;
	spin_unlock(&cache->pos_lock);
	return cache_pos_eq(&head, &tail);
}

void cache_writeback_kick(struct pcache_cache *cache)
{
	mod_delayed_work(cache->wq, &cache->wb_work, 0);
}

/* Idle time before background writeback starts (a tunable, and a testing aid). */
static unsigned int writeback_idle_ms = 1000;
module_param(writeback_idle_ms, uint, 0644);
MODULE_PARM_DESC(writeback_idle_ms,
		 "milliseconds without I/O before writeback starts below the watermark (default 1000)");

static bool cache_wb_wanted(struct pcache_cache *cache)
{
	return READ_ONCE(cache->wb_drain) || atomic_read(&cache->space_waiters) ||
	       (u64)cache_used_segs(cache) * 200 >=
	       (u64)cache->n_segs * READ_ONCE(cache->gc_percent) ||
	       time_after(jiffies, READ_ONCE(cache->last_io) +
			  msecs_to_jiffies(READ_ONCE(writeback_idle_ms)));
}

static bool cache_wb_overlaps(struct cache_wb_range *r, u32 nr, u64 off, u32 len)
{
	u32 i;

	for (i = 0; i < nr; i++)
		if (off < r[i].off + r[i].len && r[i].off < off + len)
			return true;
	return false;
}

static void cache_wb_error(struct pcache_cache *cache, const char *what, int err)
{
	atomic64_inc(&cache->writeback_errors);
	if (!cache->wb_err_logged)
		pcache_err("%s: writeback: %s (%d); dirty data stays in the cache, retrying",
			   cache->name, what, err);
	cache->wb_err_logged = true;
	queue_delayed_work(cache->wq, &cache->wb_work, HZ);
}

/* Write @key back; a key overlapping one of this batch waits for the batch. */
static int cache_wb_issue(struct pcache_cache *cache, struct cache_wb_io *io, u32 *nr_ranges,
			  const struct pcache_key *key)
{
	struct cache_wb_range *r = cache->wb_ranges;
	u32 done, n;
	int ret;

	if (*nr_ranges == PCACHE_WB_RANGES || cache_wb_overlaps(r, *nr_ranges, key->off, key->len)) {
		ret = cache_wb_wait(io);
		if (ret)
			return ret;
		*nr_ranges = 0;
	}
	r[*nr_ranges].off = key->off;
	r[*nr_ranges].len = key->len;
	(*nr_ranges)++;
	for (done = 0; done < key->len; done += n) {
		n = min(key->len - done, PCACHE_WB_IO_MAX);
		atomic_inc(&io->pending);
		backing_dev_write_pmem(cache->backing_dev,
				       cache_data_addr(cache, key->seg, key->seg_off + done),
				       key->off + done, n, cache_wb_done, io);
	}
	atomic64_add(key->len, &cache->writeback_bytes);
	return 0;
}

/*
 * Issue the writes of one kset's dirty keys. Keys whose data_crc no longer
 * matches are not written (the read path reports them too).
 * Return: non-CLEAN keys seen and their bytes through @keys/@bytes.
 */
static int cache_wb_kset(struct pcache_cache *cache, struct cache_wb_io *io, u32 *nr_ranges,
			 u64 *keys, u64 *bytes)
{
	struct pcache_kset_onmedia *hdr = cache->wb_kset_buf;
	struct pcache_key_onmedia *k = cache->wb_kset_buf + PCACHE_KSET_HDR_SIZE;
	struct pcache_key key;
	u32 i, nr = le16_to_cpu(hdr->key_num), crc;
	int ret;

	for (i = 0; i < nr; i++) {
		if (!cache_key_decode(cache, &k[i], &key)) {
			pcache_err("%s: writeback: skipping out-of-range key %u of a kset",
				   cache->name, i);
			continue;
		}
		if (key.flags & CACHE_KEY_F_CLEAN)
			continue;
		(*keys)++;
		*bytes += key.len;
		if (cache_key_stale(cache, &key))
			continue;
		if (cache->data_crc) {
			ret = cache_data_crc(cache, key.seg, key.seg_off, key.len, &crc);
			if (ret || crc != key.data_crc) {
				atomic64_inc(&cache->data_crc_errors);
				pcache_err("%s: data_crc mismatch at backing offset %llu (cache segment %u offset %u len %u): not written back",
					   cache->name, key.off, key.seg, key.seg_off, key.len);
				continue;
			}
		}
		ret = cache_wb_issue(cache, io, nr_ranges, &key);
		if (ret)
			return ret;
	}
	return 0;
}

void cache_writeback_fn(struct work_struct *work)
{
	struct pcache_cache *cache = container_of(to_delayed_work(work), struct pcache_cache,
						  wb_work);
	struct pcache_kset_onmedia *hdr = cache->wb_kset_buf;
	struct cache_pos head, cur;
	struct cache_wb_io io;
	u64 keys, bytes;
	u32 nk, nr_ranges, next;
	int ret;

	atomic_set(&io.pending, 1);
	io.status = BLK_STS_OK;
	init_completion(&io.done);

	while (!READ_ONCE(cache->stopping)) {
		spin_lock(&cache->log_lock);
		head = cache->key_head;
		spin_unlock(&cache->log_lock);
		spin_lock(&cache->pos_lock);
		cur = cache->dirty_tail;
		spin_unlock(&cache->pos_lock);
		if (cache_pos_eq(&cur, &head))
			break;
		if (!cache_wb_wanted(cache)) {
			/* look again later: the cache may have become idle */
			queue_delayed_work(cache->wq, &cache->wb_work, PCACHE_WB_RECHECK);
			break;
		}

		keys = 0;
		bytes = 0;
		nr_ranges = 0;
		ret = 0;
		for (nk = 0; nk < PCACHE_WB_BATCH_KSETS && !cache_pos_eq(&cur, &head); nk++) {
			ret = cache_kset_read(cache, &cur, hdr);
			if (ret)
				break;
			if (le16_to_cpu(hdr->flags) & PCACHE_KSET_F_LAST) {
				next = le32_to_cpu(hdr->next_cache_seg);
				if (next >= cache->n_segs ||
				    READ_ONCE(cache->segs[next].state) != CACHE_SEG_KEY) {
					ret = -ERANGE;
					break;
				}
				cur.seg = next;
				cur.off = 0;
				continue;
			}
			ret = cache_wb_kset(cache, &io, &nr_ranges, &keys, &bytes);
			if (ret)
				break;
			cur.off += PCACHE_KSET_HDR_SIZE + le16_to_cpu(hdr->key_num) * PCACHE_KEY_SIZE;
		}
		if (ret) {
			cache_wb_wait(&io);
			cache_wb_error(cache, ret == -EIO ? "backing write failed" :
				       "bad kset in the log", ret);
			break;
		}
		ret = cache_wb_wait(&io);
		if (ret) {
			cache_wb_error(cache, "backing write failed", ret);
			break;
		}
		ret = backing_dev_flush(cache->backing_dev);
		if (ret) {
			cache_wb_error(cache, "backing flush failed", ret);
			break;
		}
		if (cache->wb_err_logged)
			pcache_info("%s: writeback resumed", cache->name);
		cache->wb_err_logged = false;

		spin_lock(&cache->pos_lock);
		cache->dirty_tail = cur;
		spin_unlock(&cache->pos_lock);
		cache_pos_persist(cache, false);
		atomic64_sub(keys, &cache->dirty_keys);
		atomic64_sub(bytes, &cache->dirty_bytes);
		wake_up_all(&cache->wb_wq);
		cache_gc_kick(cache);
		cond_resched();
	}
	wake_up_all(&cache->wb_wq);
}
