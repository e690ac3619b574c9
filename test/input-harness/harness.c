/*
 * input-harness: drives bin/in_nsgflow.so the way Fluent Bit's Go proxy
 * drives an input plugin, without Fluent Bit.
 *
 *   input-harness SO CONF OUT SECONDS IDLE_STOP [expect-none]
 *
 * It dlopens the plugin, calloc()s a proxy definition and calls
 * FLBPluginRegister (checking the name and type), fills the
 * flbgo_input_plugin struct whose api->input_get_property (the api's second
 * member) answers from CONF's key=value lines, calls FLBPluginInit, then
 * calls FLBPluginInputCallback every 100 ms: each non-empty buffer is
 * appended to OUT (the msgpack entries, for the Go checker) and handed back
 * through FLBPluginInputCleanupCallback, as Fluent Bit does after appending
 * it to a chunk. It stops after SECONDS, or after IDLE_STOP empty callbacks
 * in a row once something arrived, then calls FLBPluginExit. With
 * expect-none (a restart over fully checkpointed blobs) it checks that
 * nothing at all is handed over.
 *
 * It prints one line per check ("ok ..." or "FAIL ...") and a last line
 * "N passed, M failed"; the exit status is 1 when a check failed.
 *
 * The struct layouts are the prefixes fluent-bit-go reads (its
 * input/flb_input.h and input/flb_plugin.h).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FLB_ERROR 0
#define FLB_OK 1
#define FLB_PROXY_INPUT_PLUGIN 1
#define FLB_PROXY_GOLANG 11

/* Registration: what FLBPluginRegister fills. */
struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
};

/* The API table: for inputs the property getter is the SECOND member. */
struct flb_api {
    char *_reserved;
    char *(*input_get_property)(char *, void *);
};

struct flb_plugin_proxy_context {
    void *remote_context;
};

/* The struct FLBPluginInit receives. */
struct flbgo_input_plugin {
    void *_;
    struct flb_api *api;
    void *i_ins;
    struct flb_plugin_proxy_context *context;
};

typedef int (*register_fn)(void *);
typedef int (*init_fn)(void *);
typedef int (*callback_fn)(void **, size_t *);
typedef int (*cleanup_fn)(void *);
typedef int (*exit_fn)(void);

/* The instance's configuration: key=value pairs. */
struct kv {
    char *key;
    char *val;
};
struct conf {
    struct kv items[128];
    int n;
};

static int passed, failed;

static void check(int ok, const char *fmt, const char *detail)
{
    if (ok) {
        passed++;
        printf("ok   ");
    } else {
        failed++;
        printf("FAIL ");
    }
    printf(fmt, detail ? detail : "");
    printf("\n");
    fflush(stdout);
}

/* Fluent Bit's lookup is case-insensitive and gives NULL when unset. */
static char *get_property(char *key, void *ins)
{
    struct conf *c = ins;
    for (int i = 0; i < c->n; i++) {
        if (strcasecmp(c->items[i].key, key) == 0) {
            return c->items[i].val;
        }
    }
    return NULL;
}

static int load_conf(const char *path, struct conf *c)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[4096];
    while (fgets(line, sizeof line, f) && c->n < 128) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#' || line[0] == 0) {
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq) {
            continue;
        }
        *eq = 0;
        c->items[c->n].key = strdup(line);
        c->items[c->n].val = strdup(eq + 1);
        c->n++;
    }
    fclose(f);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 6 && !(argc == 7 && strcmp(argv[6], "expect-none") == 0)) {
        fprintf(stderr, "usage: %s SO CONF OUT SECONDS IDLE_STOP [expect-none]\n", argv[0]);
        return 2;
    }
    int expect_none = argc == 7;
    const char *so = argv[1];
    double seconds = atof(argv[4]);
    int idle_stop = atoi(argv[5]);
    struct conf conf = {0};
    if (load_conf(argv[2], &conf) != 0) {
        return 2;
    }
    FILE *out = fopen(argv[3], "wb");
    if (!out) {
        perror(argv[3]);
        return 2;
    }

    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen %s: %s\n", so, dlerror());
        return 2;
    }
    register_fn reg = (register_fn)dlsym(h, "FLBPluginRegister");
    init_fn init = (init_fn)dlsym(h, "FLBPluginInit");
    callback_fn cb = (callback_fn)dlsym(h, "FLBPluginInputCallback");
    cleanup_fn cleanup = (cleanup_fn)dlsym(h, "FLBPluginInputCleanupCallback");
    exit_fn ex = (exit_fn)dlsym(h, "FLBPluginExit");
    check(reg && init && cb && cleanup && ex, "the five input exports are present%s", NULL);
    if (!(reg && init && cb && cleanup && ex)) {
        printf("%d passed, %d failed\n", passed, failed);
        return 1;
    }

    struct flb_plugin_proxy_def *def = calloc(1, sizeof *def);
    int rc = reg(def);
    check(rc == 0 && def->type == FLB_PROXY_INPUT_PLUGIN && def->proxy == FLB_PROXY_GOLANG,
          "register: input plugin of the Go proxy%s", NULL);
    check(def->name && strcmp(def->name, "nsgflow_blob") == 0, "register: name %s", def->name);

    struct flb_api api = {NULL, get_property};
    struct flb_plugin_proxy_context ctx = {NULL};
    struct flbgo_input_plugin plugin = {NULL, &api, &conf, &ctx};
    rc = init(&plugin);
    check(rc == FLB_OK, "init returns FLB_OK%s", NULL);
    if (rc != FLB_OK) {
        ex();
        printf("%d passed, %d failed\n", passed, failed);
        return 1;
    }

    /* A second instance in the same process is refused (no per-instance
     * context in fluent-bit-go inputs). */
    struct flbgo_input_plugin plugin2 = {NULL, &api, &conf, &ctx};
    check(init(&plugin2) == FLB_ERROR, "a second instance is refused%s", NULL);

    double start = now_s();
    long buffers = 0, bytes = 0, empty = 0, calls = 0;
    int idle = 0, null_with_size = 0, rc_bad = 0;
    while (now_s() - start < seconds) {
        void *data = NULL;
        size_t size = 12345; /* the plugin must set it */
        rc = cb(&data, &size);
        calls++;
        if (rc != FLB_OK && rc != 0) {
            rc_bad++;
        }
        if (size == 0) {
            empty++;
            if (buffers > 0 && ++idle >= idle_stop) {
                break;
            }
        } else {
            idle = 0;
            if (data == NULL) {
                null_with_size++;
            } else {
                fwrite(data, 1, size, out);
                buffers++;
                bytes += (long)size;
                /* Fluent Bit appends the buffer to a chunk, then: */
                cleanup(data);
            }
        }
        sleep_ms(100);
    }
    fclose(out);
    char detail[128];
    snprintf(detail, sizeof detail, "%ld buffers, %ld bytes in %ld calls", buffers, bytes, calls);
    if (expect_none) {
        check(buffers == 0, "nothing handed over again after a restart (%s)", detail);
    } else {
        check(buffers > 0, "callback handed records over (%s)", detail);
    }
    check(null_with_size == 0, "no NULL buffer with a size%s", NULL);
    check(rc_bad == 0, "callback returns FLB_OK%s", NULL);

    double t0 = now_s();
    rc = ex();
    double took = now_s() - t0;
    snprintf(detail, sizeof detail, "%.2fs", took);
    check(rc == FLB_OK && took < 5.0, "exit returns FLB_OK within Fluent Bit's grace (%s)", detail);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
