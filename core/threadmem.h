/* threadmem.h - keeping a probe thread's resident memory small.
 *
 * With one thread per probe in flight, what each thread keeps resident
 * while it waits for a server is what thousands of probes cost. Two things
 * dominate and are given back here, both as glibc itself gives back the
 * stacks of exited threads (MADV_DONTNEED: the pages read as zeros again):
 *  - the thread-local blocks of libraries that start all zero: Debian's
 *    wolfSSL has a 49 KiB per-thread fixed-point ECC cache that glibc
 *    zero-fills (and so makes resident) in every new thread, used or not;
 *  - the stack below the current frame, which a TLS handshake (wolfSSL's
 *    big-number arithmetic) deepens by about 100 KiB.
 */
#ifndef MP_THREADMEM_H
#define MP_THREADMEM_H

#include <stdbool.h>

/* Whether the measures below are worth their cost: they buy
 * memory when many probes are in flight (bench_scale.py: <= 128 KiB per
 * probe) but cost every small run page faults and system calls. The
 * engine turns them on for runs of MP_THRIFTY_MIN_THREADS threads or more;
 * off, every function below does nothing. On by default. */
void threadmem_set_thrifty(bool on);
bool threadmem_thrifty(void);

/* First thing in a thread we start: releases the pages of every
 * zero-initialised thread-local block (none of this thread's code has run
 * yet, so they still hold only zeros). */
void threadmem_thread_start(void);

/* Releases again the pages of those blocks that hold only zeros: wolfSSL's
 * ECC cache is all zeros once tls_thread_cleanup() emptied it, but the
 * pages it used stay resident. Reads a few pages; a no-op in a thread that
 * did not call threadmem_thread_start. */
void threadmem_release_zero_tls(void);

/* Releases the pages of this thread's stack below the caller's frame (less
 * a margin for the calls the caller makes next). */
void threadmem_trim_stack(void);

/* Releases the whole pages inside [from, to), part of a live allocation
 * whose contents nobody will read again: they read as zeros afterwards and
 * become resident again only if written. glibc's malloc never looks inside
 * an allocated block, so the block stays valid to use and to free. */
void threadmem_release_inside(void *from, void *to);

/* Returns the whole free pages inside the heap to the system (glibc's
 * malloc_trim): takes each malloc arena's lock in turn, so call it now and
 * then from a thread that waits, not after every probe. */
void threadmem_trim_heap(void);

#endif
