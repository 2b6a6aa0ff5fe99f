/* SPDX-License-Identifier: GPL-2.0 */
/*
 * backing_record.h - backing records as backing-start, backing-stop and
 * backing-forget use them (backing_record.c); private to the device layer.
 */
#ifndef PCACHE_BACKING_RECORD_H
#define PCACHE_BACKING_RECORD_H

#include "pcache_internal.h"

struct backing_start_opts {
	const char	*path;
	dev_t		devt;
	const char	*ident;		/* NULL when not given */
	u32		queues;		/* 0 when not given */
	u32		cache_segs;	/* 0 when not given */
	int		data_crc;	/* -1 when not given */
	bool		force;
};

/* How the disk being started relates to a record. */
struct backing_match {
	u32	id;		/* the record (a FREE one when !found) */
	bool	found;
	bool	by_name;	/* the record's path names the disk now */
};

int backing_record_lookup(struct pcache_cache_dev *cache_dev, const char *obj,
			  const struct backing_start_opts *o, dev_t devt,
			  struct pcache_backing_onmedia *rec, int *slot,
			  struct backing_match *m);
int backing_dev_check_record(struct pcache_backing_dev *backing_dev, const char *obj,
			     const struct backing_start_opts *o,
			     const struct backing_match *m);
int backing_record_forget(struct pcache_cache_dev *cache_dev, const char *obj, u32 id);

#endif
