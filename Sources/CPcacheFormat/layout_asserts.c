// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* Compiles the layout's static assertions into the Swift build as well. */
#include "pcache_format.h"
