// SPDX-License-Identifier: GPL-2.0
/*
 * cache_key.c - the in-memory index (one red-black tree per 4 MiB of the
 * backing device) and the key log (ksets appended to key segments).
 *
 * Key log on media, inside the data areas of key segments:
 *
 *   key seg A                                   key seg B
 *   +-------+-------+-----+------+--------+     +-------+------+----------+
 *   | kset  | kset  | ... | LAST | unused |     | kset  | 0000 | garbage  |
 *   +-------+-------+-----+--|---+--------+     +-------+------+----------+
 *   ^key_tail  ^dirty_tail   +--- next_cache_seg = B ^key_head (zero header)
 *
 * Each kset is written after a zero header that will follow it, with a
 * barrier in between, so a torn or missing kset always ends replay at a
 * header that fails magic or CRC. Every kset (LAST too) carries the low 32
 * bits of its key segment's generation (gen_stamp): the generation changes
 * each time the segment is reclaimed and starts at a random value in a new
 * cache, so ksets left behind the log end by an earlier use of the segment
 * (or by an earlier owner) never pass for part of this log.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/sched.h>
#include <linux/moduleparam.h>
#include <linux/mempool.h>

#include "cache_internal.h"

static const struct pcache_kset_onmedia cache_zero_kset;

/* What every kset in key segment @seg carries: the low 32 bits of its generation. */
static __le32 cache_kset_stamp(struct pcache_cache *cache, u32 seg)
{
	return cpu_to_le32(lower_32_bits(READ_ONCE(cache->segs[seg].gen)));
}

/*
 * Testing aid: chain a new key segment once this many bytes of a key
 * segment hold ksets (0: only when it is full), so that tests reach LAST
 * ksets and key-segment reclaim without writing gigabytes.
 */
static unsigned int key_seg_limit;
module_param(key_seg_limit, uint, 0644);
MODULE_PARM_DESC(key_seg_limit, "testing: bytes of ksets per key segment (0 = whole segment)");

struct pcache_key *cache_key_alloc(struct pcache_cache *cache)
{
	struct pcache_key *key = mempool_alloc(cache->key_pool, GFP_NOIO);

	memset(key, 0, sizeof(*key));
	RB_CLEAR_NODE(&key->node);
	return key;
}

void cache_key_free(struct pcache_cache *cache, struct pcache_key *key)
{
	mempool_free(key, cache->key_pool);
}

bool cache_key_stale(struct pcache_cache *cache, const struct pcache_key *key)
{
	return key->seg_gen != READ_ONCE(cache->segs[key->seg].gen);
}

/*
 * cache_key_find - the first entry of @st ending after @off, or NULL; and
 * through @parent/@link, where an entry starting at @off would be linked
 * (valid while the tree is unchanged). Caller holds st->lock.
 */
static struct pcache_key *cache_key_find(struct cache_subtree *st, u64 off,
					 struct rb_node **parent, struct rb_node ***link)
{
	struct rb_node **p = &st->root.rb_node, *n = NULL;
	struct pcache_key *key, *cand = NULL;

	while (*p) {
		n = *p;
		key = rb_entry(n, struct pcache_key, node);
		if (key->off <= off) {
			cand = key;
			p = &n->rb_right;
		} else {
			p = &n->rb_left;
		}
	}
	*parent = n;
	*link = p;
	if (!cand)
		n = rb_first(&st->root);
	else if (cache_key_end(cand) > off)
		return cand;
	else
		n = rb_next(&cand->node);
	return n ? rb_entry(n, struct pcache_key, node) : NULL;
}

struct pcache_key *cache_key_first_after(struct cache_subtree *st, u64 off)
{
	struct rb_node *parent, **link;

	return cache_key_find(st, off, &parent, &link);
}

static void cache_key_link(struct cache_subtree *st, struct pcache_key *key)
{
	struct rb_node **p = &st->root.rb_node, *parent = NULL;

	while (*p) {
		parent = *p;
		if (key->off < rb_entry(parent, struct pcache_key, node)->off)
			p = &parent->rb_left;
		else
			p = &parent->rb_right;
	}
	rb_link_node(&key->node, parent, p);
	rb_insert_color(&key->node, &st->root);
}

/*
 * cache_key_insert_at - insert @key into @st; the newer key wins every
 * overlap.
 * @t, @parent, @link: cache_key_find(@st, @key->off), looked up by the caller.
 * @spare:  a preallocated entry, consumed (set to NULL) if an older entry
 *          has to be split around @key.
 * @pooled: entries come from the key mempool and are freed when they are
 *          fully overwritten (the index); otherwise they belong to the
 *          caller's array and are only unlinked (a writeback batch).
 * Caller holds st->lock if @st is shared.
 *
 *   older T:  |-----------------------|
 *   new K:          |=======|
 *   result:   |-T---|=======|-spare---|
 */
static void cache_key_insert_at(struct pcache_cache *cache, struct cache_subtree *st,
				struct pcache_key *key, struct pcache_key *t,
				struct rb_node *parent, struct rb_node **link,
				struct pcache_key **spare, bool pooled)
{
	u64 s = key->off, e = cache_key_end(key);
	struct pcache_key *next, *tail;
	struct rb_node *n;
	u32 delta;

	/*
	 * The same range written again (most overwrites): entries are disjoint,
	 * so @key takes @t's place in the tree, no rebalancing, no second walk.
	 */
	if (t && t->off == s && cache_key_end(t) == e) {
		rb_replace_node(&t->node, &key->node, &st->root);
		if (pooled)
			cache_key_free(cache, t);
		return;
	}
	/* nothing overlaps (most first writes): link where the lookup ended */
	if (!t || t->off >= e) {
		rb_link_node(&key->node, parent, link);
		rb_insert_color(&key->node, &st->root);
		return;
	}
	while (t && t->off < e) {
		n = rb_next(&t->node);
		next = n ? rb_entry(n, struct pcache_key, node) : NULL;

		if (t->off < s && cache_key_end(t) > e) {
			tail = *spare;
			*spare = NULL;
			*tail = *t;
			RB_CLEAR_NODE(&tail->node);
			delta = e - t->off;
			tail->off = e;
			tail->seg_off = t->seg_off + delta;
			tail->len = t->len - delta;
			t->len = s - t->off;
			cache_key_link(st, tail);
			break;
		} else if (t->off < s) {
			t->len = s - t->off;
		} else if (cache_key_end(t) > e) {
			delta = e - t->off;
			t->off = e;
			t->seg_off += delta;
			t->len -= delta;
		} else {
			rb_erase(&t->node, &st->root);
			if (pooled)
				cache_key_free(cache, t);
		}
		t = next;
	}
	cache_key_link(st, key);
}

/* cache_key_insert_at() with the lookup done here. */
void cache_key_insert_tree(struct pcache_cache *cache, struct cache_subtree *st,
			   struct pcache_key *key, struct pcache_key **spare, bool pooled)
{
	struct rb_node *parent, **link;
	struct pcache_key *t = cache_key_find(st, key->off, &parent, &link);

	cache_key_insert_at(cache, st, key, t, parent, link, spare, pooled);
}

/* True if no entry (valid or stale) overlaps [off, off + len). */
bool cache_range_empty(struct cache_subtree *st, u64 off, u32 len)
{
	struct pcache_key *t = cache_key_first_after(st, off);

	return !t || t->off >= off + len;
}

void cache_index_destroy(struct pcache_cache *cache)
{
	struct pcache_key *key, *tmp;
	u32 i;

	if (!cache->subtrees)
		return;
	for (i = 0; i < cache->n_subtrees; i++) {
		rbtree_postorder_for_each_entry_safe(key, tmp, &cache->subtrees[i].root, node)
			cache_key_free(cache, key);
		cache->subtrees[i].root = RB_ROOT;
	}
}

/* Drop index entries of reclaimed segments, a few under each lock hold. */
void cache_clean_fn(struct work_struct *work)
{
	struct pcache_cache *cache = container_of(work, struct pcache_cache, clean_work);
	struct cache_subtree *st;
	struct pcache_key *key;
	struct rb_node *n;
	u64 pos;
	u32 i, batch;

	for (i = 0; i < cache->n_subtrees; i++) {
		st = &cache->subtrees[i];
		pos = 0;
		do {
			batch = 0;
			spin_lock(&st->lock);
			key = cache_key_first_after(st, pos);
			while (key && batch < 64) {
				n = rb_next(&key->node);
				pos = cache_key_end(key);
				if (cache_key_stale(cache, key)) {
					rb_erase(&key->node, &st->root);
					cache_key_free(cache, key);
					st->eseq++;
				}
				key = n ? rb_entry(n, struct pcache_key, node) : NULL;
				batch++;
			}
			spin_unlock(&st->lock);
			cond_resched();
		} while (key);
	}
}

/* ---- key log ---- */

/* New cache: the log starts at offset 0 of cache segment 0. */
void cache_log_init(struct pcache_cache *cache)
{
	memcpy_flushcache(cache_data_addr(cache, 0, 0), &cache_zero_kset, PCACHE_KSET_HDR_SIZE);
	pmem_wmb();
	cache->key_head.seg = 0;
	cache->key_head.off = 0;
}

/*
 * Make room for @size bytes at key_head, plus the header that must follow.
 * If the key segment is full, chain a new one: zero header at its start,
 * then a LAST kset pointing to it at the head. Caller holds log_lock.
 */
static int cache_log_reserve(struct pcache_cache *cache, u32 size)
{
	struct cache_pos *head = &cache->key_head;
	struct pcache_kset_onmedia last = { };
	u32 limit = READ_ONCE(key_seg_limit);
	int seg;

	limit = limit ? clamp_t(u32, limit, 2 * PCACHE_KSET_SIZE_MAX, PCACHE_SEG_DATA_SIZE) :
		PCACHE_SEG_DATA_SIZE;

	if (head->off + size + PCACHE_KSET_HDR_SIZE <= limit)
		return 0;

	seg = cache_seg_alloc(cache, CACHE_SEG_KEY, 0);
	if (seg < 0)
		return seg;
	memcpy_flushcache(cache_data_addr(cache, seg, 0), &cache_zero_kset, PCACHE_KSET_HDR_SIZE);
	pmem_wmb();

	last.magic = cpu_to_le64(PCACHE_KSET_MAGIC);
	last.flags = cpu_to_le16(PCACHE_KSET_F_LAST);
	last.next_cache_seg = cpu_to_le32(seg);
	last.gen_stamp = cache_kset_stamp(cache, head->seg);
	last.crc = cpu_to_le32(pcache_crc((void *)&last + 4, sizeof(last) - 4));
	memcpy_flushcache(cache_data_addr(cache, head->seg, head->off), &last, sizeof(last));
	pmem_wmb();

	head->seg = seg;
	head->off = 0;
	atomic64_inc(&cache->key_segs);
	return 0;
}

/* Write the open kset to the log. Caller holds kset->lock. */
static int cache_kset_persist_locked(struct cache_kset *kset)
{
	struct pcache_cache *cache = kset->cache;
	struct pcache_kset_onmedia *hdr = kset->buf;
	u32 size = PCACHE_KSET_HDR_SIZE + kset->nr * PCACHE_KEY_SIZE;
	void *dst;
	int ret;

	if (!kset->nr)
		return 0;

	hdr->key_num = cpu_to_le16(kset->nr);
	hdr->flags = 0;
	hdr->magic = cpu_to_le64(PCACHE_KSET_MAGIC);
	hdr->next_cache_seg = 0;
	/* sealed for the current key segment; resealed below if the log moves on */
	hdr->gen_stamp = cache_kset_stamp(cache, READ_ONCE(cache->key_head.seg));
	hdr->crc = cpu_to_le32(pcache_crc((void *)hdr + 4, size - 4));

	spin_lock(&cache->log_lock);
	ret = cache_log_reserve(cache, size);
	if (ret) {
		spin_unlock(&cache->log_lock);
		if (!cache->log_err_logged)
			pcache_warn("%s: key log full, ksets wait for GC", cache->name);
		cache->log_err_logged = true;
		return ret;
	}
	if (hdr->gen_stamp != cache_kset_stamp(cache, cache->key_head.seg)) {
		hdr->gen_stamp = cache_kset_stamp(cache, cache->key_head.seg);
		hdr->crc = cpu_to_le32(pcache_crc((void *)hdr + 4, size - 4));
	}
	dst = cache_data_addr(cache, cache->key_head.seg, cache->key_head.off);
	memcpy_flushcache(dst + size, &cache_zero_kset, PCACHE_KSET_HDR_SIZE);
	pmem_wmb();
	memcpy_flushcache(dst, hdr, size);
	pmem_wmb();
	cache->key_head.off += size;
	spin_unlock(&cache->log_lock);

	atomic64_add(kset->dirty_keys, &cache->dirty_keys);
	atomic64_add(kset->dirty_bytes, &cache->dirty_bytes);
	kset->nr = 0;
	kset->dirty_keys = 0;
	kset->dirty_bytes = 0;
	cache_writeback_nudge(cache);
	return 0;
}

int cache_kset_persist(struct cache_kset *kset)
{
	int ret;

	spin_lock(&kset->lock);
	ret = cache_kset_persist_locked(kset);
	spin_unlock(&kset->lock);
	return ret;
}

int cache_ksets_persist_all(struct pcache_cache *cache)
{
	int ret = 0, r;
	u32 i;

	for (i = 0; i < cache->n_ksets; i++) {
		r = cache_kset_persist(&cache->ksets[i]);
		if (r && !ret)
			ret = r;
	}
	return ret;
}

void cache_kset_flush_fn(struct work_struct *work)
{
	struct cache_kset *kset = container_of(to_delayed_work(work), struct cache_kset,
					       flush_work);

	if (cache_kset_persist(kset)) {
		/* key log full: GC runs (free_segs is 0, above any gc_percent) */
		cache_writeback_kick(kset->cache);
		cache_gc_kick(kset->cache);
		queue_delayed_work(kset->cache->wq, &kset->flush_work, HZ / 10);
	}
}

static void cache_key_encode(const struct pcache_key *key, struct pcache_key_onmedia *k)
{
	k->off = cpu_to_le64(key->off);
	k->len = cpu_to_le32(key->len);
	k->flags = cpu_to_le32(key->flags & CACHE_KEY_F_CLEAN ? PCACHE_KEY_F_CLEAN : 0);
	k->cache_seg = cpu_to_le32(key->seg);
	k->cache_seg_off = cpu_to_le32(key->seg_off);
	k->seg_gen = cpu_to_le64(key->seg_gen);
	k->data_crc = cpu_to_le32(key->data_crc);
	k->reserved = 0;
}

/*
 * cache_key_commit - insert @key into the index and log it, atomically
 * with respect to other keys of the same 4 MiB region (same subtree, same
 * kset), so the log order of overlapping keys is their index order.
 * Caller holds st->lock. @key's crc fields must be set; @spare as for
 * cache_key_insert(), but it may point to NULL: most writes split nothing,
 * so callers allocate a spare only when asked to.
 * Return: 0; -EAGAIN if @key would split an entry and *@spare is NULL;
 * -ENOSPC if the kset is full and the key log has no room (wait for space).
 * Nothing was changed on either error; retry.
 */
int cache_key_commit(struct pcache_cache *cache, struct cache_subtree *st,
		     struct pcache_key *key, struct pcache_key **spare, bool dirty)
{
	struct rb_node *parent, **link;
	struct pcache_key *t = cache_key_find(st, key->off, &parent, &link);
	struct cache_kset *kset;
	struct pcache_key_onmedia *k;

	if (!*spare && t && t->off < key->off && cache_key_end(t) > cache_key_end(key))
		return -EAGAIN;
	kset = &cache->ksets[(key->off >> PCACHE_SUBTREE_SHIFT) % cache->n_ksets];
	spin_lock(&kset->lock);
	if (kset->nr == PCACHE_KSET_KEYS_MAX && cache_kset_persist_locked(kset)) {
		spin_unlock(&kset->lock);
		return -ENOSPC;
	}
	k = (void *)kset->buf + PCACHE_KSET_HDR_SIZE + kset->nr * PCACHE_KEY_SIZE;
	cache_key_encode(key, k);
	/* t still holds: nothing changed the tree under st->lock */
	cache_key_insert_at(cache, st, key, t, parent, link, spare, true);
	kset->nr++;
	if (dirty) {
		kset->dirty_keys++;
		kset->dirty_bytes += key->len;
	}
	if (kset->nr == PCACHE_KSET_KEYS_MAX)
		cache_kset_persist_locked(kset);	/* on failure: retried */
	else if (kset->nr == 1)
		queue_delayed_work(cache->wq, &kset->flush_work, PCACHE_KSET_FLUSH_DELAY);
	spin_unlock(&kset->lock);
	return 0;
}

/* A sealed kset with flags this module does not know: a newer format, not a torn write. */
static int cache_kset_flags_known(const struct pcache_kset_onmedia *hdr)
{
	return le16_to_cpu(hdr->flags) & ~PCACHE_KSET_F_LAST ? -EOPNOTSUPP : 0;
}

/*
 * cache_kset_read - read and check the kset at @pos into @buf
 * (PCACHE_KSET_SIZE_MAX bytes) with machine-check-safe copies.
 * Everything comes from pmem: magic, key_num and CRC are checked here,
 * the keys themselves by cache_key_decode().
 * Return: 0; -ENOENT at the end of the log (the all-zero header written
 * ahead of every kset); -EBADMSG for a torn or corrupt kset (anything else
 * that fails magic, key_num or CRC); -ESTALE for a sealed kset whose
 * gen_stamp is not its segment's generation (left by an earlier use of the
 * segment); -EOPNOTSUPP for a sealed kset of this generation with flags
 * this module does not know; -EIO on a media error; -ERANGE for a bad @pos.
 */
int cache_kset_read(struct pcache_cache *cache, const struct cache_pos *pos, void *buf)
{
	struct pcache_kset_onmedia *hdr = buf;
	u32 nr, size;
	void *src;

	if (pos->seg >= cache->n_segs || pos->off % 8 ||
	    pos->off > PCACHE_SEG_DATA_SIZE - PCACHE_KSET_HDR_SIZE)
		return -ERANGE;
	src = cache_data_addr(cache, pos->seg, pos->off);
	if (copy_mc_to_kernel(hdr, src, PCACHE_KSET_HDR_SIZE))
		return -EIO;
	if (le64_to_cpu(hdr->magic) != PCACHE_KSET_MAGIC)
		return memchr_inv(hdr, 0, PCACHE_KSET_HDR_SIZE) ? -EBADMSG : -ENOENT;
	if (le16_to_cpu(hdr->flags) & PCACHE_KSET_F_LAST) {
		if (hdr->key_num ||
		    le32_to_cpu(hdr->crc) != pcache_crc(buf + 4, PCACHE_KSET_HDR_SIZE - 4))
			return -EBADMSG;
		if (hdr->gen_stamp != cache_kset_stamp(cache, pos->seg))
			return -ESTALE;
		return cache_kset_flags_known(hdr);
	}
	nr = le16_to_cpu(hdr->key_num);
	if (!nr || nr > PCACHE_KSET_KEYS_MAX)
		return -EBADMSG;
	size = PCACHE_KSET_HDR_SIZE + nr * PCACHE_KEY_SIZE;
	if (pos->off + size > PCACHE_SEG_DATA_SIZE - PCACHE_KSET_HDR_SIZE)
		return -EBADMSG;
	if (copy_mc_to_kernel(buf + PCACHE_KSET_HDR_SIZE, src + PCACHE_KSET_HDR_SIZE,
			      size - PCACHE_KSET_HDR_SIZE))
		return -EIO;
	if (le32_to_cpu(hdr->crc) != pcache_crc(buf + 4, size - 4))
		return -EBADMSG;
	if (hdr->gen_stamp != cache_kset_stamp(cache, pos->seg))
		return -ESTALE;
	return cache_kset_flags_known(hdr);
}

/*
 * cache_kset_find_after - look for a kset of this log behind its end.
 * @from: where the log ended (a zero, damaged or foreign header).
 * @buf:  PCACHE_KSET_SIZE_MAX bytes for the candidate kset.
 * @found: receives the position of the first one.
 *
 * Scans the data area of key segment @from->seg after @from->off, in page
 * sized machine-check-safe copies, for the kset magic at 8-byte aligned
 * positions; each candidate must pass cache_kset_read() with a matching
 * gen_stamp (unknown flags included: it is sealed). The log never leaves
 * such a kset behind its end (each kset is written after the zero header
 * that follows it, and the generation changes whenever the segment is
 * reused), so finding one means the log is damaged in the middle.
 * A chunk that cannot be read is skipped with a warning.
 * Return: 0 with *@found set, or -ENOENT when nothing of this log follows.
 */
int cache_kset_find_after(struct pcache_cache *cache, const struct cache_pos *from, void *buf,
			  struct cache_pos *found)
{
	struct page *page = mempool_alloc(cache->page_pool, GFP_KERNEL);
	const __le64 *w = page_address(page);
	const __le64 magic = cpu_to_le64(PCACHE_KSET_MAGIC);
	const u32 magic_off = offsetof(struct pcache_kset_onmedia, magic);
	/* the magic of the first candidate, one header slot after @from */
	u32 off = from->off + 8 + magic_off, n, i;
	struct cache_pos cand = { .seg = from->seg };
	bool warned = false;
	int ret = -ENOENT, r;

	BUILD_BUG_ON(PCACHE_KSET_HDR_SIZE % 8 || PCACHE_KEY_SIZE % 8 || PCACHE_SEG_DATA_SIZE % 8);
	/* candidates too close to the end are refused by cache_kset_read() */
	while (off < PCACHE_SEG_DATA_SIZE) {
		n = min_t(u32, PAGE_SIZE, PCACHE_SEG_DATA_SIZE - off);
		if (copy_mc_to_kernel(page_address(page), cache_data_addr(cache, from->seg, off), n)) {
			if (!warned)
				pcache_warn("%s: replay: media error in key segment %u at offset %u behind the log end, skipped",
					    cache->name, from->seg, off);
			warned = true;
			off += n;
			continue;
		}
		for (i = 0; i < n / 8; i++) {
			if (w[i] != magic)
				continue;
			cand.off = off + i * 8 - magic_off;
			r = cache_kset_read(cache, &cand, buf);
			if (r == 0 || r == -EOPNOTSUPP) {
				*found = cand;
				ret = 0;
				goto out;
			}
		}
		off += n;
		cond_resched();
	}
out:
	mempool_free(page, cache->page_pool);
	return ret;
}

/*
 * cache_key_decode - bound a key read from pmem and turn it into an entry.
 * Return: false if any field is out of range (the key must be ignored).
 */
bool cache_key_decode(struct pcache_cache *cache, const struct pcache_key_onmedia *k,
		      struct pcache_key *key)
{
	u64 off = le64_to_cpu(k->off);
	u32 len = le32_to_cpu(k->len);
	u32 flags = le32_to_cpu(k->flags);
	u32 seg = le32_to_cpu(k->cache_seg);
	u32 seg_off = le32_to_cpu(k->cache_seg_off);

	if (seg >= cache->n_segs || !len || len % SECTOR_SIZE || off % SECTOR_SIZE ||
	    seg_off % SECTOR_SIZE || flags & ~PCACHE_KEY_F_CLEAN ||
	    seg_off > PCACHE_SEG_DATA_SIZE || len > PCACHE_SEG_DATA_SIZE - seg_off ||
	    off >= cache->dev_size || len > cache->dev_size - off ||
	    (off >> PCACHE_SUBTREE_SHIFT) != ((off + len - 1) >> PCACHE_SUBTREE_SHIFT))
		return false;

	key->off = off;
	key->len = len;
	key->flags = flags & PCACHE_KEY_F_CLEAN ? CACHE_KEY_F_CLEAN : 0;
	key->seg = seg;
	key->seg_off = seg_off;
	key->seg_gen = le64_to_cpu(k->seg_gen);
	key->crc_off = seg_off;
	key->crc_len = len;
	key->data_crc = le32_to_cpu(k->data_crc);
	return true;
}
