/*
 * harness: drives bin/out_nsgflow.so the way Fluent Bit's Go proxy does,
 * without Fluent Bit.
 *
 *   harness test  SO CONF CHUNKDIR EMU_PID EMU_PORT
 *   harness bench SO CONF CHUNKDIR ROUNDS [FLUSHERS]
 *
 * It dlopens the plugin, calloc()s a proxy definition and calls
 * FLBPluginRegister, then initialises every [instance] of CONF through ONE
 * shared flbgo_output_plugin struct (Fluent Bit overwrites it per instance;
 * each instance keeps its own proxy context), answering
 * output_get_property() from the instance's key=value table. Chunks listed in
 * CHUNKDIR/manifest.tsv are flushed with FLBPluginFlushCtx from several
 * threads at once, retried after RETRY like Fluent Bit does (sooner), then
 * every instance is stopped with FLBPluginExitCtx and the plugin unregistered.
 *
 * Test mode also takes the emulator down (SIGUSR1 to EMU_PID) and up again
 * (SIGUSR2) to check RETRY, and checks bad configs, garbage chunks and the
 * exit grace. It prints one line per check and ends with "N passed, M failed".
 * Bench mode prints events/s with 1 and 4 concurrent flushers per instance
 * (only FLUSHERS when given), then the process's peak RSS.
 *
 * The struct layouts follow the prefixes fluent-bit-go reads (its
 * output/flb_output.h and output/flb_plugin.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define FLB_ERROR 0
#define FLB_OK 1
#define FLB_RETRY 2
#define FLB_PROXY_OUTPUT_PLUGIN 2
#define FLB_PROXY_GOLANG 11

/* Registration: what FLBPluginRegister fills. */
struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
};

/* The API table; the plugin calls its first member for config keys. */
struct flb_api {
    char *(*output_get_property)(char *, void *);
    char *_reserved;
};

/* Per-instance proxy context; the plugin stores its context id here. */
struct flb_plugin_proxy_context {
    void *remote_context;
};

/* The struct FLBPluginInit receives (shared by all instances of a .so). */
struct flbgo_output_plugin {
    void *name;
    struct flb_api *api;
    void *o_ins;
    struct flb_plugin_proxy_context *context;
};

typedef int (*register_fn)(void *);
typedef int (*init_fn)(void *);
typedef int (*flush_ctx_fn)(void *, const void *, size_t, char *);
typedef int (*exit_ctx_fn)(void *);
typedef void (*unregister_fn)(void *);

#define MAX_KEYS 64
#define MAX_INST 8
#define MAX_CHUNKS 256

struct instance {
    char *keys[MAX_KEYS];
    char *vals[MAX_KEYS];
    int nkeys;
    char group[32];
    int expect_ok;
    int grace_ms;
    int init_rc;
    struct flb_plugin_proxy_context ctx;
};

struct chunk {
    char group[32];
    char file[256];
    int events;
    char *data;
    size_t len;
};

static struct instance insts[MAX_INST];
static int ninst;
static struct chunk chunks[MAX_CHUNKS];
static int nchunks;

static register_fn p_register;
static init_fn p_init;
static flush_ctx_fn p_flush;
static exit_ctx_fn p_exit;
static unregister_fn p_unregister;

static int passed, failed;

/* A "black hole": a loopback listener that never accepts, so requests to it
 * hang until their timeout. Config values "@BLACKHOLE@" become its URL. */
static char blackhole_url[64];

static int open_blackhole(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *) &a, &al) != 0) {
        perror("blackhole");
        return -1;
    }
    snprintf(blackhole_url, sizeof(blackhole_url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    return fd;
}

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    printf("%s harness: ", ok ? "ok  " : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (ok) {
        passed++;
    }
    else {
        failed++;
    }
}

/* CPU time of this process (the plugin's Go runtime included), in ms. */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* output_get_property: the per-instance key table, case-insensitive. */
static char *get_property(char *key, void *o_ins)
{
    struct instance *in = o_ins;
    int i;
    for (i = 0; i < in->nkeys; i++) {
        if (strcasecmp(in->keys[i], key) == 0) {
            return in->vals[i];
        }
    }
    return NULL;
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    e = s + strlen(s);
    while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
        *--e = 0;
    }
    return s;
}

/* CONF: "[instance]" starts an instance; "key=value" lines; keys starting
 * with "harness." configure the harness and are not shown to the plugin. */
static int load_conf(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    struct instance *cur = NULL;
    if (!f) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *l = trim(line), *eq;
        if (*l == 0 || *l == '#') {
            continue;
        }
        if (strcmp(l, "[instance]") == 0) {
            if (ninst == MAX_INST) {
                break;
            }
            cur = &insts[ninst++];
            cur->expect_ok = 1;
            cur->grace_ms = 4000;
            continue;
        }
        eq = strchr(l, '=');
        if (!cur || !eq) {
            continue;
        }
        *eq = 0;
        if (strcmp(trim(l), "harness.group") == 0) {
            snprintf(cur->group, sizeof(cur->group), "%s", trim(eq + 1));
        }
        else if (strcmp(trim(l), "harness.expect") == 0) {
            cur->expect_ok = strcmp(trim(eq + 1), "fail") != 0;
        }
        else if (cur->nkeys < MAX_KEYS) {
            if (strcmp(trim(l), "grace") == 0) {
                cur->grace_ms = (int) (atof(trim(eq + 1)) * 1000);
            }
            char *v = trim(eq + 1);
            cur->keys[cur->nkeys] = strdup(trim(l));
            cur->vals[cur->nkeys] = strdup(strcmp(v, "@BLACKHOLE@") == 0 ? blackhole_url : v);
            cur->nkeys++;
        }
    }
    fclose(f);
    return 0;
}

static int load_chunks(const char *dir)
{
    char path[1024], line[1024];
    FILE *f;
    snprintf(path, sizeof(path), "%s/manifest.tsv", dir);
    f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof(line), f) && nchunks < MAX_CHUNKS) {
        struct chunk *c = &chunks[nchunks];
        FILE *cf;
        long n;
        if (sscanf(line, "%31s %255s %d", c->group, c->file, &c->events) != 3) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, c->file);
        cf = fopen(path, "rb");
        if (!cf) {
            perror(path);
            fclose(f);
            return -1;
        }
        fseek(cf, 0, SEEK_END);
        n = ftell(cf);
        fseek(cf, 0, SEEK_SET);
        /* malloc'd exactly to size, so a read past the end is caught by ASan/valgrind */
        c->data = malloc(n > 0 ? n : 1);
        c->len = fread(c->data, 1, n, cf);
        fclose(cf);
        nchunks++;
    }
    fclose(f);
    return 0;
}

static void *must_sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p) {
        fprintf(stderr, "harness: %s not found: %s\n", name, dlerror());
    }
    return p;
}

/* Flush like Fluent Bit: the data pointer is only valid during the call,
 * and the tag is a fresh C string each time. */
static int flush_once(struct instance *in, const struct chunk *c)
{
    char tag[64];
    char *copy = malloc(c->len > 0 ? c->len : 1);
    int rc;
    memcpy(copy, c->data, c->len);
    snprintf(tag, sizeof(tag), "flow.%s", in->group);
    rc = p_flush(in->ctx.remote_context, copy, c->len, tag);
    memset(copy, 0xAA, c->len); /* the plugin must not keep it */
    free(copy);
    return rc;
}

/* ---- concurrent flushing ---- */

struct job {
    struct instance *in;
    int *list; /* chunk indexes */
    int n;
    atomic_int next;
    atomic_int ok, retry, error, final_not_ok;
    atomic_long events;
    int max_attempts;
};

static void *flusher(void *arg)
{
    struct job *j = arg;
    for (;;) {
        int k = atomic_fetch_add(&j->next, 1), attempt, rc = FLB_RETRY;
        if (k >= j->n) {
            return NULL;
        }
        for (attempt = 0; attempt < j->max_attempts; attempt++) {
            rc = flush_once(j->in, &chunks[j->list[k]]);
            if (rc == FLB_OK) {
                atomic_fetch_add(&j->ok, 1);
                atomic_fetch_add(&j->events, chunks[j->list[k]].events);
                break;
            }
            if (rc == FLB_ERROR) {
                atomic_fetch_add(&j->error, 1);
                break;
            }
            atomic_fetch_add(&j->retry, 1);
            sleep_ms(100); /* Fluent Bit waits >= 5 s; sooner here */
        }
        if (rc != FLB_OK) {
            atomic_fetch_add(&j->final_not_ok, 1);
        }
    }
}

static int group_chunks(const char *group, int *list, int rounds)
{
    int n = 0, r, i;
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < nchunks; i++) {
            if (strcmp(chunks[i].group, group) == 0) {
                list[n++] = i;
            }
        }
    }
    return n;
}

static int port_open(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, (struct sockaddr *) &a, sizeof(a));
    close(fd);
    return rc == 0;
}

static int wait_port(int port, int open, int ms)
{
    double end = now_ms() + ms;
    while (now_ms() < end) {
        if (port_open(port) == open) {
            return 1;
        }
        sleep_ms(50);
    }
    return 0;
}

struct exit_flush {
    struct instance *in;
    const struct chunk *c;
    int rc;
    double ms;
};

static void *slow_flush(void *arg)
{
    struct exit_flush *x = arg;
    double t0 = now_ms();
    x->rc = flush_once(x->in, x->c);
    x->ms = now_ms() - t0;
    return NULL;
}

static const char *rc_name(int rc)
{
    return rc == FLB_OK ? "OK" : rc == FLB_RETRY ? "RETRY" : rc == FLB_ERROR ? "ERROR" : "?";
}

int main(int argc, char **argv)
{
    static struct flb_api api = {get_property, NULL};
    static struct flbgo_output_plugin plugin; /* shared, like Fluent Bit's */
    struct flb_plugin_proxy_def *def;
    void *h;
    int bench, i, good[MAX_INST], ngood = 0, emu_pid = 0, emu_port = 0, rounds = 1, flushers = 0;

    if (argc < 5) {
        fprintf(stderr, "usage: harness test SO CONF CHUNKDIR EMU_PID EMU_PORT | bench SO CONF CHUNKDIR ROUNDS\n");
        return 2;
    }
    bench = strcmp(argv[1], "bench") == 0;
    if (bench) {
        rounds = argc > 5 ? atoi(argv[5]) : 20;
        flushers = argc > 6 ? atoi(argv[6]) : 0;
    }
    else if (argc < 7) {
        fprintf(stderr, "harness test needs EMU_PID EMU_PORT\n");
        return 2;
    }
    else {
        emu_pid = atoi(argv[5]);
        emu_port = atoi(argv[6]);
    }
    if (open_blackhole() < 0 || load_conf(argv[3]) != 0 || load_chunks(argv[4]) != 0) {
        return 2;
    }

    h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    check(h != NULL, "dlopen %s", h ? argv[2] : dlerror());
    if (!h) {
        return 1;
    }
    p_register = (register_fn) must_sym(h, "FLBPluginRegister");
    p_init = (init_fn) must_sym(h, "FLBPluginInit");
    p_flush = (flush_ctx_fn) must_sym(h, "FLBPluginFlushCtx");
    p_exit = (exit_ctx_fn) must_sym(h, "FLBPluginExitCtx");
    p_unregister = (unregister_fn) must_sym(h, "FLBPluginUnregister");
    check(p_register && p_init && p_flush && p_exit && p_unregister, "all five FLBPlugin* symbols exported");
    if (!(p_register && p_init && p_flush && p_exit && p_unregister)) {
        return 1;
    }

    def = calloc(1, sizeof(*def));
    i = p_register(def);
    check(i == 0 && def->type == FLB_PROXY_OUTPUT_PLUGIN && def->proxy == FLB_PROXY_GOLANG &&
              def->name && strcmp(def->name, "nsgflow") == 0,
          "FLBPluginRegister: rc %d, type %d, proxy %d, name %s", i, def->type, def->proxy,
          def->name ? def->name : "(null)");

    plugin.api = &api;
    for (i = 0; i < ninst; i++) {
        struct instance *in = &insts[i];
        int j, distinct = 1;
        plugin.o_ins = in;
        plugin.context = &in->ctx;
        in->init_rc = p_init(&plugin);
        if (!bench || !in->expect_ok) {
            check((in->init_rc == FLB_OK) == in->expect_ok, "instance %d (%s): FLBPluginInit returned %s, expected %s", i,
                  in->group[0] ? in->group : "bad config", rc_name(in->init_rc), in->expect_ok ? "OK" : "ERROR");
        }
        if (in->init_rc == FLB_OK) {
            for (j = 0; j < ngood; j++) {
                if (insts[good[j]].ctx.remote_context == in->ctx.remote_context) {
                    distinct = 0;
                }
            }
            check(in->ctx.remote_context != NULL && distinct, "instance %d has its own context", i);
            good[ngood++] = i;
        }
    }
    /* the shared struct now points at the last instance: flushes must still
     * reach the right one through their own context */

    if (bench) {
        int threads[2] = {1, 4}, nthreads = 2, t, g;
        struct rusage ru;
        if (flushers > 0) {
            threads[0] = flushers > 4 ? 4 : flushers;
            nthreads = 1;
        }
        for (g = 0; g < ngood; g++) {
            struct instance *in = &insts[good[g]];
            if (strcmp(in->group, "stuck") == 0) {
                continue;
            }
            for (t = 0; t < nthreads; t++) {
                static int list[MAX_CHUNKS * 200];
                struct job j;
                pthread_t th[4];
                double t0, ms, c0, cms;
                int k;
                memset(&j, 0, sizeof(j));
                j.in = in;
                j.list = list;
                /* the "big" chunks when there are, else the instance's own */
                j.n = group_chunks("big", list, rounds > 200 ? 200 : rounds);
                if (j.n == 0) {
                    j.n = group_chunks(in->group, list, rounds > 200 ? 200 : rounds);
                }
                j.max_attempts = 50;
                t0 = now_ms();
                c0 = cpu_ms();
                for (k = 0; k < threads[t]; k++) {
                    pthread_create(&th[k], NULL, flusher, &j);
                }
                for (k = 0; k < threads[t]; k++) {
                    pthread_join(th[k], NULL);
                }
                ms = now_ms() - t0;
                cms = cpu_ms() - c0;
                printf("bench %s (%s) flushers=%d: %ld events in %d chunks, %.0f ms, %.0f events/s, "
                       "%.0f events per plugin CPU-second (%d retries, %d not ok)\n",
                       in->group, get_property("destination", in), threads[t], (long) j.events, j.n, ms,
                       j.events / (ms / 1000.0), j.events / (cms / 1000.0), (int) j.retry, (int) j.final_not_ok);
                fflush(stdout);
            }
        }
        for (i = 0; i < ngood; i++) {
            p_exit(insts[good[i]].ctx.remote_context);
        }
        p_unregister(def);
        getrusage(RUSAGE_SELF, &ru);
        printf("bench peak RSS: %ld KiB (the harness with its chunks loaded, and the plugin)\n", ru.ru_maxrss);
        return 0;
    }

    /* 1. Destination down: a flush returns RETRY within its deadline. */
    kill(emu_pid, SIGUSR1);
    check(wait_port(emu_port, 0, 5000), "emulator taken down (connection refused)");
    for (i = 0; i < ngood; i++) {
        struct instance *in = &insts[good[i]];
        int list[MAX_CHUNKS], n = group_chunks(in->group, list, 1), rc;
        if (n == 0) {
            continue; /* the stuck instance has no chunks of its own */
        }
        double t0 = now_ms();
        rc = flush_once(in, &chunks[list[0]]);
        check(rc == FLB_RETRY, "%s: flush while the destination is down returned %s in %.0f ms (want RETRY)", in->group,
              rc_name(rc), now_ms() - t0);
        (void) n;
    }
    kill(emu_pid, SIGUSR2);
    check(wait_port(emu_port, 1, 5000), "emulator back up");

    /* 2. Every chunk of every instance, 4 flushers per instance, all at once,
     *    the emulator injecting faults; RETRY re-flushes the same chunk. */
    {
        static struct job jobs[MAX_INST];
        static int lists[MAX_INST][MAX_CHUNKS];
        pthread_t th[MAX_INST][4];
        int k;
        for (i = 0; i < ngood; i++) {
            struct job *j = &jobs[i];
            memset(j, 0, sizeof(*j));
            j->in = &insts[good[i]];
            j->list = lists[i];
            j->n = group_chunks(j->in->group, lists[i], 1);
            j->max_attempts = 40;
            if (j->n == 0) {
                continue;
            }
            for (k = 0; k < 4; k++) {
                pthread_create(&th[i][k], NULL, flusher, j);
            }
        }
        for (i = 0; i < ngood; i++) {
            long want = 0;
            int c;
            if (jobs[i].n == 0) {
                continue;
            }
            for (k = 0; k < 4; k++) {
                pthread_join(th[i][k], NULL);
            }
            for (c = 0; c < jobs[i].n; c++) {
                want += chunks[jobs[i].list[c]].events;
            }
            check(jobs[i].final_not_ok == 0 && jobs[i].error == 0,
                  "%s: %d chunks (%ld events) flushed by 4 threads: %d OK, %d RETRY on the way, %d ERROR", jobs[i].in->group,
                  jobs[i].n, want, (int) jobs[i].ok, (int) jobs[i].retry, (int) jobs[i].error);
        }
    }

    /* 3. Garbage chunks never crash the process. */
    for (i = 0; i < ngood; i++) {
        struct instance *in = &insts[good[i]];
        int c, n = 0, bad = 0;
        if (strcmp(in->group, "stuck") == 0) {
            continue;
        }
        for (c = 0; c < nchunks; c++) {
            int rc;
            if (strcmp(chunks[c].group, "garbage") != 0) {
                continue;
            }
            rc = flush_once(in, &chunks[c]);
            n++;
            if (rc != FLB_ERROR) {
                bad++;
            }
        }
        check(n > 0 && bad == 0, "%s: %d garbage chunks each returned ERROR (%d did not)", in->group, n, bad);
        {
            struct chunk empty = {"", "", 0, "", 0};
            int rc = flush_once(in, &empty);
            check(rc == FLB_OK, "%s: an empty chunk returned %s (want OK)", in->group, rc_name(rc));
        }
    }

    /* 4. Exit: an instance whose flush hangs on a destination that never
     *    answers returns from Exit within its grace, and that flush returns
     *    RETRY; the other instances exit at once. */
    for (i = 0; i < ngood; i++) {
        struct instance *in = &insts[good[i]];
        double t0, ms;
        if (strcmp(in->group, "stuck") == 0) {
            int list[MAX_CHUNKS];
            struct exit_flush x = {in, NULL, -1, 0};
            pthread_t th;
            group_chunks("li", list, 1);
            x.c = &chunks[list[0]];
            pthread_create(&th, NULL, slow_flush, &x);
            sleep_ms(500);
            t0 = now_ms();
            p_exit(in->ctx.remote_context);
            ms = now_ms() - t0;
            pthread_join(th, NULL);
            check(ms <= in->grace_ms + 1000, "stuck: FLBPluginExitCtx returned in %.0f ms with a flush hanging (grace %d ms)",
                  ms, in->grace_ms);
            check(x.rc == FLB_RETRY, "stuck: the hanging flush returned %s %.0f ms after it started (want RETRY)",
                  rc_name(x.rc), x.ms);
            continue;
        }
        t0 = now_ms();
        p_exit(in->ctx.remote_context);
        ms = now_ms() - t0;
        check(ms <= in->grace_ms + 1000, "%s: FLBPluginExitCtx returned in %.0f ms (grace %d ms)", in->group, ms, in->grace_ms);
    }

    p_unregister(def);
    check(1, "FLBPluginUnregister returned");
    printf("harness: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
