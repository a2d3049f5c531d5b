/*
 * Unit tests: the echo path (src/echo.c) over a socketpair, driven the
 * way the event loop drives it.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo.h"
#include "event.h"
#include "tap.h"

#define BUFSIZE	4096

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
}

/* Read everything the echo side sent so far. */
static size_t
drain(int fd, char *out, size_t max)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < max && (n = read(fd, out + got, max - got)) > 0)
		got += (size_t)n;
	return got;
}

static void
test_round_trip(void)
{
	struct echo	 e = { .e_flags = 0 };
	char		 back[64];
	size_t		 moved;
	int		 sv[2];

	pair(sv);
	echo_note(&e, EV_WRITE);
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved), ECHO_WAIT,
	    "nothing to read: wait");
	ok(e.e_buf.b_data == NULL, "no buffer while idle");
	(void)write(sv[1], "hello", 5);
	echo_note(&e, EV_READ);
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved), ECHO_WAIT,
	    "echoed, wait for more");
	is_int(moved, 10, "5 bytes read and 5 written");
	is_int(drain(sv[1], back, sizeof(back)), 5, "5 bytes came back");
	ok(memcmp(back, "hello", 5) == 0, "the same bytes");
	ok(e.e_buf.b_data == NULL, "buffer released once drained");
	is_int(e.e_in, 5, "e_in counts what was read");
	is_int(e.e_out, 5, "e_out counts what was echoed");
	ok(!(e.e_flags & ECHO_READABLE), "a short read clears readable: no "
	    "read that would only say EAGAIN");
	close(sv[0]);
	close(sv[1]);
}

static void
test_back_pressure(void)
{
	struct echo	 e = { .e_flags = 0 };
	char		*chunk = calloc(1, 1 << 16), *sink = malloc(1 << 22);
	size_t		 moved, sent = 0, got = 0;
	ssize_t		 n;
	int		 sv[2], i;
	enum echo_result r;

	pair(sv);
	echo_note(&e, EV_WRITE);
	/* The peer writes and never reads: the socket both ways fills. */
	for (i = 0; i < 200; i++) {
		while ((n = write(sv[1], chunk, 1 << 16)) > 0)
			sent += (size_t)n;
		echo_note(&e, EV_READ);
		r = echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved);
		if (r != ECHO_WAIT && r != ECHO_AGAIN)
			break;
		if (moved == 0)
			break;
	}
	ok(buf_full(&e.e_buf), "the peer does not read: the buffer fills");
	ok(!(e.e_flags & ECHO_WRITABLE), "and the socket is full");
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved), ECHO_WAIT,
	    "full both ways: nothing moves, no busy loop");
	is_int(moved, 0, "... not a byte");
	ok(e.e_buf.b_cap == BUFSIZE, "memory stays at buffer_size");
	/* The peer reads: everything it sent comes back. */
	for (i = 0; i < 10000 && got < sent; i++) {
		got += drain(sv[1], sink, 1 << 22);
		echo_note(&e, EV_WRITE | EV_READ);
		(void)echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved);
	}
	got += drain(sv[1], sink, 1 << 22);
	is_int(got, sent, "once the peer reads, every byte comes back");
	echo_release(&e);
	free(chunk);
	free(sink);
	close(sv[0]);
	close(sv[1]);
}

static void
test_budget(void)
{
	struct echo	 e = { .e_flags = 0 };
	char		 data[8192] = { 0 };
	size_t		 moved;
	int		 sv[2];

	pair(sv);
	(void)write(sv[1], data, sizeof(data));
	echo_note(&e, EV_READ | EV_WRITE);
	is_int(echo_run(&e, sv[0], 1024, 1024, &moved), ECHO_AGAIN,
	    "the read budget used up: again, later");
	echo_release(&e);
	close(sv[0]);
	close(sv[1]);
}

static void
test_half_close(void)
{
	struct echo	 e = { .e_flags = 0 };
	char		 back[64];
	size_t		 moved;
	int		 sv[2];

	pair(sv);
	(void)write(sv[1], "bye", 3);
	shutdown(sv[1], SHUT_WR);
	echo_note(&e, EV_READ | EV_PEER_CLOSED | EV_WRITE);
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved), ECHO_DONE,
	    "half-closed with data: done once it is echoed");
	is_int(drain(sv[1], back, sizeof(back)), 3, "and it was echoed");
	echo_release(&e);
	close(sv[0]);
	close(sv[1]);

	/* The FIN comes with data still owed: not done until written. */
	memset(&e, 0, sizeof(e));
	pair(sv);
	(void)write(sv[1], "late", 4);
	shutdown(sv[1], SHUT_WR);
	echo_note(&e, EV_READ | EV_PEER_CLOSED);	/* not writable */
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved), ECHO_WAIT,
	    "EOF read but the echo not yet written: wait");
	ok(e.e_flags & ECHO_EOF, "... EOF noted");
	echo_note(&e, EV_WRITE);
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved), ECHO_DONE,
	    "written: done");
	echo_release(&e);
	close(sv[0]);
	close(sv[1]);
}

static void
test_error(void)
{
	struct echo	 e = { .e_flags = 0 };
	size_t		 moved;
	int		 sv[2];

	pair(sv);
	(void)write(sv[1], "x", 1);
	close(sv[1]);		/* gone: the echo cannot be written */
	echo_note(&e, EV_READ | EV_WRITE);
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved), ECHO_ERROR,
	    "peer gone: error, not a SIGPIPE");
	is_int(errno, EPIPE, "errno EPIPE");
	echo_release(&e);
	close(sv[0]);
}

static void
test_end(void)
{
	struct echo	 e = { .e_flags = 0 };
	char		 back[64];
	size_t		 moved;
	int		 sv[2];

	/* flush writes what is buffered and never reads more. */
	pair(sv);
	(void)write(sv[1], "abc", 3);
	echo_note(&e, EV_READ);		/* not writable yet */
	(void)echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved);
	(void)write(sv[1], "def", 3);
	is_int(echo_flush(&e, sv[0]), ECHO_WAIT, "flush waits for the socket");
	echo_note(&e, EV_WRITE | EV_READ);
	is_int(echo_flush(&e, sv[0]), ECHO_DONE, "flush done");
	is_int(drain(sv[1], back, sizeof(back)), 3, "only what was buffered "
	    "went out");
	ok(memcmp(back, "abc", 3) == 0, "... abc");
	/* discard reads and drops until the peer's FIN. */
	is_int(echo_discard(&e, sv[0]), ECHO_WAIT, "discard drops def, then "
	    "waits");
	is_int(e.e_in, 6, "dropped bytes are counted as read");
	shutdown(sv[1], SHUT_WR);
	is_int(echo_discard(&e, sv[0]), ECHO_DONE, "discard sees the FIN");
	is_int(drain(sv[1], back, sizeof(back)), 0, "nothing dropped was "
	    "echoed");
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_round_trip();
	test_back_pressure();
	test_budget();
	test_half_close();
	test_error();
	test_end();
	return done_testing();
}
