// SPDX-License-Identifier: GPL-2.0
/*
 * logic_dev.c - /dev/pcacheN, the blk-mq disk in front of a backing device.
 *
 * Requests go to the cache engine when one runs (backing_dev->cache), else
 * straight to the backing device: the request's own pages are mapped into
 * bios, nothing is copied. The tag set is BLK_MQ_F_BLOCKING because the
 * engine copies data synchronously and may wait for cache space in
 * queue_rq. Write cache and FUA are advertised so that flushes and FUA
 * writes reach the driver instead of being dropped by the block layer.
 */
#include <linux/idr.h>
#include <linux/major.h>
#include <linux/moduleparam.h>
#include <linux/random.h>

#include "pcache_internal.h"
#include "cache.h"

#define LOGIC_DEV_MINORS	16
#define LOGIC_DEV_QUEUE_DEPTH	128
#define LOGIC_DEV_MAX_SECTORS	2048		/* 1 MiB */

static int logic_dev_major;
static DEFINE_IDA(logic_dev_ida);

/*
 * Testing knob for the passthrough path: issue each request as up to this
 * many backing_dev_rq_io() calls over random 512 B-aligned sub-ranges, the
 * way the cache engine does for misses and partial hits.
 */
static unsigned int passthrough_split;
module_param(passthrough_split, uint, 0644);
MODULE_PARM_DESC(passthrough_split,
		 "testing: split each passthrough request into up to N random sub-ranges (0 = off, max 16)");

#define LOGIC_DEV_SPLIT_MAX	16

/* Per-request data of the passthrough path (the engine uses the same space its own way). */
struct logic_dev_pdu {
	atomic_t	remaining;
	blk_status_t	status;
};

static int logic_dev_open(struct gendisk *disk, blk_mode_t mode)
{
	struct pcache_logic_dev *logic_dev = &((struct pcache_backing_dev *)disk->private_data)->logic_dev;
	int ret = 0;

	spin_lock(&logic_dev->open_lock);
	if (logic_dev->closing)
		ret = -ENXIO;
	else
		atomic_inc(&logic_dev->open_count);
	spin_unlock(&logic_dev->open_lock);
	return ret;
}

static void logic_dev_release(struct gendisk *disk)
{
	struct pcache_logic_dev *logic_dev = &((struct pcache_backing_dev *)disk->private_data)->logic_dev;

	atomic_dec(&logic_dev->open_count);
}

static const struct block_device_operations logic_dev_fops = {
	.owner		= THIS_MODULE,
	.open		= logic_dev_open,
	.release	= logic_dev_release,
};

static void logic_dev_rq_done(void *priv, blk_status_t status)
{
	blk_mq_end_request(priv, status);
}

static void logic_dev_piece_done(void *priv, blk_status_t status)
{
	struct request *rq = priv;
	struct logic_dev_pdu *pdu = blk_mq_rq_to_pdu(rq);

	if (status)
		cmpxchg(&pdu->status, BLK_STS_OK, status);
	if (atomic_dec_and_test(&pdu->remaining))
		blk_mq_end_request(rq, READ_ONCE(pdu->status));
}

static void logic_dev_rq_io_split(struct pcache_backing_dev *backing_dev, struct request *rq,
				  unsigned int max_pieces)
{
	struct logic_dev_pdu *pdu = blk_mq_rq_to_pdu(rq);
	u32 len[LOGIC_DEV_SPLIT_MAX];
	u32 left = blk_rq_bytes(rq) >> SECTOR_SHIFT, off = 0;
	unsigned int n = 0, i;

	max_pieces = min(max_pieces, LOGIC_DEV_SPLIT_MAX);
	while (left) {
		len[n] = n + 1 == max_pieces ? left : 1 + get_random_u32_below(left);
		left -= len[n++];
	}
	pdu->status = BLK_STS_OK;
	atomic_set(&pdu->remaining, n);
	for (i = 0; i < n; i++) {
		backing_dev_rq_io(backing_dev, rq, off << SECTOR_SHIFT, len[i] << SECTOR_SHIFT,
				  logic_dev_piece_done, rq);
		off += len[i];
	}
}

static blk_status_t logic_dev_queue_rq(struct blk_mq_hw_ctx *hctx,
				       const struct blk_mq_queue_data *bd)
{
	struct pcache_backing_dev *backing_dev = hctx->queue->queuedata;
	struct request *rq = bd->rq;

	blk_mq_start_request(rq);
	if (backing_dev->cache)
		return pcache_cache_queue_rq(backing_dev->cache, rq);

	switch (req_op(rq)) {
	case REQ_OP_FLUSH:
		backing_dev_flush_async(backing_dev, logic_dev_rq_done, rq);
		return BLK_STS_OK;
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		if (READ_ONCE(passthrough_split) > 1)
			logic_dev_rq_io_split(backing_dev, rq, READ_ONCE(passthrough_split));
		else
			backing_dev_rq_io(backing_dev, rq, 0, blk_rq_bytes(rq), logic_dev_rq_done,
					  rq);
		return BLK_STS_OK;
	default:
		return BLK_STS_NOTSUPP;
	}
}

static const struct blk_mq_ops logic_dev_mq_ops = {
	.queue_rq	= logic_dev_queue_rq,
};

int logic_dev_start(struct pcache_backing_dev *backing_dev)
{
	struct pcache_logic_dev *logic_dev = &backing_dev->logic_dev;
	struct queue_limits lim = {
		.logical_block_size	= SECTOR_SIZE,
		.physical_block_size	= 4096,
		.io_min			= 4096,
		.io_opt			= 4096,
		.max_hw_sectors		= LOGIC_DEV_MAX_SECTORS,
		.features		= BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA,
	};
	struct gendisk *disk;
	int ret;

	ret = ida_alloc_max(&logic_dev_ida, (MINORMASK + 1) / LOGIC_DEV_MINORS - 1, GFP_KERNEL);
	if (ret < 0)
		return ret;
	logic_dev->mapped_id = ret;
	atomic_set(&logic_dev->open_count, 0);
	logic_dev->closing = false;

	logic_dev->tag_set.ops = &logic_dev_mq_ops;
	logic_dev->tag_set.nr_hw_queues = le32_to_cpu(backing_dev->info.queues);
	logic_dev->tag_set.queue_depth = LOGIC_DEV_QUEUE_DEPTH;
	logic_dev->tag_set.numa_node = NUMA_NO_NODE;
	logic_dev->tag_set.flags = BLK_MQ_F_SHOULD_MERGE | BLK_MQ_F_BLOCKING;
	logic_dev->tag_set.cmd_size = max(sizeof(struct logic_dev_pdu), pcache_cache_rq_pdu_size());
	logic_dev->tag_set.driver_data = backing_dev;
	ret = blk_mq_alloc_tag_set(&logic_dev->tag_set);
	if (ret)
		goto free_id;

	disk = blk_mq_alloc_disk(&logic_dev->tag_set, &lim, backing_dev);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto free_tag_set;
	}
	disk->major = logic_dev_major;
	disk->first_minor = logic_dev->mapped_id * LOGIC_DEV_MINORS;
	disk->minors = LOGIC_DEV_MINORS;
	disk->fops = &logic_dev_fops;
	disk->private_data = backing_dev;
	snprintf(disk->disk_name, DISK_NAME_LEN, "pcache%d", logic_dev->mapped_id);
	set_capacity(disk, backing_dev->dev_sectors);
	logic_dev->disk = disk;

	ret = add_disk(disk);
	if (ret)
		goto put_disk;
	return 0;

put_disk:
	put_disk(disk);
	logic_dev->disk = NULL;
free_tag_set:
	blk_mq_free_tag_set(&logic_dev->tag_set);
free_id:
	ida_free(&logic_dev_ida, logic_dev->mapped_id);
	return ret;
}

/* Refuse new opens; -EBUSY (and nothing changed) while the disk is open. */
int logic_dev_close(struct pcache_backing_dev *backing_dev)
{
	struct pcache_logic_dev *logic_dev = &backing_dev->logic_dev;
	int ret = 0;

	spin_lock(&logic_dev->open_lock);
	if (atomic_read(&logic_dev->open_count))
		ret = -EBUSY;
	else
		logic_dev->closing = true;
	spin_unlock(&logic_dev->open_lock);
	return ret;
}

/* del_gendisk() waits for every request in flight to complete. */
void logic_dev_stop(struct pcache_backing_dev *backing_dev)
{
	struct pcache_logic_dev *logic_dev = &backing_dev->logic_dev;

	del_gendisk(logic_dev->disk);
	put_disk(logic_dev->disk);
	logic_dev->disk = NULL;
	blk_mq_free_tag_set(&logic_dev->tag_set);
	ida_free(&logic_dev_ida, logic_dev->mapped_id);
}

int logic_dev_init(void)
{
	logic_dev_major = register_blkdev(0, "pcache");
	return logic_dev_major < 0 ? logic_dev_major : 0;
}

void logic_dev_exit(void)
{
	unregister_blkdev(logic_dev_major, "pcache");
	ida_destroy(&logic_dev_ida);
}
