// SPDX-License-Identifier: GPL-2.0
/*
 * backing_record.c - the backing records on the cache device: reading and
 * bounding them, finding the record of a disk being started whatever name
 * it has now, a forced takeover, forgetting a record, and the
 * backing_records listing. The record index is the backing id. States:
 * RUNNING with INIT_DONE (started, or stopped uncleanly: its chain was
 * claimed at register and is replayed), RUNNING without INIT_DONE (the
 * engine never initialised the chain: nothing in pmem, a new cache),
 * CACHED (stopped with the cache kept: replayed, warm) or STOPPED (stopped
 * with flush=1: the cache starts empty on a newly allocated chain of the
 * recorded size). Only the device layer writes records, under
 * cache_dev->lock.
 */
#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "pcache_internal.h"
#include "backing_record.h"

/* ---- backing records ---- */

void backing_dev_info_write(struct pcache_backing_dev *backing_dev)
{
	lockdep_assert_held(&backing_dev->info_lock);
	pcache_meta_write(cache_dev_backing_slot0(backing_dev->cache_dev, backing_dev->id),
			  PCACHE_SLOT_SIZE, sizeof(backing_dev->info), &backing_dev->info,
			  &backing_dev->info_slot);
}

/**
 * backing_record_read - read a backing record.
 * @cache_dev: the cache device.
 * @backing_id: record index.
 * @rec: receives the newest valid copy.
 * @slot: receives its slot.
 *
 * Both copies invalid and all zero (never written) reads as a FREE record
 * with *@slot = -1. Both copies invalid otherwise, or a media error, is
 * damage: -EINVAL or -EIO, logged.
 */
int backing_record_read(struct pcache_cache_dev *cache_dev, u32 backing_id,
			struct pcache_backing_onmedia *rec, int *slot)
{
	void *slot0 = cache_dev_backing_slot0(cache_dev, backing_id);
	int ret, i;

	ret = pcache_meta_find_latest(slot0, PCACHE_SLOT_SIZE, sizeof(*rec), rec, slot);
	if (ret != -ENOENT) {
		if (ret)
			cache_dev_err(cache_dev, "backing record %u: media error (%d)", backing_id,
				      ret);
		return ret;
	}
	for (i = 0; i < PCACHE_META_COPIES; i++) {
		if (copy_mc_to_kernel(rec, slot0 + i * PCACHE_SLOT_SIZE, sizeof(*rec)) ||
		    memchr_inv(rec, 0, sizeof(*rec))) {
			cache_dev_err(cache_dev, "backing record %u: both copies damaged (crc mismatch); run 'pcachectl check'",
				      backing_id);
			return -EINVAL;
		}
	}
	memset(rec, 0, sizeof(*rec));
	*slot = -1;
	return 0;
}

/* Bound every field of a valid-crc record before anything trusts it. */
int backing_record_check(struct pcache_cache_dev *cache_dev, u32 backing_id,
			 const struct pcache_backing_onmedia *rec)
{
	u32 state = le32_to_cpu(rec->state);
	u32 segs = le32_to_cpu(rec->cache_segs);
	u32 queues = le32_to_cpu(rec->queues);
	const char *why = NULL;

	if (state == PCACHE_BACKING_STATE_FREE)
		return 0;
	if (state > PCACHE_BACKING_STATE_CACHED)
		why = "unknown state";
	else if (state == PCACHE_BACKING_STATE_CACHED &&
		 !(le32_to_cpu(rec->flags) & PCACHE_BACKING_F_INIT_DONE))
		why = "cached record without an initialised cache";
	else if (le32_to_cpu(rec->backing_id) != backing_id)
		why = "backing_id does not match the record index";
	else if (le32_to_cpu(rec->flags) & ~(PCACHE_BACKING_F_DATA_CRC | PCACHE_BACKING_F_INIT_DONE))
		why = "unknown flags";
	else if (le32_to_cpu(rec->gc_percent) > PCACHE_GC_PERCENT_MAX)
		why = "gc_percent out of range";
	else if (queues < 1 || queues > PCACHE_QUEUES_MAX)
		why = "queues out of range";
	else if (segs < 1 || segs > cache_dev->seg_num)
		why = "cache_segs out of range";
	else if (!memchr(rec->path, 0, sizeof(rec->path)) || strncmp(rec->path, "/dev/", 5))
		why = "path is not a NUL-terminated /dev/ path";
	else if (!memchr(rec->ident, 0, sizeof(rec->ident)))
		why = "ident is not NUL-terminated";
	if (!why)
		return 0;

	cache_dev_err(cache_dev, "backing record %u: %s (state %u flags 0x%x gc_percent %u queues %u cache_segs %u); run 'pcachectl check'",
		      backing_id, why, state, le32_to_cpu(rec->flags),
		      le32_to_cpu(rec->gc_percent), queues, segs);
	return -EINVAL;
}


/*
 * How record @rec (index @id) relates to the disk being started (@o, opened
 * as @devt): 2 if it is that disk's record (its ident equals the given one,
 * or the disk was the last one started on it since register, or its path
 * names the disk now and no ident contradicts it), 1 if only its path names
 * the disk while its ident names another one, 0 if unrelated. A path names
 * the disk when it is the same string or resolves to the same device number.
 */
static int backing_record_relation(struct pcache_cache_dev *cache_dev, u32 id,
				   const struct pcache_backing_onmedia *rec,
				   const struct backing_start_opts *o, dev_t devt, bool *by_name)
{
	bool both_idents = o->ident && rec->ident[0];
	bool same_ident = both_idents && !strcmp(o->ident, rec->ident);
	dev_t rec_devt;

	*by_name = !strncmp(rec->path, o->path, sizeof(rec->path)) ||
		   (!lookup_bdev(rec->path, &rec_devt) && rec_devt == devt);
	if (same_ident)
		return 2;
	if (both_idents)
		return *by_name ? 1 : 0;
	if (cache_dev->rec_devt[id] && cache_dev->rec_devt[id] == devt)
		return 2;
	return *by_name ? 2 : 0;
}

/*
 * The record of the disk being started, whatever name it is started under:
 * the one record related to it (backing_record_relation(), a record of this
 * disk preferred to one whose path only names it), else the first FREE one
 * (m->found = false). A disk related to two records is refused, naming both.
 * Records were validated at register and only this file writes them since,
 * under cache_dev->lock.
 */
int backing_record_lookup(struct pcache_cache_dev *cache_dev, const char *obj,
				 const struct backing_start_opts *o, dev_t devt,
				 struct pcache_backing_onmedia *rec, int *slot,
				 struct backing_match *m)
{
	struct pcache_backing_onmedia *cur;
	int free_id = -1, best = -1, best_rel = 0, dup = -1, rel, cur_slot, ret = 0;
	bool by_name;
	u32 i;

	cur = kmalloc(sizeof(*cur), GFP_KERNEL);
	if (!cur)
		return -ENOMEM;
	for (i = 0; i < PCACHE_BACKING_MAX; i++) {
		ret = backing_record_read(cache_dev, i, cur, &cur_slot);
		if (ret)
			goto out;
		if (le32_to_cpu(cur->state) == PCACHE_BACKING_STATE_FREE) {
			if (free_id < 0)
				free_id = i;
			continue;
		}
		rel = backing_record_relation(cache_dev, i, cur, o, devt, &by_name);
		if (!rel || rel < best_rel)
			continue;
		if (rel == best_rel) {
			if (dup < 0)
				dup = i;
			continue;
		}
		best = i;
		best_rel = rel;
		dup = -1;
		*rec = *cur;
		*slot = cur_slot;
		m->id = i;
		m->by_name = by_name;
	}
	if (dup >= 0) {
		ret = backing_record_read(cache_dev, dup, cur, &cur_slot);
		if (ret)
			goto out;
		pcache_err("%s: %s matches two backing records: backing_dev%d (path %s ident '%s') and backing_dev%d (path %s ident '%s'); forget the stale one ('pcachectl backing forget')",
			   obj, o->path, best, rec->path, rec->ident, dup, cur->path, cur->ident);
		ret = -EEXIST;
		goto out;
	}
	if (best >= 0) {
		m->found = true;
		goto out;
	}
	if (free_id < 0) {
		pcache_err("%s: all %d backing records are in use", obj, PCACHE_BACKING_MAX);
		ret = -ENOSPC;
		goto out;
	}
	m->id = free_id;
	m->found = false;
	m->by_name = false;
	ret = backing_record_read(cache_dev, free_id, rec, slot);
out:
	kfree(cur);
	return ret;
}

/*
 * Is the disk being started the one @rec was written for? When both sides
 * have an ident it decides; else the device number the record was last
 * started with since register, if any; the size always has to match.
 */
static bool backing_record_same_disk(struct pcache_backing_dev *backing_dev,
				     const struct backing_start_opts *o)
{
	const struct pcache_backing_onmedia *rec = &backing_dev->info;
	dev_t last = backing_dev->cache_dev->rec_devt[backing_dev->id];

	if (le64_to_cpu(rec->dev_sectors) != backing_dev->dev_sectors)
		return false;
	if (o->ident && rec->ident[0])
		return !strcmp(o->ident, rec->ident);
	return !last || last == backing_dev->bdev->bd_dev;
}

/*
 * A forced takeover: the record named another disk. Its cache is dropped
 * (the chain claimed at register released, never replayed, nothing written
 * back) and the record rewritten at once as a STOPPED record of the new disk,
 * so that what follows is an ordinary start of a new, empty cache.
 */
static void backing_record_take_over(struct pcache_backing_dev *backing_dev,
				     const struct backing_start_opts *o)
{
	struct pcache_cache_dev *cache_dev = backing_dev->cache_dev;
	struct pcache_backing_onmedia *rec = &backing_dev->info;
	u32 *chain = cache_dev->chains[backing_dev->id];
	bool unclean = pcache_rec_holds_cache(rec);

	backing_dev_info(backing_dev, "force=1: %s is not the disk of this record (%s, %llu sectors, ident '%s'): its cache is discarded%s, %s starts with a new empty cache",
			 o->path, rec->path, le64_to_cpu(rec->dev_sectors), rec->ident,
			 unclean ? " with any dirty data it held, none of it written to the new disk" : "",
			 o->path);
	if (chain) {
		segment_chain_release(cache_dev, chain, le32_to_cpu(rec->cache_segs));
		kvfree(chain);
		cache_dev->chains[backing_dev->id] = NULL;
	}
	cache_dev->rec_devt[backing_dev->id] = 0;

	rec->state = cpu_to_le32(PCACHE_BACKING_STATE_STOPPED);
	rec->flags = cpu_to_le32(le32_to_cpu(rec->flags) & ~PCACHE_BACKING_F_INIT_DONE);
	if (o->cache_segs)
		rec->cache_segs = cpu_to_le32(o->cache_segs);
	rec->dev_sectors = cpu_to_le64(backing_dev->dev_sectors);
	rec->start_time = cpu_to_le64(ktime_get_real_seconds());
	strscpy(rec->path, o->path, sizeof(rec->path));
	strscpy(rec->ident, o->ident ?: "", sizeof(rec->ident));
	mutex_lock(&backing_dev->info_lock);
	backing_dev_info_write(backing_dev);
	mutex_unlock(&backing_dev->info_lock);
}

int backing_dev_check_record(struct pcache_backing_dev *backing_dev, const char *obj,
				    const struct backing_start_opts *o,
				    const struct backing_match *m)
{
	struct pcache_backing_onmedia *rec = &backing_dev->info;
	bool rec_crc = le32_to_cpu(rec->flags) & PCACHE_BACKING_F_DATA_CRC;
	u64 rec_sectors = le64_to_cpu(rec->dev_sectors);

	if (!m->found) {
		if (!o->cache_segs) {
			pcache_err("%s: cache_size= is required for a new backing device %s", obj,
				   o->path);
			return -EINVAL;
		}
		return 0;
	}
	if (!backing_record_same_disk(backing_dev, o)) {
		if (!o->force) {
			pcache_err("%s: different disk at %s: backing_dev%u recorded %llu sectors ident '%s', found %llu sectors ident '%s' (record path %s); if that disk has another name now start it by that name, or pass force=1 to discard its cache and take the record over",
				   obj, o->path, backing_dev->id, rec_sectors, rec->ident,
				   backing_dev->dev_sectors, o->ident ?: "", rec->path);
			return -EINVAL;
		}
		backing_record_take_over(backing_dev, o);
		return 0;
	}
	if (o->cache_segs && o->cache_segs != le32_to_cpu(rec->cache_segs)) {
		pcache_err("%s: cache_size gives %u segments but backing_dev%u of %s has %u",
			   obj, o->cache_segs, backing_dev->id, o->path,
			   le32_to_cpu(rec->cache_segs));
		return -EINVAL;
	}
	if (pcache_rec_holds_cache(rec) && o->data_crc >= 0 && o->data_crc != rec_crc) {
		pcache_err("%s: data_crc=%d but the cache kept by backing_dev%u was written with data_crc=%d",
			   obj, o->data_crc, backing_dev->id, rec_crc);
		return -EINVAL;
	}
	if (strncmp(rec->path, o->path, sizeof(rec->path))) {
		backing_dev_info(backing_dev, "renamed from %s to %s (same disk: %s)", rec->path,
				 o->path, o->ident && rec->ident[0] ? "same ident" :
				 m->by_name ? "the old name leads to it" : "same device number");
		strscpy(rec->path, o->path, sizeof(rec->path));
	}
	return 0;
}

/*
 * backing-forget: drop a record that is not started, with whatever its
 * cache holds. The chain claimed at register is released (never replayed,
 * nothing written back) and the record written FREE.
 */
int backing_record_forget(struct pcache_cache_dev *cache_dev, const char *obj, u32 id)
{
	struct pcache_backing_onmedia *rec;
	u32 *chain;
	int slot, ret;

	if (id >= PCACHE_BACKING_MAX) {
		pcache_err("%s: backing_id=%u out of range 0..%d", obj, id, PCACHE_BACKING_MAX - 1);
		return -EINVAL;
	}
	if (cache_dev->backings[id]) {
		pcache_err("%s: backing_dev%u is started: stop it before forgetting its record",
			   obj, id);
		return -EBUSY;
	}
	rec = kmalloc(sizeof(*rec), GFP_KERNEL);
	if (!rec)
		return -ENOMEM;
	ret = backing_record_read(cache_dev, id, rec, &slot);
	if (ret)
		goto out;
	if (le32_to_cpu(rec->state) == PCACHE_BACKING_STATE_FREE) {
		pcache_err("%s: backing record %u is free, nothing to forget", obj, id);
		ret = -ENOENT;
		goto out;
	}

	chain = cache_dev->chains[id];
	if (chain) {
		segment_chain_release(cache_dev, chain, le32_to_cpu(rec->cache_segs));
		kvfree(chain);
		cache_dev->chains[id] = NULL;
	}
	cache_dev->rec_devt[id] = 0;
	if (pcache_rec_holds_cache(rec))
		cache_dev_warn(cache_dev, "backing_dev%u: record of %s (ident '%s') forgotten: its cache of %u segments was discarded, any dirty data it held (not written back) is lost",
			       id, rec->path, rec->ident, le32_to_cpu(rec->cache_segs));
	else
		cache_dev_info(cache_dev, "backing_dev%u: record of %s (ident '%s') forgotten: it held no cached data",
			       id, rec->path, rec->ident);

	memset((u8 *)rec + sizeof(rec->header), 0, sizeof(*rec) - sizeof(rec->header));
	rec->state = cpu_to_le32(PCACHE_BACKING_STATE_FREE);
	pcache_meta_write(cache_dev_backing_slot0(cache_dev, id), PCACHE_SLOT_SIZE, sizeof(*rec),
			  rec, &slot);
out:
	kfree(rec);
	return ret;
}

/*
 * Append @str to @buf at @at, escaped: bytes outside '!'..'~', and '\',
 * become \xHH (paths and idents come from pmem or from a writer).
 */
static int backing_emit_escaped(char *buf, int at, const char *str, size_t max)
{
	size_t i;

	for (i = 0; i < max && str[i]; i++) {
		unsigned char c = str[i];

		if (c > ' ' && c < 0x7f && c != '\\')
			at += sysfs_emit_at(buf, at, "%c", c);
		else
			at += sysfs_emit_at(buf, at, "\\x%02x", c);
	}
	return at;
}

static const char *backing_state_name(u32 state)
{
	switch (state) {
	case PCACHE_BACKING_STATE_RUNNING:	return "running";
	case PCACHE_BACKING_STATE_STOPPED:	return "stopped";
	case PCACHE_BACKING_STATE_CACHED:	return "cached";
	default:				return "free";
	}
}

/**
 * backing_records_show - cache_devN/backing_records: one line per record in
 * use, for telling which disks belong to which record.
 * @cache_dev: the cache device.
 * @buf: the sysfs page.
 *
 * "backing_id=M state=running|stopped|cached init_done=0|1 started=0|1
 *  dev=MAJ:MIN dev_sectors=N ident=ESC path=ESC"; dev is the disk started
 * on it, else the last one since register, else 0:0. When the page is full
 * the last line is "truncated".
 */
ssize_t backing_records_show(struct pcache_cache_dev *cache_dev, char *buf)
{
	struct pcache_backing_onmedia *rec;
	int at = 0, slot, ret = 0;
	dev_t devt;
	u32 i, state;

	rec = kmalloc(sizeof(*rec), GFP_KERNEL);
	if (!rec)
		return -ENOMEM;
	/* a stop draining a slow disk holds the lock: a reader may give up */
	if (mutex_lock_interruptible(&cache_dev->lock)) {
		kfree(rec);
		return -EINTR;
	}
	if (cache_dev->dying) {
		ret = -ENODEV;
		goto unlock;
	}
	for (i = 0; i < PCACHE_BACKING_MAX; i++) {
		int start = at;

		ret = backing_record_read(cache_dev, i, rec, &slot);
		if (ret)
			goto unlock;
		state = le32_to_cpu(rec->state);
		if (state == PCACHE_BACKING_STATE_FREE)
			continue;
		devt = cache_dev->backings[i] ? cache_dev->backings[i]->bdev->bd_dev :
						cache_dev->rec_devt[i];
		at += sysfs_emit_at(buf, at, "backing_id=%u state=%s init_done=%u started=%u dev=%u:%u dev_sectors=%llu ident=",
				    i, backing_state_name(state),
				    !!(le32_to_cpu(rec->flags) & PCACHE_BACKING_F_INIT_DONE),
				    !!cache_dev->backings[i], MAJOR(devt), MINOR(devt),
				    le64_to_cpu(rec->dev_sectors));
		at = backing_emit_escaped(buf, at, rec->ident, sizeof(rec->ident));
		at += sysfs_emit_at(buf, at, " path=");
		at = backing_emit_escaped(buf, at, rec->path, sizeof(rec->path));
		at += sysfs_emit_at(buf, at, "\n");
		if (at >= PAGE_SIZE - 16) {
			/* this line may be cut: drop it and say so */
			at = start;
			at += sysfs_emit_at(buf, at, "truncated\n");
			break;
		}
	}
	ret = at;
unlock:
	mutex_unlock(&cache_dev->lock);
	kfree(rec);
	return ret;
}
