/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* watch.c: dnsdiscctl watch: a live view of the cache, redrawn when a generation changes. */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "output.h"
#include "services.h"
#include "table.h"
#include "util.h"
#include "watch.h"

/* Redrawn at least this often on a terminal, for the TTL and age countdowns. */
#define TICK_USEC USEC_PER_SEC
/* And at most this often: coalesces bursts of changes (a daemon starting up publishes every service). */
#define MIN_REDRAW_USEC (100 * USEC_PER_MSEC)

#define CTRL_L '\014'

/* SGR sequences. */
#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_MAGENTA "\033[35m"
#define C_CYAN "\033[36m"
#define C_ALERT "\033[1;31m"

/* Set by the handler, consumed by the main loop: the futex waits return
 * -EINTR on a signal (no SA_RESTART), so nothing is handled asynchronously. */
static volatile sig_atomic_t got_quit;  /* the signal number */
static volatile sig_atomic_t got_winch, got_input, got_tstp;

static void on_signal(int sig) {
        switch (sig) {
        case SIGWINCH:
                got_winch = 1;
                break;
        case SIGIO:
                got_input = 1;
                break;
        case SIGTSTP:
                got_tstp = 1;
                break;
        default:
                got_quit = sig;
        }
}

static const int handled_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGIO, SIGTSTP, SIGPIPE };

typedef struct Term {
        bool screen;            /* full-screen redraws on the alternate screen */
        bool color;
        bool keyboard;          /* stdin non-canonical, input signalled by SIGIO */
        bool screen_active;
        bool termios_set;
        bool async_set;
        bool signals_set;
        bool clear_next;        /* erase the whole screen before the next draw */
        struct termios saved_termios;
        int saved_fl;
        int saved_owner;
        struct sigaction saved_actions[ELEMENTSOF(handled_signals)];
} Term;

/* tcsetattr() from a background process group stops it with SIGTTOU unless ignored. */
static int tcsetattr_anyway(int fd, const struct termios *t) {
        struct sigaction ign = { .sa_handler = SIG_IGN }, old;
        int r;

        sigemptyset(&ign.sa_mask);
        sigaction(SIGTTOU, &ign, &old);
        r = tcsetattr(fd, TCSANOW, t);
        sigaction(SIGTTOU, &old, NULL);
        return r < 0 ? -errno : 0;
}

static void term_signals(Term *t) {
        struct sigaction sa = { .sa_handler = on_signal };

        if (t->signals_set)
                return;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(handled_signals); i++) {
                /* SIGPIPE: a closed pipe must end us through the error path, which restores the terminal. */
                sa.sa_handler = handled_signals[i] == SIGPIPE ? SIG_IGN : on_signal;
                sigaction(handled_signals[i], &sa, &t->saved_actions[i]);
        }
        t->signals_set = true;
}

static void term_signals_restore(Term *t) {
        if (!t->signals_set)
                return;
        for (size_t i = 0; i < ELEMENTSOF(handled_signals); i++)
                sigaction(handled_signals[i], &t->saved_actions[i], NULL);
        t->signals_set = false;
}

/* Undo term_enter(), in reverse. Idempotent: every exit path calls it. */
static void term_leave(Term *t) {
        if (t->screen_active) {
                /* Cursor back, main screen back. */
                fputs("\033[?25h\033[?1049l", stdout);
                fflush(stdout);
                t->screen_active = false;
        }
        if (t->async_set) {
                fcntl(STDIN_FILENO, F_SETFL, t->saved_fl);
                fcntl(STDIN_FILENO, F_SETOWN, t->saved_owner);
                t->async_set = false;
        }
        if (t->termios_set) {
                (void) tcsetattr_anyway(STDIN_FILENO, &t->saved_termios);
                t->termios_set = false;
        }
}

static void term_enter(Term *t, bool want_keyboard) {
        if (want_keyboard && isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp() &&
            tcgetattr(STDIN_FILENO, &t->saved_termios) == 0) {
                struct termios raw = t->saved_termios;

                /* Keys without Enter and without echo; ISIG stays, so Ctrl-C and Ctrl-Z still signal. */
                raw.c_lflag &= ~(tcflag_t) (ICANON | ECHO);
                raw.c_cc[VMIN] = 1;
                raw.c_cc[VTIME] = 0;
                if (tcsetattr_anyway(STDIN_FILENO, &raw) == 0) {
                        t->termios_set = true;
                        t->saved_fl = fcntl(STDIN_FILENO, F_GETFL);
                        t->saved_owner = fcntl(STDIN_FILENO, F_GETOWN);
                        /* SIGIO on input interrupts the futex wait, so a key acts at once. */
                        if (t->saved_fl >= 0 && fcntl(STDIN_FILENO, F_SETOWN, getpid()) == 0 &&
                            fcntl(STDIN_FILENO, F_SETFL, t->saved_fl | O_ASYNC) == 0)
                                t->async_set = true;
                        else
                                fcntl(STDIN_FILENO, F_SETOWN, t->saved_owner);
                }
        }
        t->keyboard = t->termios_set;
        if (t->screen) {
                /* Alternate screen, cursor hidden. */
                fputs("\033[?1049h\033[?25l", stdout);
                t->screen_active = true;
                t->clear_next = true;
        }
}

/* Ctrl-Z: give the terminal back while stopped, take it again on SIGCONT. */
static void term_suspend(Term *t) {
        bool keyboard = t->keyboard;
        struct sigaction dfl = { .sa_handler = SIG_DFL }, old;

        term_leave(t);
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGTSTP, &dfl, &old);
        raise(SIGTSTP);
        /* Continued. */
        sigaction(SIGTSTP, &old, NULL);
        term_enter(t, keyboard);
}

/* Read pending keys. 1: quit, 0: nothing to do. */
static int term_read_keys(Term *t) {
        char buf[64];

        if (!t->keyboard)
                return 0;
        for (;;) {
                struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP)))
                        return 0;
                n = read(STDIN_FILENO, buf, sizeof buf);
                if (n == 0)
                        return 1; /* the terminal hung up */
                if (n < 0)
                        return errno == EINTR || errno == EAGAIN ? 0 : 1;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == 'q' || buf[i] == 'Q')
                                return 1;
                        if (buf[i] == CTRL_L)
                                t->clear_next = true;
                }
        }
}

static void term_size(unsigned *ret_cols, unsigned *ret_rows) {
        struct winsize ws = {};

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0 || ws.ws_row == 0)
                ws = (struct winsize) { .ws_col = 80, .ws_row = 24 };
        *ret_cols = ws.ws_col;
        *ret_rows = ws.ws_row;
}

/* Copy text to stdout from the top left, each line clipped to the screen's
 * width and erased to its end, below the last line erased too: no flicker,
 * no scrolling. */
static void term_blit(Term *t, const char *text, size_t len) {
        const char *p = text, *end = text + len;
        unsigned cols, rows, row = 0;

        term_size(&cols, &rows);
        if (t->clear_next) {
                fputs("\033[2J", stdout);
                t->clear_next = false;
        }
        fputs("\033[H", stdout);
        while (p < end && row < rows) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *le = nl ? nl : end, *q = p;
                unsigned w = 0;

                if (row > 0)
                        fputc('\n', stdout);
                while (q < le) {
                        if (q[0] == '\033' && q + 1 < le && q[1] == '[') {
                                const char *s = q + 2;

                                while (s < le && !(*s >= 0x40 && *s <= 0x7e))
                                        s++;
                                if (s < le)
                                        s++;
                                fwrite(q, 1, (size_t) (s - q), stdout);
                                q = s;
                                continue;
                        }
                        if (((unsigned char) *q & 0xc0) != 0x80 && w++ == cols)
                                break;
                        fputc(*q++, stdout);
                }
                if (t->color)
                        fputs(C_RESET, stdout);
                fputs("\033[K", stdout);
                row++;
                p = nl ? nl + 1 : end;
        }
        fputs("\033[J", stdout);
}

/* ---------------------------------------------------------------- the view */

typedef struct Watch {
        dnsdisc *d;
        const WatchOptions *o;
        Term term;
        dnsdisc_service *handle;        /* one service's mode: its handle while it exists */
        uint32_t counter;               /* change counter, or the service's generation, the view shows */
        bool stale;                     /* the last view's staleness */
        dnsdisc_backend *backends;      /* DNSDISC_BACKENDS_MAX */
} Watch;

/* "" without colour, so that formats can always interpolate. */
static const char *sgr(const Watch *w, const char *code) {
        return w->term.color ? code : "";
}

static const char *state_color(unsigned state) {
        switch (state) {
        case DNSDISC_STATE_OK:
                return C_GREEN;
        case DNSDISC_STATE_STALE:
                return C_YELLOW;
        case DNSDISC_STATE_NEGATIVE:
                return C_MAGENTA;
        case DNSDISC_STATE_ERROR:
                return C_RED;
        default:
                return C_DIM;
        }
}

static const RowColors row_colors = {
        .expired = C_RED, .unpicked = C_DIM, .up = C_GREEN, .down = C_RED, .unknown = C_YELLOW, .reset = C_RESET,
};

static void render_title(Watch *w, FILE *f, int64_t now, const char *what) {
        char clock[16] = "", span[TIMESPAN_MAX], beat[TIMESPAN_MAX];
        time_t sec = (time_t) (now / (int64_t) USEC_PER_SEC);
        dnsdisc_daemon_info di;
        struct tm tm;

        if (localtime_r(&sec, &tm))
                strftime(clock, sizeof clock, "%H:%M:%S", &tm);
        fprintf(f, "%sdnsdiscctl watch%s: %s, cache %s   %s\n", sgr(w, C_BOLD), sgr(w, C_RESET), what,
                w->o->cache_path, clock);

        if (dnsdisc_daemon_info_get(w->d, &di) < 0) {
                fprintf(f, "dnsdiscd: %sunknown%s\n", sgr(w, C_ALERT), sgr(w, C_RESET));
                return;
        }
        format_timespan(beat, heartbeat_age_usec(&di, now) / USEC_PER_SEC * USEC_PER_SEC);
        if (di.stopped)
                fprintf(f, "dnsdiscd: %sSTOPPED%s (pid %" PRIu32 "): the data below is no longer refreshed\n",
                        sgr(w, C_ALERT), sgr(w, C_RESET), di.pid);
        else if (w->stale)
                fprintf(f, "dnsdiscd: %sNOT REFRESHING%s (pid %" PRIu32 "): last heartbeat %s ago\n",
                        sgr(w, C_ALERT), sgr(w, C_RESET), di.pid, beat);
        else
                fprintf(f, "dnsdiscd: %srunning%s, pid %" PRIu32 ", up %s, heartbeat %s ago\n", sgr(w, C_GREEN),
                        sgr(w, C_RESET), di.pid, format_timespan(span, age_sec(now, di.started_usec) * USEC_PER_SEC),
                        beat);
}

static int render_services(Watch *w, FILE *f, int64_t now) {
        static const char *const headers[] = {
                "SERVICE", "STATE", "HEALTHY", "PICKED", "GEN", "LAST GOOD", "REFRESH", "ERROR", "FLAGS",
        };
        _cleanup_free_ dnsdisc_service_info *infos = NULL;
        _cleanup_(table_freep) table *t = NULL;
        char what[48], span[TIMESPAN_MAX];
        size_t n;
        int r;

        r = services_collect(w->d, &infos, NULL, &n);
        if (r < 0)
                return r;
        snprintf(what, sizeof what, "%zu service%s", n, n == 1 ? "" : "s");
        render_title(w, f, now, what);
        fputc('\n', f);

        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return -ENOMEM;
        for (size_t c = 2; c <= 4; c++)
                table_align_right(t, c);
        for (size_t i = 0; i < n; i++) {
                const dnsdisc_service_info *s = &infos[i];
                /* Just changed: the name stands out for a few seconds. */
                bool fresh = s->changed_usec > 0 && age_sec(now, s->changed_usec) < 3;
                const char *healthy_color = s->n_backends == 0 ? "" :
                                            s->n_healthy == s->n_backends ? C_GREEN :
                                            s->n_healthy == 0 ? C_RED : C_YELLOW;
                bool panic = s->flags & DNSDISC_SERVICE_PANIC;

                if ((r = table_addf(t, "%s%s%s", sgr(w, fresh ? C_BOLD C_CYAN : ""), s->name, sgr(w, C_RESET))) < 0 ||
                    (r = table_addf(t, "%s%s%s", sgr(w, state_color(s->state)), dnsdisc_state_name(s->state),
                                    sgr(w, C_RESET))) < 0 ||
                    (r = table_addf(t, "%s%" PRIu32 "/%" PRIu32 "%s", sgr(w, healthy_color), s->n_healthy,
                                    s->n_backends, sgr(w, C_RESET))) < 0 ||
                    (r = table_addf(t, "%" PRIu32, s->n_scheduled)) < 0 ||
                    (r = table_addf(t, "%" PRIu32, s->generation)) < 0 ||
                    (r = table_add(t, s->last_good_usec == 0 ? "never" :
                                   format_timespan(span, age_sec(now, s->last_good_usec) * USEC_PER_SEC))) < 0 ||
                    (r = table_add(t, s->next_refresh_usec == 0 ? "-" :
                                   format_timespan(span, remaining_sec(now, s->next_refresh_usec) * USEC_PER_SEC))) < 0 ||
                    (r = table_add(t, s->last_error ? dnsdisc_error_code_name(s->last_error) : "-")) < 0 ||
                    (r = panic ? table_addf(t, "%s%sPANIC%s", s->flags & DNSDISC_SERVICE_SRV ? "srv," : "",
                                            sgr(w, C_ALERT), sgr(w, C_RESET)) :
                                 table_add(t, s->flags & DNSDISC_SERVICE_SRV ? "srv" : "-")) < 0)
                        return r;
        }
        r = table_print(t, f);
        if (r < 0)
                return r;
        if (n == 0)
                fputs("(no service in the cache)\n", f);
        return 0;
}

/* info NULL: the service is gone. */
static int render_service(Watch *w, FILE *f, int64_t now, const dnsdisc_service_info *info, int n) {
        static const char *const headers[] = {
                "ADDRESS", "PORT", "TARGET", "PRIO", "WEIGHT", "TTL", "PICK",
                "HEALTH", "STREAK", "CHECKS", "FAILED", "LATENCY", "ERROR",
        };
        static const size_t right[] = { 1, 3, 4, 5, 9, 10, 11 };
        _cleanup_(table_freep) table *t = NULL;
        char what[DNSDISC_NAME_MAX + 16], span[TIMESPAN_MAX];
        int r;

        snprintf(what, sizeof what, "service %s", w->o->service);
        render_title(w, f, now, what);
        fputc('\n', f);
        if (!info) {
                fprintf(f, "%sService %s is not in the cache%s (removed; shown again if it comes back)\n",
                        sgr(w, C_YELLOW), w->o->service, sgr(w, C_RESET));
                return 0;
        }

        fprintf(f, "Query: %s (%s)\n", info->query[0] ? info->query : "-",
                info->flags & DNSDISC_SERVICE_SRV ? "SRV" : "A/AAAA");
        fprintf(f, "State: %s%s%s   Generation: %" PRIu32 "   Last good: %s%s   Last error: %s", sgr(w, state_color(info->state)),
                dnsdisc_state_name(info->state), sgr(w, C_RESET), info->generation,
                info->last_good_usec == 0 ? "never" :
                format_timespan(span, age_sec(now, info->last_good_usec) * USEC_PER_SEC),
                info->last_good_usec == 0 ? "" : " ago", info->last_error ? dnsdisc_error_code_name(info->last_error) : "-");
        if (info->next_refresh_usec != 0)
                fprintf(f, "   Refresh: in %s", format_timespan(span, remaining_sec(now, info->next_refresh_usec) * USEC_PER_SEC));
        fputc('\n', f);
        fprintf(f, "Backends: %" PRIu32 " healthy, %" PRIu32 " total, %" PRIu32 " picked", info->n_healthy,
                info->n_backends, info->n_scheduled);
        if (info->flags & DNSDISC_SERVICE_PANIC)
                fprintf(f, "   %sPANIC%s: no healthy backend, picks use every backend", sgr(w, C_ALERT), sgr(w, C_RESET));
        fputs("\n\n", f);
        if (n == 0)
                return 0;

        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(right); i++)
                table_align_right(t, right[i]);
        for (int i = 0; i < n; i++) {
                r = add_backend_row(t, &w->backends[i], backend_weight_split(w->backends, (size_t) n, (size_t) i), now,
                                    false, w->term.color ? &row_colors : NULL);
                if (r < 0)
                        return r;
        }
        return table_print(t, f);
}

/* Read what the next wait compares against, then the data: a change made
 * in between is shown at once by the next wait, never lost. In one
 * service's mode, fills *ret_info and w->backends and returns their number,
 * or sets *ret_gone; returns 0 for every service. */
static int watch_read(Watch *w, dnsdisc_service_info *ret_info, bool *ret_gone) {
        int n;

        *ret_gone = false;
        w->counter = dnsdisc_change_counter(w->d);
        w->stale = dnsdisc_is_stale(w->d) > 0;
        if (!w->o->service)
                return 0;
        if (!w->handle) {
                n = dnsdisc_service_get(w->d, w->o->service, &w->handle);
                if (n == -ESRCH) {
                        *ret_gone = true;
                        return 0;
                }
                if (n < 0)
                        return n;
        }
        w->counter = dnsdisc_generation(w->handle);
        n = dnsdisc_snapshot(w->handle, ret_info, w->backends, DNSDISC_BACKENDS_MAX);
        if (n == -ESRCH) {
                /* Removed: wait for any change until it is back. */
                w->handle = NULL;
                w->counter = dnsdisc_change_counter(w->d);
                *ret_gone = true;
                return 0;
        }
        return n;
}

static int flush_stdout(void) {
        if (fflush(stdout) != 0 || ferror(stdout))
                return errno > 0 ? -errno : -EIO;
        return 0;
}

static int draw_screen(Watch *w) {
        _cleanup_free_ char *text = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        dnsdisc_service_info info;
        int64_t now;
        size_t len = 0;
        bool gone;
        int r, n;

        n = watch_read(w, &info, &gone);
        if (n < 0)
                return n;
        f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;
        now = (int64_t) now_usec(CLOCK_REALTIME);
        r = w->o->service ? render_service(w, f, now, gone ? NULL : &info, n) : render_services(w, f, now);
        if (r < 0)
                return r;
        fputc('\n', f);
        fprintf(f, "%s%s%s", sgr(w, C_DIM), w->term.keyboard ? "q: quit   Ctrl-L: redraw" : "Ctrl-C: quit",
                sgr(w, C_RESET));
        if (fflush(f) != 0)
                return -ENOMEM;
        term_blit(&w->term, text, len);
        return flush_stdout();
}

/* Not a terminal: a block of list/show text per change, flushed for whoever reads the pipe. */
static int draw_plain(Watch *w) {
        _cleanup_free_ dnsdisc_service_info *infos = NULL;
        dnsdisc_service_info info;
        dnsdisc_daemon_info di;
        char stamp[40] = "";
        int64_t now;
        size_t n = 0;
        struct tm tm;
        time_t sec;
        bool gone;
        int r;

        r = watch_read(w, &info, &gone);
        if (r < 0)
                return r;
        if (!w->o->service) {
                int k = services_collect(w->d, &infos, NULL, &n);
                if (k < 0)
                        return k;
        }
        now = (int64_t) now_usec(CLOCK_REALTIME);
        sec = (time_t) (now / (int64_t) USEC_PER_SEC);
        if (localtime_r(&sec, &tm))
                strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", &tm);
        printf("=== %s\n", stamp);
        if (w->stale && dnsdisc_daemon_info_get(w->d, &di) == 0)
                printf(di.stopped ? "dnsdiscd has stopped, data is no longer refreshed\n" :
                                    "dnsdiscd stopped refreshing the cache\n");
        if (!w->o->service)
                r = print_services(infos, n, now, false, stdout);
        else if (gone)
                printf("service %s: not in the cache\n", w->o->service);
        else {
                uint32_t entries;
                int64_t hash_entries = w->handle && dnsdisc_hash_table_size(w->handle, &entries) == 0 ? (int64_t) entries : -1;

                r = print_service(&info, NULL, w->backends, (size_t) r, hash_entries, now, false, stdout);
        }
        if (r < 0)
                return r;
        putchar('\n');
        return flush_stdout();
}

static int draw(Watch *w) {
        return w->term.screen ? draw_screen(w) : draw_plain(w);
}

/* Block until the view may be out of date or deadline (CLOCK_MONOTONIC µs)
 * passes: 1 changed, 0 deadline, -EINTR signal. */
static int wait_change(Watch *w, uint64_t deadline) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        uint64_t timeout = deadline > now ? deadline - now : 0;
        int r;

        if (w->handle) {
                r = dnsdisc_wait(w->handle, w->counter, timeout);
                if (r == -ESRCH)
                        return 1; /* removed: the next view says so */
                return r;
        }
        return dnsdisc_wait_any(w->d, w->counter, timeout);
}

/* Sleep until deadline unless a signal comes first (coalescing changes). */
static void sleep_until(uint64_t deadline) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (deadline > now) {
                uint64_t d = deadline - now;
                struct timespec ts = { .tv_sec = (time_t) (d / USEC_PER_SEC), .tv_nsec = (long) (d % USEC_PER_SEC) * 1000 };
                (void) nanosleep(&ts, NULL);
        }
}

/* Whoever read stdout is gone (`watch | head -1`): a pipe without readers polls POLLERR, a
 * socket or a hung-up terminal POLLHUP. Checked on each tick, so a watch whose cache does not
 * change still ends within a tick instead of at the next change's EPIPE. */
static bool stdout_gone(void) {
        struct pollfd p = { .fd = STDOUT_FILENO, .events = 0 };

        return poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

static void watch_done(Watch *w) {
        term_leave(&w->term);
        term_signals_restore(&w->term);
        free(w->backends);
}

int watch_run(dnsdisc *d, const WatchOptions *o, int *ret_signal) {
        _cleanup_(watch_done) Watch w = { .d = d, .o = o };
        const char *term = getenv("TERM"), *no_color = getenv("NO_COLOR");
        unsigned draws = 0;
        int r;

        if (o->service) {
                w.backends = calloc(DNSDISC_BACKENDS_MAX, sizeof *w.backends);
                if (!w.backends)
                        return -ENOMEM;
                /* Like show: a name that is not there is more likely a typo than a service yet to come. */
                r = dnsdisc_service_get(d, o->service, &w.handle);
                if (r < 0)
                        return r;
        }

        got_quit = got_winch = got_input = got_tstp = 0;
        w.term.screen = isatty(STDOUT_FILENO) && term && *term && !streq(term, "dumb");
        if (w.term.screen) {
                /* One write per frame: a terminal's line buffering writes each row on its
                 * own, and whoever looks between two writes sees half a frame. */
                static char frame_buf[1 << 16];

                (void) setvbuf(stdout, frame_buf, _IOFBF, sizeof frame_buf);
        }
        /* https://no-color.org: set and not empty. */
        w.term.color = w.term.screen && !(no_color && *no_color);
        term_signals(&w.term);
        term_enter(&w.term, true);

        for (;;) {
                uint64_t drawn, deadline;
                bool redraw = false;

                r = draw(&w);
                if (r == -EPIPE) {
                        /* Die of SIGPIPE, as a pipeline's writer does, once the terminal is restored. */
                        got_quit = SIGPIPE;
                        break;
                }
                if (r < 0)
                        return r;
                draws++;
                if (o->iterations > 0 && draws >= o->iterations)
                        break;

                drawn = now_usec(CLOCK_MONOTONIC);
                deadline = drawn + TICK_USEC;
                while (!redraw) {
                        if (got_quit)
                                break;
                        if (got_input || got_winch) {
                                got_input = 0;
                                if (term_read_keys(&w.term) > 0) {
                                        got_quit = -1;
                                        break;
                                }
                                redraw = got_winch || w.term.clear_next;
                                got_winch = 0;
                                continue;
                        }
                        if (got_tstp) {
                                got_tstp = 0;
                                term_suspend(&w.term);
                                redraw = true;
                                continue;
                        }
                        r = wait_change(&w, deadline);
                        if (r == -EINTR)
                                continue;
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                /* Changes: at most one view per MIN_REDRAW_USEC. */
                                sleep_until(drawn + MIN_REDRAW_USEC);
                                redraw = true;
                                continue;
                        }
                        /* The tick: keys that raced the wait, countdowns on a screen, staleness anywhere. */
                        if (term_read_keys(&w.term) > 0) {
                                got_quit = -1;
                                break;
                        }
                        if (stdout_gone()) {
                                got_quit = SIGPIPE;
                                break;
                        }
                        if (w.term.screen || (dnsdisc_is_stale(d) > 0) != w.stale)
                                redraw = true;
                        else
                                deadline = now_usec(CLOCK_MONOTONIC) + TICK_USEC;
                }
                if (got_quit)
                        break;
        }

        *ret_signal = got_quit > 0 ? got_quit : 0;
        return 0;
}
