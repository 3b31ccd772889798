/*
 * ring-bench: the C figure beside VirtualDevices' `ring-echo` benchmark. A request and its response through a Xen
 * shared ring (xen/io/ring.h, DEFINE_RING_TYPES) between two processes: the parent is the front, a forked child the
 * back, the ring in a memfd both map, notifications over two eventfds; each side spins briefly then blocks (poll, then
 * read the eventfd), as the C# sides do. Both poll the ring without asking for an event and make ring.h's final check
 * (which asks for one) only before they sleep.
 *
 *   ring-bench IN-FLIGHT COUNT SPIN [PIN]
 *
 * With PIN 1 the front runs on CPU 0 and the back on CPU 1 (as ring-echo pins its two sides).
 *
 *   ring-bench local IN-FLIGHT COUNT
 *
 * runs both ends in one thread, a batch of each in turn, and prints "N ns per round trip": the cost of the ring code
 * alone, without the second core (whose cache-line transfers and scheduling make the two-process rate vary 2-4x).
 *
 * Prints "IN-FLIGHT in flight: COUNT round trips in T s" and, last, "R round trips/s".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define xen_mb() mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()
#include <xen/xen.h>
#include <xen/io/ring.h>

struct echo_request { uint64_t id; uint64_t value; };
struct echo_response { uint64_t id; uint64_t value; };
DEFINE_RING_TYPES(echo, struct echo_request, struct echo_response);

#if defined(__x86_64__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() do { } while (0)
#endif

#define STOP UINT64_MAX

static uint64_t waits, notifications, spins;

/* This thread's voluntary context switches: its sleeps that really slept (compared with ring-echo's over noise). */
static long switches(void)
{
    struct rusage u;
    return getrusage(RUSAGE_THREAD, &u) == 0 ? u.ru_nvcsw : -1;
}

static void pin(int pinned, int cpu)
{
    if (!pinned) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) perror("ring-bench: sched_setaffinity (running unpinned)");
}

static void notify(int fd)
{
    uint64_t one = 1;
    if (write(fd, &one, sizeof one) != sizeof one) { perror("ring-bench: notify"); exit(1); }
    notifications++;
}

static void wait_for(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    waits++;
    do r = poll(&p, 1, 10000); while (r < 0 && errno == EINTR);
    if (r == 0) { fprintf(stderr, "ring-bench: no notification within 10 s\n"); exit(1); }
    uint64_t value;
    if (read(fd, &value, sizeof value) != sizeof value) { perror("ring-bench: wait"); exit(1); }
}

static void back(echo_sring_t *s, size_t size, int notify_fd, int wait_fd, int spin)
{
    echo_back_ring_t br;
    BACK_RING_INIT(&br, s, size);
    for (;;) {
        RING_IDX rp = br.sring->req_prod;
        xen_rmb();
        if (RING_REQUEST_PROD_OVERFLOW(&br, rp)) { fprintf(stderr, "ring-bench: req_prod overflow\n"); exit(1); }
        int made = 0, stop = 0, more;
        for (; br.req_cons != rp; br.req_cons++, br.rsp_prod_pvt++, made = 1) {
            struct echo_request q;
            RING_COPY_REQUEST(&br, br.req_cons, &q);
            struct echo_response *r = RING_GET_RESPONSE(&br, br.rsp_prod_pvt);
            r->id = q.id;
            r->value = q.value;
            stop |= q.value == STOP;
        }
        if (made) {
            RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&br, more);
            if (more) notify(notify_fd);
            if (stop) return;
            continue;
        }
        /* Poll without asking for an event, then ask (the final check) only before sleeping: a peer that asks for
         * events while it spins makes the other side notify, a system call, for a wake-up nobody needs. */
        more = 0;
        for (int n = 0; !more && n < spin; n++, spins++) { cpu_relax(); more = br.sring->req_prod != br.req_cons; }
        if (!more) RING_FINAL_CHECK_FOR_REQUESTS(&br, more);
        if (!more) wait_for(wait_fd);
    }
}

/* Sends COUNT requests with at most IN-FLIGHT outstanding (then one STOP), checking each echo; returns seconds. */
static double front(echo_sring_t *s, size_t size, uint64_t count, uint64_t in_flight, int notify_fd, int wait_fd, int spin)
{
    echo_front_ring_t fr;
    FRONT_RING_INIT(&fr, s, size);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t produced = 0, consumed = 0, total = count + 1;
    while (consumed < total) {
        int made = 0, got = 0, more;
        while (produced < total && produced - consumed < in_flight && !RING_FULL(&fr)) {
            struct echo_request *q = RING_GET_REQUEST(&fr, fr.req_prod_pvt);
            q->id = produced;
            q->value = produced == count ? STOP : produced * 0x9E3779B97F4A7C15ull;
            fr.req_prod_pvt++;
            produced++;
            made = 1;
        }
        if (made) {
            RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fr, more);
            if (more) notify(notify_fd);
        }
        RING_IDX rp = fr.sring->rsp_prod;
        xen_rmb();
        for (; fr.rsp_cons != rp; fr.rsp_cons++, consumed++, got = 1) {
            struct echo_response r;
            RING_COPY_RESPONSE(&fr, fr.rsp_cons, &r);
            uint64_t want = consumed == count ? STOP : consumed * 0x9E3779B97F4A7C15ull;
            if (r.id != consumed || r.value != want) { fprintf(stderr, "ring-bench: wrong echo for #%" PRIu64 "\n", consumed); exit(1); }
        }
        if (!made && !got) {
            more = 0;
            for (int n = 0; !more && n < spin; n++, spins++) { cpu_relax(); more = fr.sring->rsp_prod != fr.rsp_cons; }
            if (!more) RING_FINAL_CHECK_FOR_RESPONSES(&fr, more);
            if (!more) wait_for(wait_fd);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* The back's turn in `local`: answers every request waiting. Out of line and on a ring it only sees through a pointer,
 * so that the compiler cannot merge it with the front's turn: with both inline on a static page, gcc -O2 proved the echo
 * wrote back what it read and dropped the back's copy altogether (1.9 ns per round trip measured nothing). */
static __attribute__((noinline)) void local_back(echo_back_ring_t *br)
{
    int more;
    RING_IDX rp = br->sring->req_prod;
    xen_rmb();
    for (; br->req_cons != rp; br->req_cons++, br->rsp_prod_pvt++) {
        struct echo_request q;
        RING_COPY_REQUEST(br, br->req_cons, &q);
        struct echo_response *r = RING_GET_RESPONSE(br, br->rsp_prod_pvt);
        r->id = q.id;
        r->value = q.value;
    }
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(br, more);
    (void)more; /* nobody to notify: both ends are this thread */
}

/* Both ends in one thread: the front produces up to IN-FLIGHT, the back answers all it sees, the front checks all. */
static int local(uint64_t in_flight, uint64_t count)
{
    echo_sring_t *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) { perror("ring-bench: mmap"); return 1; }
    SHARED_RING_INIT(s);
    echo_front_ring_t fr;
    echo_back_ring_t br;
    FRONT_RING_INIT(&fr, s, 4096);
    BACK_RING_INIT(&br, s, 4096);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t produced = 0, consumed = 0;
    int more;
    while (consumed < count) {
        while (produced < count && produced - consumed < in_flight && !RING_FULL(&fr)) {
            struct echo_request *q = RING_GET_REQUEST(&fr, fr.req_prod_pvt);
            q->id = produced;
            q->value = produced * 0x9E3779B97F4A7C15ull;
            fr.req_prod_pvt++;
            produced++;
        }
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fr, more);
        local_back(&br);
        RING_IDX rp = fr.sring->rsp_prod;
        xen_rmb();
        for (; fr.rsp_cons != rp; fr.rsp_cons++, consumed++) {
            struct echo_response r;
            RING_COPY_RESPONSE(&fr, fr.rsp_cons, &r);
            if (r.id != consumed || r.value != consumed * 0x9E3779B97F4A7C15ull) { fprintf(stderr, "ring-bench: wrong echo for #%" PRIu64 "\n", consumed); return 1; }
        }
    }
    (void)more;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)count;
    printf("%.2f ns per round trip\n", ns);
    munmap(s, 4096);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "local") == 0) return local(strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10));
    if (argc != 4 && argc != 5) { fprintf(stderr, "usage: ring-bench IN-FLIGHT COUNT SPIN [PIN]\n"); return 2; }
    int pinned = argc == 5 && atoi(argv[4]) != 0;
    uint64_t in_flight = strtoull(argv[1], NULL, 10), count = strtoull(argv[2], NULL, 10);
    int spin = atoi(argv[3]);
    size_t size = 4096;
    int memfd = memfd_create("ring-bench", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, (off_t)size) != 0) { perror("ring-bench: memfd"); return 1; }
    echo_sring_t *s = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (s == MAP_FAILED) { perror("ring-bench: mmap"); return 1; }
    SHARED_RING_INIT(s);
    int to_back = eventfd(0, EFD_CLOEXEC), to_front = eventfd(0, EFD_CLOEXEC);
    if (to_back < 0 || to_front < 0) { perror("ring-bench: eventfd"); return 1; }
    pid_t child = fork();
    if (child < 0) { perror("ring-bench: fork"); return 1; }
    if (child == 0) {
        pin(pinned, 1);
        back(s, size, to_front, to_back, spin);
        printf("back: %" PRIu64 " sleeps, %" PRIu64 " notifications, %ld switches, %" PRIu64 " spins\n", waits, notifications, switches(), spins);
        fflush(stdout);
        _exit(0);
    }
    pin(pinned, 0);
    long front_switches = switches();
    double seconds = front(s, size, count, in_flight, to_back, to_front, spin);
    front_switches = switches() - front_switches;
    int status;
    if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "ring-bench: the back failed\n"); return 1; }
    printf("front: %" PRIu64 " sleeps, %" PRIu64 " notifications, %ld switches, %" PRIu64 " spins\n", waits, notifications, front_switches, spins);
    printf("%" PRIu64 " in flight: %" PRIu64 " round trips in %.3f s\n", in_flight, count, seconds);
    printf("%.0f round trips/s\n", (double)count / seconds);
    return 0;
}
