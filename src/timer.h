/*
 * Time, and lists of objects in order of their last activity.
 *
 * Every connection of a worker shares one idle timeout, so a list kept
 * in order of last activity is enough: touching moves a node to the
 * tail in O(1), and the head is always the next to expire.
 */
#ifndef ECHOD_TIMER_H
#define ECHOD_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct timer_node {
	struct timer_node	*tn_prev, *tn_next;	/* NULL: unlinked */
	uint64_t		 tn_last;		/* ms, monotonic */
};

struct timer_list {
	struct timer_node	 tl_head;		/* sentinel */
	unsigned		 tl_count;
};

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t	 timer_now_ms(void);

void		 timer_list_init(struct timer_list *);
/* Record activity at 'now': (re)link the node at the tail of l. */
void		 timer_touch(struct timer_list *l, struct timer_node *,
		    uint64_t now);
/* Unlink from whichever list holds it; harmless on an unlinked node. */
void		 timer_remove(struct timer_list *l, struct timer_node *);
/* The least recently active node, or NULL when the list is empty. */
struct timer_node *timer_oldest(struct timer_list *);
/* The node after n in activity order, or NULL at the end. */
struct timer_node *timer_next(struct timer_list *, struct timer_node *);

#endif
