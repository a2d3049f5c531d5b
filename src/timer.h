/*
 * Idle timeouts.  Every connection shares one timeout, so an intrusive
 * list kept in order of last activity is enough: touching moves a node
 * to the tail in O(1), and the head is always the next to expire.
 */
#ifndef ECHOD_TIMER_H
#define ECHOD_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct idle_node {
	struct idle_node	*in_prev, *in_next;	/* NULL: unlinked */
	uint64_t		 in_last;		/* ms, monotonic */
};

struct idle_list {
	struct idle_node	 il_head;		/* sentinel */
};

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t	 timer_now_ms(void);

void		 idle_init(struct idle_list *);
/* Record activity at 'now': (re)link the node at the tail. */
void		 idle_touch(struct idle_list *, struct idle_node *,
		    uint64_t now);
/* Unlink; harmless on an unlinked node. */
void		 idle_remove(struct idle_node *);
/* The least recently active node, or NULL when the list is empty. */
struct idle_node *idle_oldest(struct idle_list *);
/* The node after n in activity order, or NULL at the end. */
struct idle_node *idle_next(struct idle_list *, struct idle_node *);

#endif
