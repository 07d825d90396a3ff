// LD_PRELOAD shim: counts malloc/calloc/realloc/posix_memalign calls and prints the total at
// exit. Build: gcc -O2 -shared -fPIC -o /tmp/malloc-count.so Benchmarks/malloc-count.c -ldl
// Use: allocations per record = (count(N2) - count(N1)) / (N2 - N1).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>

static atomic_long calls;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_memalign)(void **, size_t, size_t);
static char bootstrap[4096];
static size_t bootstrap_used;

static void report(void) { fprintf(stderr, "malloc-count: %ld allocations\n", (long)atomic_load(&calls)); }

__attribute__((constructor)) static void init(void) {
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    atexit(report);
}

void *malloc(size_t n) { atomic_fetch_add(&calls, 1); if (!real_malloc) init(); return real_malloc(n); }
void *calloc(size_t a, size_t b) {
    if (!real_calloc) { void *p = bootstrap + bootstrap_used; bootstrap_used += (a * b + 15) & ~15UL; return p; }  // dlsym itself calls calloc
    atomic_fetch_add(&calls, 1); return real_calloc(a, b);
}
void *realloc(void *p, size_t n) { atomic_fetch_add(&calls, 1); if (!real_realloc) init(); return real_realloc(p, n); }
int posix_memalign(void **p, size_t a, size_t n) { atomic_fetch_add(&calls, 1); if (!real_memalign) init(); return real_memalign(p, a, n); }
