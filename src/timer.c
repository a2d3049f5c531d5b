/*
 * The idle list: connections in order of last activity.
 */
#include "autoconf.h"

#include <stddef.h>
#include <time.h>

#include "timer.h"

uint64_t
timer_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
idle_init(struct idle_list *l)
{
	l->il_head.in_prev = l->il_head.in_next = &l->il_head;
}

void
idle_remove(struct idle_node *n)
{
	if (n->in_prev == NULL)
		return;
	n->in_prev->in_next = n->in_next;
	n->in_next->in_prev = n->in_prev;
	n->in_prev = n->in_next = NULL;
}

void
idle_touch(struct idle_list *l, struct idle_node *n, uint64_t now)
{
	n->in_last = now;
	if (n->in_next == &l->il_head)
		return;		/* already the newest */
	idle_remove(n);
	n->in_prev = l->il_head.in_prev;
	n->in_next = &l->il_head;
	l->il_head.in_prev->in_next = n;
	l->il_head.in_prev = n;
}

struct idle_node *
idle_oldest(struct idle_list *l)
{
	return l->il_head.in_next == &l->il_head ? NULL : l->il_head.in_next;
}

struct idle_node *
idle_next(struct idle_list *l, struct idle_node *n)
{
	return n->in_next == &l->il_head ? NULL : n->in_next;
}
