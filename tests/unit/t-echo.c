/*
 * Unit tests: the echo path (src/echo.c) over a socketpair, driven the
 * way the event loop drives it.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>

#include "echo.h"
#include "event.h"
#include "pipes.h"
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

/* Read until 'want' bytes came or 2 s passed (TCP may hold a segment
 * back for Nagle's algorithm until the last one is acknowledged). */
static size_t
drain_wait(int fd, char *out, size_t want)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	size_t		 got = 0;
	ssize_t		 n;

	while (got < want && poll(&pfd, 1, 2000) == 1) {
		if ((n = read(fd, out + got, want - got)) <= 0)
			break;
		got += (size_t)n;
	}
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
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved, 0), ECHO_WAIT,
	    "nothing to read: wait");
	ok(e.e_buf.b_data == NULL, "no buffer while idle");
	(void)write(sv[1], "hello", 5);
	echo_note(&e, EV_READ);
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved, 0), ECHO_WAIT,
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
		r = echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved, 0);
		if (r != ECHO_WAIT && r != ECHO_AGAIN)
			break;
		if (moved == 0)
			break;
	}
	ok(buf_full(&e.e_buf), "the peer does not read: the buffer fills");
	ok(!(e.e_flags & ECHO_WRITABLE), "and the socket is full");
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved, 0), ECHO_WAIT,
	    "full both ways: nothing moves, no busy loop");
	is_int(moved, 0, "... not a byte");
	ok(e.e_buf.b_cap == BUFSIZE, "memory stays at buffer_size");
	/* The peer reads: everything it sent comes back. */
	for (i = 0; i < 10000 && got < sent; i++) {
		got += drain(sv[1], sink, 1 << 22);
		echo_note(&e, EV_WRITE | EV_READ);
		(void)echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved, 0);
	}
	got += drain(sv[1], sink, 1 << 22);
	is_int(got, sent, "once the peer reads, every byte comes back");
	echo_release(&e, 0);
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
	is_int(echo_run(&e, sv[0], 1024, 1024, &moved, 0), ECHO_AGAIN,
	    "the read budget used up: again, later");
	echo_release(&e, 0);
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
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved, 0), ECHO_DONE,
	    "half-closed with data: done once it is echoed");
	is_int(drain(sv[1], back, sizeof(back)), 3, "and it was echoed");
	echo_release(&e, 0);
	close(sv[0]);
	close(sv[1]);

	/* The FIN comes with data still owed: not done until written. */
	memset(&e, 0, sizeof(e));
	pair(sv);
	(void)write(sv[1], "late", 4);
	shutdown(sv[1], SHUT_WR);
	echo_note(&e, EV_READ | EV_PEER_CLOSED);	/* not writable */
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved, 0), ECHO_WAIT,
	    "EOF read but the echo not yet written: wait");
	ok(e.e_flags & ECHO_EOF, "... EOF noted");
	echo_note(&e, EV_WRITE);
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved, 0), ECHO_DONE,
	    "written: done");
	echo_release(&e, 0);
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
	is_int(echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved, 0), ECHO_ERROR,
	    "peer gone: error, not a SIGPIPE");
	is_int(errno, EPIPE, "errno EPIPE");
	echo_release(&e, 0);
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
	(void)echo_run(&e, sv[0], BUFSIZE, 1 << 20, &moved, 0);
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

/* A connected TCP pair over loopback, both ends non-blocking. */
static void
tcp_pair(int sv[2])
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sin);
	int			 l;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1 ||
	    (sv[1] = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(sv[1], (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (sv[0] = accept4(l, NULL, NULL, SOCK_NONBLOCK)) == -1)
		abort();
	close(l);
	(void)fcntl(sv[1], F_SETFL, O_NONBLOCK);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_OOBINLINE, &(int){ 1 },
	    sizeof(int));
}

/* Pump: the peer sends 'total' bytes of a pattern and reads the echo. */
static bool
pump(struct echo *e, int sv[2], size_t total, size_t *back)
{
	static char	 out[1 << 16], in[1 << 16];
	size_t		 sent = 0, got = 0, moved, i;
	ssize_t		 n;
	int		 rounds;

	for (rounds = 0; rounds < 200000 && got < total; rounds++) {
		if (sent < total) {
			for (i = 0; i < sizeof(out); i++)
				out[i] = (char)((sent + i) * 7);
			n = write(sv[1], out, total - sent < sizeof(out) ?
			    total - sent : sizeof(out));
			if (n > 0)
				sent += (size_t)n;
		}
		echo_note(e, EV_READ | EV_WRITE);
		if (echo_run(e, sv[0], 4096, 1 << 20, &moved, 0) ==
		    ECHO_ERROR)
			return false;
		while ((n = read(sv[1], in, sizeof(in))) > 0) {
			for (i = 0; i < (size_t)n; i++)
				if (in[i] != (char)((got + i) * 7))
					return false;
			got += (size_t)n;
		}
	}
	*back = got;
	return got == total;
}

static void
test_splice(void)
{
	struct pipe_pool	 pool;
	struct echo		 e = { .e_flags = 0 };
	size_t			 back = 0, moved;
	int			 sv[2];
	char			 b[16];

	pipe_pool_init(&pool, 4, 65536);
	e.e_pool = &pool;
	tcp_pair(sv);
	ok(pump(&e, sv, 8 << 20, &back), "8 MiB echoed in order through "
	    "the splice path (%zu bytes back)", back);
	ok(pool.pp_live == 1, "a streaming connection borrowed one pipe");
	ok(!(e.e_flags & ECHO_PIPED) && pool.pp_nidle == 1, "and gave it "
	    "back once drained");
	/* Urgent data: splice cannot read past the mark; copying takes over. */
	(void)write(sv[1], "AAAA", 4);
	(void)send(sv[1], "B", 1, MSG_OOB);
	(void)write(sv[1], "CCCC", 4);
	echo_note(&e, EV_READ | EV_WRITE | EV_URGENT);
	(void)echo_run(&e, sv[0], 4096, 1 << 20, &moved, 0);
	memset(b, 0, sizeof(b));
	is_int(drain_wait(sv[1], b, 9), 9, "after a stream, urgent data is "
	    "echoed whole");
	is_str(b, "AAAABCCCC", "... in order");
	ok(pump(&e, sv, 1 << 20, &back), "and a later stream still flows "
	    "(copying)");
	ok(!(e.e_flags & ECHO_PIPED), "... without a pipe: urgent data came");
	/* Half-close mid-stream with data in the pipe: all of it comes back. */
	echo_release(&e, 0);
	close(sv[0]);
	close(sv[1]);
	memset(&e, 0, sizeof(e));
	e.e_pool = &pool;
	tcp_pair(sv);
	ok(pump(&e, sv, 1 << 20, &back), "a fresh stream");
	echo_release(&e, 0);
	ok(pool.pp_live <= 4, "the pool holds at most its cap");
	is_int(pipe_pool_trim(&pool, PIPES_IDLE_MS + 1), UINT64_MAX,
	    "idle pipes are closed after PIPES_IDLE_MS");
	is_int(pool.pp_live, 0, "... all of them");
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
	test_splice();
	return done_testing();
}
