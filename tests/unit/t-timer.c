/*
 * Unit tests: a timer list keeps nodes in order of last activity.
 */
#include "autoconf.h"

#include "tap.h"
#include "timer.h"

int
main(void)
{
	struct timer_list	 l;
	struct timer_node	 a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t		 t0, t1;

	timer_list_init(&l);
	ok(timer_oldest(&l) == NULL, "empty list has no oldest");
	timer_touch(&l, &a, 10);
	timer_touch(&l, &b, 20);
	timer_touch(&l, &c, 30);
	ok(timer_oldest(&l) == &a, "oldest is the first touched");
	ok(timer_next(&l, &a) == &b && timer_next(&l, &b) == &c &&
	    timer_next(&l, &c) == NULL, "order a, b, c");
	timer_touch(&l, &a, 40);
	ok(timer_oldest(&l) == &b, "touching a moves it to the end");
	is_int(a.tn_last, 40, "touch records the time");
	timer_touch(&l, &a, 50);
	ok(timer_next(&l, &c) == &a && timer_next(&l, &a) == NULL,
	    "touching the newest again keeps it last");
	timer_remove(&l, &b);
	ok(timer_oldest(&l) == &c, "remove the oldest: next one is oldest");
	timer_remove(&l, &b);
	ok(b.tn_prev == NULL, "removing twice is harmless");
	timer_remove(&l, &c);
	timer_remove(&l, &a);
	ok(timer_oldest(&l) == NULL, "empty after removing all");
	is_int(l.tl_count, 0, "count back to 0");
	timer_touch(&l, &a, 60);
	timer_touch(&l, &b, 70);
	timer_touch(&l, &a, 80);
	is_int(l.tl_count, 2, "count follows links, not touches");
	t0 = timer_now_ms();
	t1 = timer_now_ms();
	ok(t1 >= t0, "monotonic clock does not go back");
	return done_testing();
}
