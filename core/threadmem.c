/* threadmem.c - see threadmem.h. Linux and glibc only; elsewhere, and under
 * AddressSanitizer (which keeps its own view of stacks), nothing is done. */
#include "core/threadmem.h"

#include "core/sanitizer.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

static atomic_bool thrifty = true;

void threadmem_set_thrifty(bool on)
{
	atomic_store(&thrifty, on);
}

bool threadmem_thrifty(void)
{
	return atomic_load(&thrifty);
}

#if defined(__linux__) && defined(__GLIBC__) && !defined(MP_ASAN)
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Left below the caller's frame of threadmem_trim_stack (its own frame and
 * the madvise call); a page released too eagerly is only faulted back in. */
#define THREADMEM_STACK_MARGIN 1024

/* The zero-initialised thread-local blocks of this thread (set by
 * threadmem_thread_start). */
#define THREADMEM_MAX_BLOCKS 4
static __thread uintptr_t block_from[THREADMEM_MAX_BLOCKS], block_to[THREADMEM_MAX_BLOCKS];
static __thread int nblocks;

/* Lowest address of this thread's stack, looked up once (0 = not yet,
 * 1 = unknown or the main thread, which is left alone). */
static __thread uintptr_t stack_lo;

static uintptr_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (uintptr_t)p : 4096;
}

/* Releases the whole pages inside [from, to). */
static void release(uintptr_t from, uintptr_t to)
{
	uintptr_t page = page_size();
	uintptr_t lo = (from + page - 1) & ~(page - 1);
	uintptr_t hi = to & ~(page - 1);

	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* dl_iterate_phdr callback: one loaded object's thread-local block. */
static int release_zero_tls(struct dl_phdr_info *info, size_t size, void *unused)
{
	uintptr_t from, to;

	(void)unused;
	if (size < offsetof(struct dl_phdr_info, dlpi_tls_data) + sizeof(info->dlpi_tls_data) ||
	    !info->dlpi_tls_data)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		/* Only a block with no initial image is all zeros now. */
		if (ph->p_type != PT_TLS || ph->p_filesz != 0)
			continue;
		from = (uintptr_t)info->dlpi_tls_data;
		to = from + ph->p_memsz;
		release(from, to);
		if (nblocks < THREADMEM_MAX_BLOCKS) {
			block_from[nblocks] = from;
			block_to[nblocks++] = to;
		}
	}
	return 0;
}

void threadmem_thread_start(void)
{
	nblocks = 0;
	if (!threadmem_thrifty())
		return;
	dl_iterate_phdr(release_zero_tls, NULL);
}

/* True if the page at p holds only zero bytes. */
static bool page_is_zero(const uintptr_t *p, uintptr_t page)
{
	for (uintptr_t i = 0; i < page / sizeof(*p); i++)
		if (p[i])
			return false;
	return true;
}

void threadmem_release_zero_tls(void)
{
	uintptr_t page = page_size();

	if (!threadmem_thrifty())
		return;
	for (int b = 0; b < nblocks; b++) {
		uintptr_t lo = (block_from[b] + page - 1) & ~(page - 1);

		for (uintptr_t p = lo; p + page <= block_to[b]; p += page)
			if (page_is_zero((const uintptr_t *)p, page))
				madvise((void *)p, page, MADV_DONTNEED);
	}
}

static uintptr_t lowest_stack_address(void)
{
	pthread_attr_t attr;
	void *addr = NULL;
	size_t size = 0;

	/* The main thread's stack grows on demand, and pthread_getattr_np
	 * would read /proc to find it. */
	if (syscall(SYS_gettid) == getpid())
		return 1;
	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return 1;
	if (pthread_attr_getstack(&attr, &addr, &size) != 0)
		addr = NULL;
	pthread_attr_destroy(&attr);
	return addr ? (uintptr_t)addr : 1;
}

void threadmem_trim_stack(void)
{
	volatile char here = 0;
	uintptr_t sp = (uintptr_t)&here;

	if (!threadmem_thrifty())
		return;
	if (!stack_lo)
		stack_lo = lowest_stack_address();
	if (stack_lo == 1 || sp < stack_lo + THREADMEM_STACK_MARGIN)
		return;
	release(stack_lo, sp - THREADMEM_STACK_MARGIN);
}

void threadmem_release_inside(void *from, void *to)
{
	if (from && to && threadmem_thrifty())
		release((uintptr_t)from, (uintptr_t)to);
}

void threadmem_trim_heap(void)
{
	if (threadmem_thrifty())
		malloc_trim(0);
}
#else
void threadmem_thread_start(void)
{
}

void threadmem_release_zero_tls(void)
{
}

void threadmem_trim_stack(void)
{
}

void threadmem_release_inside(void *from, void *to)
{
	(void)from;
	(void)to;
}

void threadmem_trim_heap(void)
{
}
#endif
