/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-round.c: one resolution round of a service: the SRV or address queries, CNAME chains, glue, answers. */
#include "cache-def.h"
#include "log.h"
#include "records.h"
#include "service-round.h"
#include "service-ttl.h"
#include "util.h"

/* A distinct SRV target (or the host) of a round, with the addresses found. */
typedef struct Target {
        const char *name;                /* in the round's srv_names, or the service's host */
        RecAddr *addrs;
        size_t n_addrs;
        uint32_t chain_ttl;              /* min TTL of CNAMEs followed for it */
        uint32_t negative_ttl;           /* min over its NXDOMAIN/NODATA answers; UINT32_MAX: none */
        unsigned pending;                /* address queries outstanding */
        bool transient_error;            /* a query for it failed transiently */
        bool chosen;                     /* takes part in the round (at most max-backends do) */
        bool glue4, glue6;               /* the SRV answer brought addresses of that family */
        bool own4, own6;                 /* its own answer of that family is asked for, to replace the glue */
} Target;

struct Round {
        unsigned n_ref;                  /* the owner's, until done or round_cancel(), and one per query */
        bool attached;                   /* the owner still wants the outcome */
        Resolver *resolver;
        const ServiceConfig *cfg;        /* the owner's, while attached */
        NodataSet *nodata;               /* the owner's, while attached: replaced by next on completion */
        NodataSet next;
        AddrSet *own;                    /* the owner's, while attached: replaced by next_own on completion */
        AddrSet next_own;
        RoundHandler h;
        void *userdata;

        RecSrv *srv;
        size_t n_srv;
        char *srv_names;                 /* the SRV answer's names: srv[].target point into it */
        uint32_t *srv_target;            /* per SRV record: its target's index in targets */
        uint32_t chain_ttl;              /* min TTL of CNAMEs on the way to the SRV set */
        Target *targets;
        size_t n_targets;
        SetEntry *entries;               /* the outcome, one per SRV record (or the host) */
        size_t n_entries;
        unsigned pending;                /* queries outstanding for the owner */
        bool srv_done;                   /* the SRV set is known (SRV services) */
        NameSet names;                   /* queried or followed, for RoundResult.names */
        int last_error;                  /* of a failed address query */
        size_t n_port0;                  /* SRV records with port 0, left out by records.c */
        size_t n_targets_skipped;
};

/* A query in flight holds a reference to its round. */
typedef struct QueryCtx {
        Round *round;
        ssize_t target;                  /* -1: the SRV query */
        uint16_t type;
        unsigned depth;                  /* CNAMEs followed for this name */
        uint32_t chain_ttl;
        char name[];                     /* asked; the answer's question must match */
} QueryCtx;

static void round_clear(Round *r) {
        free(r->srv);
        free(r->srv_names);
        free(r->srv_target);
        for (size_t i = 0; i < r->n_targets; i++)
                free(r->targets[i].addrs);
        free(r->targets);
        free(r->entries);
        nodata_set_clear(&r->next);
        addr_set_clear(&r->next_own);
        name_set_done(&r->names);
        r->srv = NULL;
        r->srv_names = NULL;
        r->srv_target = NULL;
        r->targets = NULL;
        r->entries = NULL;
        r->n_srv = r->n_targets = r->n_entries = 0;
}

static void round_unref(Round *r) {
        if (--r->n_ref > 0)
                return;
        round_clear(r);
        free(r);
}

Round *round_cancel(Round *r) {
        if (!r)
                return NULL;
        r->attached = false;
        /* Its memory goes now; the queries in flight hold only the shell. */
        round_clear(r);
        round_unref(r);
        return NULL;
}

/* Hand the outcome over: the owner's reference ends with it. */
static void round_finish(Round *r, const RoundResult *res) {
        RoundResult with_names = *res;
        with_names.names = &r->names;
        r->attached = false;
        r->h.done(&with_names, r->userdata);
        round_clear(r);
        round_unref(r);
}

static void round_failed(Round *r, int error) {
        round_finish(r, &(RoundResult) { .outcome = ROUND_FAILED, .error = error });
}

static void round_negative(Round *r, unsigned err, uint32_t negative_ttl) {
        round_finish(r, &(RoundResult) { .outcome = ROUND_NEGATIVE, .negative_error = err,
                                         .negative_ttl = negative_ttl });
}

static void query_callback(int error, const uint8_t *pkt, size_t len, void *userdata);

static int round_query(Round *r, const char *name, uint16_t type, ssize_t target, unsigned depth, uint32_t chain_ttl) {
        /* Sized to the name: a cold start has a query waiting for every service. */
        size_t len = strnlen(name, RECORDS_NAME_MAX - 1);
        QueryCtx *q = malloc(sizeof *q + len + 1);
        int k;

        if (!q)
                return -ENOMEM;
        *q = (QueryCtx) {
                .round = r,
                .target = target,
                .type = type,
                .depth = depth,
                .chain_ttl = chain_ttl,
        };
        memcpy(q->name, name, len);
        q->name[len] = '\0';
        (void) name_set_add(&r->names, q->name); /* out of memory: NOTIFY may miss it, the TTL refresh will not */
        /* A target's addresses or a CNAME followed finish a round already begun: they go before
         * the first queries of rounds not begun, so that few rounds are in progress at once. */
        if (target >= 0 || depth > 0)
                k = resolver_query_followup(r->resolver, name, type, query_callback, q);
        else
                k = resolver_query(r->resolver, name, type, query_callback, q);
        if (k < 0) {
                free(q);
                return k;
        }
        r->n_ref++;
        r->pending++;
        if (target >= 0)
                r->targets[target].pending++;
        r->h.queried(r->userdata);
        return 0;
}

/* Queue the address queries the service's family asks for. */
static int target_query_addresses(Round *r, size_t t, const char *name, unsigned depth, uint32_t chain_ttl) {
        int k = 0;
        if (r->cfg->s.family != FAMILY_IPV6)
                k = round_query(r, name, RECORDS_TYPE_A, (ssize_t) t, depth, chain_ttl);
        if (k >= 0 && r->cfg->s.family != FAMILY_IPV4)
                k = round_query(r, name, RECORDS_TYPE_AAAA, (ssize_t) t, depth, chain_ttl);
        return k;
}

/* Into r->targets, allocated for as many as will be added; name must outlive the round. */
static size_t round_add_target(Round *r, const char *name) {
        r->targets[r->n_targets] = (Target) { .name = name, .chain_ttl = UINT32_MAX, .negative_ttl = UINT32_MAX,
                                              .chosen = true };
        return r->n_targets++;
}

/* SRV records in the order their targets are chosen: as service-backends.c fills a set. */
static int srv_choose_cmp(const void *a, const void *b, void *userdata) {
        const RecSrv *srv = userdata, *x = &srv[*(const uint32_t *) a], *y = &srv[*(const uint32_t *) b];
        int c;

        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        if (x->weight != y->weight)
                return x->weight > y->weight ? -1 : 1;
        c = strcmp(x->target, y->target);
        if (c != 0)
                return c;
        return x->port < y->port ? -1 : x->port > y->port;
}

/* At most max-backends targets take part: those of the best SRV records. order is scratch. */
static void round_choose_targets(Round *r, uint32_t *order) {
        size_t chosen = 0, max = r->cfg->s.max_backends;

        if (r->n_targets <= max)
                return;
        for (size_t t = 0; t < r->n_targets; t++)
                r->targets[t].chosen = false;
        for (size_t i = 0; i < r->n_srv; i++)
                order[i] = (uint32_t) i;
        sort_r(order, r->n_srv, sizeof *order, srv_choose_cmp, r->srv);
        for (size_t i = 0; i < r->n_srv && chosen < max; i++) {
                Target *t = &r->targets[r->srv_target[order[i]]];
                if (!t->chosen) {
                        t->chosen = true;
                        chosen++;
                }
        }
        r->n_targets_skipped = r->n_targets - chosen;
}

static int srv_target_cmp(const void *a, const void *b, void *userdata) {
        const RecSrv *srv = userdata;
        return strcmp(srv[*(const uint32_t *) a].target, srv[*(const uint32_t *) b].target);
}

static int glue_cmp(const void *a, const void *b) {
        return strcmp(((const RecGlue *) a)->name, ((const RecGlue *) b)->name);
}

static bool family_wanted(const Round *r, uint8_t family) {
        return r->cfg->s.family == FAMILY_ANY || (r->cfg->s.family == FAMILY_IPV4) == (family == 4);
}

static int addr_cmp(const void *a, const void *b) {
        const RecAddr *x = a, *y = b;
        if (x->family != y->family)
                return x->family < y->family ? -1 : 1;
        return memcmp(x->addr, y->addr, 16);
}

/* A target's addresses in (family, address) order, each once (the lowest TTL), at most max: a
 * target can fill the set alone, never more, and a reshuffled answer keeps the same ones. */
static void target_trim_addrs(Target *t, size_t max) {
        size_t n = 0;

        sort(t->addrs, t->n_addrs, sizeof *t->addrs, addr_cmp);
        for (size_t i = 0; i < t->n_addrs; i++) {
                if (n > 0 && addr_cmp(&t->addrs[n - 1], &t->addrs[i]) == 0) {
                        t->addrs[n - 1].ttl = MIN(t->addrs[n - 1].ttl, t->addrs[i].ttl);
                        continue;
                }
                if (n == max)
                        break;
                t->addrs[n++] = t->addrs[i];
        }
        t->n_addrs = n;
}

static int target_add_addrs(Target *t, const RecAddr *addrs, size_t n) {
        if (n == 0)
                return 0;
        RecAddr *na = reallocarray(t->addrs, t->n_addrs + n, sizeof *na);
        if (!na)
                return -ENOMEM;
        memcpy(na + t->n_addrs, addrs, n * sizeof *na);
        t->addrs = na;
        t->n_addrs += n;
        return 0;
}

/* nodata says name has no address of family: carry that over to the round's next memory. */
static bool round_nodata_known(Round *r, const char *name, uint8_t family, int *ret_error) {
        int64_t until = nodata_set_until(r->nodata, name, family);

        *ret_error = 0;
        if (until <= (int64_t) now_usec(CLOCK_BOOTTIME))
                return false;
        *ret_error = nodata_set_add(&r->next, name, family, until);
        return true;
}

/* Of a chosen target's glue of family: its own answer while it holds (carried over to the round's
 * next memory, the TTLs what is left of it), else the glue, its own answer asked for. */
static int target_take_glue(Round *r, size_t t, uint8_t family, const RecGlue *glue, size_t n_glue) {
        Target *tg = &r->targets[t];
        const RecAddr *own = NULL;
        size_t n_own = 0;
        int64_t now = (int64_t) now_usec(CLOCK_BOOTTIME);
        int64_t until = addr_set_find(r->own, tg->name, family, &own, &n_own);
        int k;

        if (until > now) {
                uint32_t left = (uint32_t) MIN((until - now + 999999) / 1000000, (int64_t) UINT32_MAX);
                k = addr_set_add(&r->next_own, tg->name, family, until, own, n_own);
                for (size_t i = 0; i < n_own && k >= 0; i++) {
                        RecAddr a = own[i];
                        a.ttl = MIN(a.ttl, left);
                        k = target_add_addrs(tg, &a, 1);
                }
                return k;
        }
        for (size_t g = 0; g < n_glue; g++)
                if (glue[g].addr.family == family) {
                        k = target_add_addrs(tg, &glue[g].addr, 1);
                        if (k < 0)
                                return k;
                }
        if (family == 4)
                tg->own4 = true;
        else
                tg->own6 = true;
        return round_query(r, tg->name, family == 4 ? RECORDS_TYPE_A : RECORDS_TYPE_AAAA, (ssize_t) t, 0, UINT32_MAX);
}

/* The own answer (addresses, or none) of family replaces the target's glue of it, and is
 * remembered until ttl (clamped) runs out. */
static int target_own_answer(Round *r, Target *t, uint8_t family, const RecAddr *addrs, size_t n, uint32_t ttl) {
        size_t m = 0;

        for (size_t i = 0; i < t->n_addrs; i++)
                if (t->addrs[i].family != family)
                        t->addrs[m++] = t->addrs[i];
        t->n_addrs = m;
        for (size_t i = 0; i < n; i++)
                ttl = MIN(ttl, addrs[i].ttl);
        int k = target_add_addrs(t, addrs, n);
        if (k < 0)
                return k;
        return addr_set_add(&r->next_own, t->name, family,
                            (int64_t) now_usec(CLOCK_BOOTTIME) +
                                    (int64_t) ttl_clamp(ttl, r->cfg->s.min_ttl_usec, r->cfg->s.max_ttl_usec),
                            addrs, n);
}

/* The SRV set is in: collect targets, take glue, ask for the rest. */
static int round_on_srv(Round *r, RecAnswer *a, uint32_t chain_ttl) {
        int k = 0;

        r->srv = TAKE_PTR(a->srv);
        r->srv_names = TAKE_PTR(a->names);
        r->n_srv = a->n_srv;
        r->n_port0 = a->n_port0;
        r->chain_ttl = chain_ttl;
        r->srv_done = true;
        a->n_srv = 0;

        /* Targets and glue matched by sorting, not pairwise: an answer may hold thousands. */
        _cleanup_free_ uint32_t *order = reallocarray(NULL, MAX(r->n_srv, 1u), sizeof *order);
        r->srv_target = reallocarray(NULL, MAX(r->n_srv, 1u), sizeof *r->srv_target);
        r->targets = reallocarray(NULL, MAX(r->n_srv, 1u), sizeof *r->targets);
        /* The outcome's room now, so that completing a round cannot fail. */
        r->entries = reallocarray(NULL, MAX(r->n_srv, 1u), sizeof *r->entries);
        if (!order || !r->srv_target || !r->targets || !r->entries)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_srv; i++)
                order[i] = (uint32_t) i;
        sort_r(order, r->n_srv, sizeof *order, srv_target_cmp, r->srv);
        for (size_t i = 0; i < r->n_srv; i++) {
                const char *name = r->srv[order[i]].target;
                if (r->n_targets == 0 || !streq(r->targets[r->n_targets - 1].name, name))
                        round_add_target(r, name);
                r->srv_target[order[i]] = (uint32_t) (r->n_targets - 1);
        }
        round_choose_targets(r, order);

        if (a->n_glue > 1) /* a->glue may be NULL: qsort_r() must not see it */
                sort(a->glue, a->n_glue, sizeof *a->glue, glue_cmp);
        for (size_t t = 0, g = 0; t < r->n_targets; t++) {
                Target *tg = &r->targets[t];
                bool glue4 = false, glue6 = false;
                size_t g0;

                while (g < a->n_glue && strcmp(a->glue[g].name, tg->name) < 0)
                        g++;
                for (g0 = g; g < a->n_glue && streq(a->glue[g].name, tg->name); g++) {
                        if (!tg->chosen || !family_wanted(r, a->glue[g].addr.family))
                                continue;
                        glue4 = glue4 || a->glue[g].addr.family == 4;
                        glue6 = glue6 || a->glue[g].addr.family == 6;
                }
                if (!tg->chosen)
                        continue;
                tg->glue4 = glue4;
                tg->glue6 = glue6;
                /* Glue stands in only until the target's own answer of its family is in. */
                if (glue4)
                        k = target_take_glue(r, t, 4, a->glue + g0, g - g0);
                if (k >= 0 && glue6)
                        k = target_take_glue(r, t, 6, a->glue + g0, g - g0);
                if (k < 0)
                        return k;
                /* Glue is optional (servers drop it, e.g. over TCP), and may come for one family
                 * only: ask for each wanted family it did not bring, unless DNS said recently that
                 * the target has none of it. */
                bool ask4 = r->cfg->s.family != FAMILY_IPV6 && !glue4, ask6 = r->cfg->s.family != FAMILY_IPV4 && !glue6;
                if (ask4 && glue6)
                        ask4 = !round_nodata_known(r, tg->name, 4, &k);
                if (ask6 && glue4 && k >= 0)
                        ask6 = !round_nodata_known(r, tg->name, 6, &k);
                if (k < 0)
                        return k;
                if (ask4)
                        k = round_query(r, tg->name, RECORDS_TYPE_A, (ssize_t) t, 0, UINT32_MAX);
                if (k >= 0 && ask6)
                        k = round_query(r, tg->name, RECORDS_TYPE_AAAA, (ssize_t) t, 0, UINT32_MAX);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Answer to the SRV query (or a CNAME hop of it). */
static void round_srv_answer(Round *r, const QueryCtx *q, RecAnswer *a) {
        uint32_t chain_ttl = MIN(q->chain_ttl, a->chain_ttl);
        int k;

        if (a->truncated) {
                /* TC over TCP: nothing more can be had, and part of a set is not the set. */
                log_debug("service %s: truncated answer over TCP for %s", r->cfg->name, q->name);
                round_failed(r, -EBADMSG);
                return;
        }
        switch (a->kind) {
        case RECORDS_ANSWER:
                if (a->srv_unavailable) {
                        round_negative(r, DD_ERR_UNAVAILABLE, MIN(a->negative_ttl, chain_ttl));
                        return;
                }
                /* Targets with glue are queried only as their own answers run out, but a change in
                 * their zone matters all the same. */
                for (size_t i = 0; i < a->n_srv; i++)
                        (void) name_set_add(&r->names, a->srv[i].target);
                k = round_on_srv(r, a, chain_ttl);
                if (k < 0)
                        round_failed(r, k);
                return;
        case RECORDS_CNAME_ONLY:
                if (q->depth + a->cname_depth >= RECORDS_CNAME_DEPTH_MAX) {
                        round_failed(r, -ELOOP);
                        return;
                }
                k = round_query(r, a->cname_target, q->type, -1, q->depth + a->cname_depth, chain_ttl);
                if (k < 0)
                        round_failed(r, k);
                return;
        case RECORDS_NXDOMAIN:
        case RECORDS_NODATA:
                round_negative(r, a->kind == RECORDS_NXDOMAIN ? DD_ERR_NXDOMAIN : DD_ERR_NODATA, a->negative_ttl);
                return;
        case RECORDS_SERVFAIL:
        case RECORDS_REFUSED:
        default:
                round_failed(r, a->rcode_error ?: -EPROTO);
                return;
        }
}

/* Answer to an address query of a target (or the host). */
static void round_addr_answer(Round *r, const QueryCtx *q, int error, RecAnswer *a) {
        Target *t = &r->targets[q->target];
        int k = 0;

        if (error == 0 && a->truncated)
                error = -EBADMSG; /* TC over TCP: part of an address set is not the set */
        if (error < 0) {
                t->transient_error = true;
                r->last_error = error;
                return;
        }
        switch (a->kind) {
        case RECORDS_ANSWER:
                for (size_t i = 0; i < a->n_addrs; i++)
                        a->addrs[i].ttl = MIN(a->addrs[i].ttl, MIN(q->chain_ttl, a->chain_ttl));
                if (q->type == RECORDS_TYPE_A ? t->own4 : t->own6)
                        k = target_own_answer(r, t, q->type == RECORDS_TYPE_A ? 4 : 6, a->addrs, a->n_addrs,
                                              MIN(q->chain_ttl, a->chain_ttl));
                else
                        k = target_add_addrs(t, a->addrs, a->n_addrs);
                break;
        case RECORDS_CNAME_ONLY:
                if (q->depth + a->cname_depth >= RECORDS_CNAME_DEPTH_MAX)
                        k = -ELOOP;
                else
                        k = round_query(r, a->cname_target, q->type, q->target, q->depth + a->cname_depth,
                                        MIN(q->chain_ttl, a->chain_ttl));
                break;
        case RECORDS_NXDOMAIN:
        case RECORDS_NODATA:
                /* This family has nothing for the name, until the negative TTL runs out. */
                t->negative_ttl = MIN(t->negative_ttl, MIN(a->negative_ttl, MIN(q->chain_ttl, a->chain_ttl)));
                /* The own answer of a glued family: none, whatever the glue said. */
                if (q->type == RECORDS_TYPE_A ? t->own4 : t->own6)
                        k = target_own_answer(r, t, q->type == RECORDS_TYPE_A ? 4 : 6, NULL, 0,
                                              MIN(a->negative_ttl, MIN(q->chain_ttl, a->chain_ttl)));
                /* Asked although glue came for the other family: remember not to ask each round. */
                else if (q->type == RECORDS_TYPE_AAAA ? t->glue4 : t->glue6)
                        k = nodata_set_add(&r->next, t->name, q->type == RECORDS_TYPE_AAAA ? 6 : 4,
                                           (int64_t) now_usec(CLOCK_BOOTTIME) +
                                                   (int64_t) ttl_clamp(MIN(a->negative_ttl, MIN(q->chain_ttl, a->chain_ttl)),
                                                                       r->cfg->s.min_ttl_usec, r->cfg->s.max_ttl_usec));
                break;
        default:
                k = a->rcode_error ?: -EPROTO;
        }
        if (k < 0) {
                t->transient_error = true;
                r->last_error = k;
        }
}

/* Every answer is in: one entry per SRV record (or the host), with its target's addresses. */
static void round_complete(Round *r) {
        const ServiceConfig *cfg = r->cfg;
        size_t n = cfg->srv ? r->n_srv : MIN(r->n_targets, (size_t) 1);
        uint32_t empty_ttl = UINT32_MAX;

        for (size_t t = 0; t < r->n_targets; t++) {
                target_trim_addrs(&r->targets[t], cfg->s.max_backends);
                if (r->targets[t].chosen)
                        empty_ttl = MIN(empty_ttl, MIN(r->targets[t].negative_ttl, r->targets[t].chain_ttl));
        }
        nodata_set_seal(&r->next);
        nodata_set_move(r->nodata, &r->next);
        addr_set_seal(&r->next_own);
        addr_set_move(r->own, &r->next_own);
        r->n_entries = 0;
        for (size_t i = 0; i < n; i++) {
                const RecSrv *srv = cfg->srv ? &r->srv[i] : NULL;
                const Target *t = &r->targets[srv ? r->srv_target[i] : 0];
                if (!t->chosen)
                        continue;
                if (srv)
                        empty_ttl = MIN(empty_ttl, MIN(srv->ttl, r->chain_ttl));
                r->entries[r->n_entries++] = (SetEntry) {
                        .target = t->name,
                        .srv = srv != NULL,
                        .port = srv ? srv->port : cfg->port,
                        .priority = srv ? srv->priority : 0,
                        .weight = srv ? srv->weight : 1,
                        .ttl = srv ? MIN(t->chain_ttl, MIN(srv->ttl, r->chain_ttl)) : t->chain_ttl,
                        .addrs = t->addrs,
                        .n_addrs = t->n_addrs,
                        .keep_previous = t->transient_error && t->n_addrs == 0,
                };
        }
        round_finish(r, &(RoundResult) {
                .outcome = ROUND_ANSWER,
                .entries = r->entries,
                .n_entries = r->n_entries,
                .n_records = cfg->srv ? r->n_srv : 1,
                .n_port0 = r->n_port0,
                .n_targets = r->n_targets,
                .n_targets_skipped = r->n_targets_skipped,
                .empty_ttl = empty_ttl,
        });
}

static void query_callback(int error, const uint8_t *pkt, size_t len, void *userdata) {
        _cleanup_free_ QueryCtx *q = userdata;
        Round *r = q->round;
        RecAnswer *a = NULL;

        if (!r->attached) {
                round_unref(r);
                return;
        }
        r->pending--;
        if (q->target >= 0)
                r->targets[q->target].pending--;

        if (error == 0)
                error = records_parse(pkt, len, q->name, q->type, &a);
        if (error == 0)
                (void) name_set_add_list(&r->names, a->chain_names, a->n_chain_names);
        if (error < 0)
                log_debug("service %s: query %s/%u failed: %s", r->cfg->name, q->name, q->type, strerror(-error));

        if (q->target < 0) {
                if (error < 0)
                        round_failed(r, error);
                else
                        round_srv_answer(r, q, a);
        } else
                round_addr_answer(r, q, error, a);

        /* Address queries done: complete the round, unless every target failed
         * transiently and there was nothing to fall back on. */
        if (r->attached && r->pending == 0 && (r->cfg->srv == NULL || r->srv_done)) {
                bool all_failed = r->n_targets > 0;
                for (size_t i = 0; i < r->n_targets; i++)
                        all_failed = all_failed && (!r->targets[i].chosen ||
                                                    (r->targets[i].transient_error && r->targets[i].n_addrs == 0));
                if (all_failed)
                        round_failed(r, r->last_error);
                else
                        round_complete(r);
        }

        rec_answer_free(a);
        round_unref(r);
}

int round_start(Resolver *resolver, const ServiceConfig *cfg, NodataSet *nodata, AddrSet *own, const RoundHandler *h,
                void *userdata, Round **ret) {
        Round *r = calloc(1, sizeof *r);
        int k;

        if (!r)
                return -ENOMEM;
        *r = (Round) {
                .n_ref = 1,
                .attached = true,
                .resolver = resolver,
                .cfg = cfg,
                .nodata = nodata,
                .own = own,
                .h = *h,
                .userdata = userdata,
        };
        if (cfg->srv)
                k = round_query(r, cfg->srv, RECORDS_TYPE_SRV, -1, 0, UINT32_MAX);
        else {
                r->targets = calloc(1, sizeof *r->targets);
                r->entries = calloc(1, sizeof *r->entries);
                k = r->targets && r->entries ? 0 : -ENOMEM;
                if (k >= 0) {
                        round_add_target(r, cfg->host);
                        k = target_query_addresses(r, 0, cfg->host, 0, UINT32_MAX);
                }
        }
        if (k < 0) {
                round_cancel(r);
                return k;
        }
        *ret = r;
        return 0;
}
