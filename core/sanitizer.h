/* sanitizer.h - MP_ASAN is defined when AddressSanitizer is on (GCC defines
 * __SANITIZE_ADDRESS__, Clang answers __has_feature). Code that plays with
 * memory behind malloc's back (threadmem.c, the ECC point pool of
 * tls_thread.c) or sizes stacks (engine.c) steps aside then. */
#ifndef MP_SANITIZER_H
#define MP_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define MP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MP_ASAN 1
#endif
#endif

/* ThreadSanitizer keeps its per-thread state in zero-initialised TLS and
 * needs bigger stacks: the same code steps aside (the MP_TSAN build).
 * MP_TSAN alone: getaddrinfo_a's helper threads are glibc's own, unknown to
 * ThreadSanitizer, so net.c resolves with blocking getaddrinfo there. */
#if defined(__SANITIZE_THREAD__)
#define MP_ASAN 1
#define MP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MP_ASAN 1
#define MP_TSAN 1
#endif
#endif

#endif
