/*
 * Unit tests: the idle list keeps nodes in order of last activity.
 */
#include "autoconf.h"

#include "tap.h"
#include "timer.h"

int
main(void)
{
	struct idle_list	 l;
	struct idle_node	 a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t		 t0, t1;

	idle_init(&l);
	ok(idle_oldest(&l) == NULL, "empty list has no oldest");
	idle_touch(&l, &a, 10);
	idle_touch(&l, &b, 20);
	idle_touch(&l, &c, 30);
	ok(idle_oldest(&l) == &a, "oldest is the first touched");
	ok(idle_next(&l, &a) == &b && idle_next(&l, &b) == &c &&
	    idle_next(&l, &c) == NULL, "order a, b, c");
	idle_touch(&l, &a, 40);
	ok(idle_oldest(&l) == &b, "touching a moves it to the end");
	is_int(a.in_last, 40, "touch records the time");
	idle_touch(&l, &a, 50);
	ok(idle_next(&l, &c) == &a && idle_next(&l, &a) == NULL,
	    "touching the newest again keeps it last");
	idle_remove(&b);
	ok(idle_oldest(&l) == &c, "remove the oldest: next one is oldest");
	idle_remove(&b);
	ok(b.in_prev == NULL, "removing twice is harmless");
	idle_remove(&c);
	idle_remove(&a);
	ok(idle_oldest(&l) == NULL, "empty after removing all");
	t0 = timer_now_ms();
	t1 = timer_now_ms();
	ok(t1 >= t0, "monotonic clock does not go back");
	return done_testing();
}
