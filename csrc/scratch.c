/* The packing buffers of rungs 4-5, kept per calling thread and reused from call to call.
 * Allocated afresh on every call, buffers this large come from mmap and go back to the OS
 * each time, so every call pays a page fault per 4 KiB of them: at n = 256 that is as much
 * time as packing itself. A thread's buffers grow to the largest blocks it has used (at
 * most 2 MC x KC + KC x NC elements, a few MiB, whatever the matrix sizes) and are freed
 * when the thread ends. Compiled for the baseline ISA. */
#include <pthread.h>
#include <stdlib.h>
#include "ladder.h"

#define SLOTS 4

typedef struct {
    void *ptr[SLOTS];
    size_t bytes[SLOTS];
} thread_scratch;

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int key_ok;

static void release(void *p)
{
    thread_scratch *s = p;
    for (int i = 0; i < SLOTS; i++)
        free(s->ptr[i]);
    free(s);
}

static void make_key(void)
{
    key_ok = pthread_key_create(&key, release) == 0;
}

void *ladder_scratch(int slot, size_t bytes)
{
    if (slot < 0 || slot >= SLOTS)
        return NULL;
    pthread_once(&key_once, make_key);
    if (!key_ok)
        return NULL;
    thread_scratch *s = pthread_getspecific(key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return NULL;
        if (pthread_setspecific(key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->bytes[slot] < bytes) {
        free(s->ptr[slot]);
        const size_t rounded = (bytes + 63) / 64 * 64; /* aligned_alloc wants a multiple */
        s->ptr[slot] = aligned_alloc(64, rounded ? rounded : 64);
        s->bytes[slot] = s->ptr[slot] ? rounded : 0;
    }
    return s->ptr[slot];
}

void ladder_scratch_trim(int slot, size_t keep)
{
    if (slot < 0 || slot >= SLOTS || !key_ok)
        return;
    thread_scratch *s = pthread_getspecific(key);
    if (s && s->bytes[slot] > keep) {
        free(s->ptr[slot]);
        s->ptr[slot] = NULL;
        s->bytes[slot] = 0;
    }
}
