/*
 * Lists of objects in order of last activity.
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
timer_list_init(struct timer_list *l)
{
	l->tl_head.tn_prev = l->tl_head.tn_next = &l->tl_head;
	l->tl_count = 0;
}

void
timer_remove(struct timer_list *l, struct timer_node *n)
{
	if (n->tn_prev == NULL)
		return;
	n->tn_prev->tn_next = n->tn_next;
	n->tn_next->tn_prev = n->tn_prev;
	n->tn_prev = n->tn_next = NULL;
	l->tl_count--;
}

void
timer_touch(struct timer_list *l, struct timer_node *n, uint64_t now)
{
	n->tn_last = now;
	if (n->tn_next == &l->tl_head)
		return;		/* already the newest */
	if (n->tn_prev != NULL) {
		n->tn_prev->tn_next = n->tn_next;
		n->tn_next->tn_prev = n->tn_prev;
	} else
		l->tl_count++;
	n->tn_prev = l->tl_head.tn_prev;
	n->tn_next = &l->tl_head;
	l->tl_head.tn_prev->tn_next = n;
	l->tl_head.tn_prev = n;
}

struct timer_node *
timer_oldest(struct timer_list *l)
{
	return l->tl_head.tn_next == &l->tl_head ? NULL : l->tl_head.tn_next;
}

struct timer_node *
timer_next(struct timer_list *l, struct timer_node *n)
{
	return n->tn_next == &l->tl_head ? NULL : n->tn_next;
}
