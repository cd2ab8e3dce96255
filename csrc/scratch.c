/* The packing buffers of rungs 4-5, kept per calling thread and reused from call to call.
 * Allocated afresh on every call, buffers this large come from mmap and go back to the OS
 * each time, so every call pays a page fault per 4 KiB of them: at n = 256 that is as much
 * time as packing itself. A thread's buffers grow to the largest blocks it has used (at
 * most 2 MC x KC + KC x NC elements, a few MiB, whatever the matrix sizes) and are freed
 * when the thread ends. Compiled for the baseline ISA.
 * The per-thread slot is a POSIX thread-specific key, or on Windows a fiber-local slot
 * (FlsAlloc), whose callback frees a thread's buffers when it ends as the key's destructor
 * does: Windows has no pthreads, and MSVC's __declspec(thread) frees nothing.
 * Slots from LADDER_SCRATCH_HUGE on (the loop variant hugepages) are 2 MiB-aligned and whole
 * 2 MiB pages, advised MADV_HUGEPAGE: a float64 B panel of 464 x 4096 is 15 MB, 3700 pages of
 * 4 KiB but 8 of 2 MiB, which the TLB holds at once. Separate slots, so that a race that
 * alternates the variant call by call keeps both kinds of buffer instead of reallocating. */
#include <stdlib.h>
#include "ladder.h"
#if !defined(_WIN32)
#include <pthread.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define SLOTS 6
#define HUGE_PAGE ((size_t)2 << 20)

typedef struct {
    void *ptr[SLOTS];
    size_t bytes[SLOTS];
} thread_scratch;

static void release(void *p)
{
    thread_scratch *s = p;
    if (!s)
        return;
    for (int i = 0; i < SLOTS; i++)
        ladder_aligned_free(s->ptr[i]);
    free(s);
}

/* The calling thread's slot: key_ready() once (1 if the slot exists), then get and set. */
#if defined(_WIN32)
static DWORD key = FLS_OUT_OF_INDEXES;
static INIT_ONCE key_once = INIT_ONCE_STATIC_INIT;

static VOID NTAPI release_fls(PVOID p) { release(p); }

static BOOL CALLBACK make_key(PINIT_ONCE once, PVOID parameter, PVOID *context)
{
    (void)once, (void)parameter, (void)context;
    key = FlsAlloc(release_fls);
    return TRUE;
}

static int key_ready(void)
{
    InitOnceExecuteOnce(&key_once, make_key, NULL, NULL);
    return key != FLS_OUT_OF_INDEXES;
}
static thread_scratch *get_mine(void)
{
    return key != FLS_OUT_OF_INDEXES ? FlsGetValue(key) : NULL;
}
static int set_mine(thread_scratch *s) { return FlsSetValue(key, s) ? 0 : -1; }
#else
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int key_ok;

static void make_key(void)
{
    key_ok = pthread_key_create(&key, release) == 0;
}

static int key_ready(void)
{
    pthread_once(&key_once, make_key);
    return key_ok;
}
static thread_scratch *get_mine(void) { return key_ok ? pthread_getspecific(key) : NULL; }
static int set_mine(thread_scratch *s) { return pthread_setspecific(key, s); }
#endif

void *ladder_scratch(int slot, size_t bytes)
{
    if (slot < 0 || slot >= SLOTS || !key_ready())
        return NULL;
    thread_scratch *s = get_mine();
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return NULL;
        if (set_mine(s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->bytes[slot] < bytes) {
        ladder_aligned_free(s->ptr[slot]);
        const size_t align = slot >= LADDER_SCRATCH_HUGE ? HUGE_PAGE : 64;
        size_t rounded = (bytes + align - 1) / align * align; /* aligned_alloc wants a multiple */
        if (!rounded)
            rounded = align;
        s->ptr[slot] = ladder_aligned_alloc(align, rounded);
        s->bytes[slot] = s->ptr[slot] ? rounded : 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        /* Advice only: where the kernel has no transparent huge pages (or they are "never"),
         * it fails and the buffer keeps 4 KiB pages; the answers are the same either way. */
        if (s->ptr[slot] && align == HUGE_PAGE)
            (void)madvise(s->ptr[slot], rounded, MADV_HUGEPAGE);
#endif
    }
    return s->ptr[slot];
}

void ladder_scratch_trim(int slot, size_t keep)
{
    if (slot < 0 || slot >= SLOTS)
        return;
    thread_scratch *s = get_mine();
    if (s && s->bytes[slot] > keep) {
        ladder_aligned_free(s->ptr[slot]);
        s->ptr[slot] = NULL;
        s->bytes[slot] = 0;
    }
}
