/*
 * The C end of VirtualDevices' shared-ring byte compatibility test: compiled with gcc against Xen's public
 * xen/io/ring.h, with the ring types netif.h and blkif.h define (DEFINE_RING_TYPES), it plays one end of a ring in
 * pages the test maps too, and checks every field of everything the other end sends.
 *
 *   ring-peer front|back blkif|netif-tx SHM-PATH PAGE-ORDER COUNT IN-FLIGHT NOTIFY-FD WAIT-FD SPIN
 *
 * front: initialises the ring (SHARED_RING_INIT), prints "ready SIZE", sends COUNT requests with at most IN-FLIGHT
 *        outstanding, and checks each response.
 * back:  attaches to the ring the other end initialised, checks each of COUNT requests and answers it.
 * Notifications: write 1 to NOTIFY-FD (an eventfd the parent passed down); sleep by reading WAIT-FD, after
 * RING_FINAL_CHECK_FOR_* and SPIN polls of the ring. Every wait is bounded (10 s) so a lost wake-up fails, not hangs.
 * Prints "done requests=N notifications=K waits=W" on success; exits 1 with the first mismatch otherwise.
 *
 * A malicious back, for the malicious-peer tests: an eleventh argument EVIL makes the back misbehave once it answered
 * EVIL_AT requests (then it stops and waits to be killed):
 *   ids        the next response carries an id never issued (blkif: the id's complement; netif: id + 0x8000)
 *   backwards  once the front has seen every response (its req_prod is a window past them), rsp_prod goes back by 2
 *   past       rsp_prod jumps two rings past the responses produced
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ring.h leaves the barriers to its includer (the kernel's own, in a guest); these are the C11 equivalents. */
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define xen_mb() mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()
#include <xen/xen.h>
#include <xen/io/ring.h>
#include <xen/io/netif.h>
#include <xen/io/blkif.h>

#define EVIL_AT 1000
enum evil { EVIL_NONE, EVIL_IDS, EVIL_BACKWARDS, EVIL_PAST };
static enum evil evil;
static int notify_fd, wait_fd, spin;
static uint64_t notifications, waits;

static void fail(const char *what, uint64_t i, uint64_t got, uint64_t want)
{
    fprintf(stderr, "ring-peer: %s of #%" PRIu64 " is %" PRIu64 ", expected %" PRIu64 "\n", what, i, got, want);
    exit(1);
}

#define CHECK(what, i, got, want) do { if ((uint64_t)(got) != (uint64_t)(want)) fail(what, i, (uint64_t)(got), (uint64_t)(want)); } while (0)

static void notify_peer(void)
{
    uint64_t one = 1;
    if (write(notify_fd, &one, sizeof one) != sizeof one) { perror("ring-peer: notify"); exit(1); }
    notifications++;
}

static void wait_peer(void)
{
    struct pollfd p = { .fd = wait_fd, .events = POLLIN };
    int r;
    waits++;
    do r = poll(&p, 1, 10000); while (r < 0 && errno == EINTR);
    if (r == 0) { fprintf(stderr, "ring-peer: no notification within 10 s\n"); exit(1); }
    uint64_t value;
    if (read(wait_fd, &value, sizeof value) != sizeof value) { perror("ring-peer: wait"); exit(1); }
}

/* The payloads: every field a function of the request's sequence number, as the C# side computes them. */
static void blkif_make(blkif_request_t *q, uint64_t i)
{
    q->operation = (uint8_t)(i & 1);
    q->nr_segments = (uint8_t)(1 + i % BLKIF_MAX_SEGMENTS_PER_REQUEST);
    q->handle = (uint16_t)(i * 7);
    q->id = i * 0x9E3779B97F4A7C15ull;
    q->sector_number = i * 8 + 3;
    for (int k = 0; k < q->nr_segments; k++) {
        q->seg[k].gref = (uint32_t)(i + (uint64_t)k * 1000003);
        q->seg[k].first_sect = (uint8_t)k;
        q->seg[k].last_sect = (uint8_t)(7 - k % 8);
    }
}

static void blkif_check(const blkif_request_t *q, uint64_t i)
{
    if (evil == EVIL_IDS)
        return; /* the front under test is the tracking one: its ids are its table's, its requests in any order */
    blkif_request_t w;
    blkif_make(&w, i);
    CHECK("blkif operation", i, q->operation, w.operation);
    CHECK("blkif nr_segments", i, q->nr_segments, w.nr_segments);
    CHECK("blkif handle", i, q->handle, w.handle);
    CHECK("blkif id", i, q->id, w.id);
    CHECK("blkif sector_number", i, q->sector_number, w.sector_number);
    for (int k = 0; k < w.nr_segments; k++) {
        CHECK("blkif seg.gref", i, q->seg[k].gref, w.seg[k].gref);
        CHECK("blkif seg.first_sect", i, q->seg[k].first_sect, w.seg[k].first_sect);
        CHECK("blkif seg.last_sect", i, q->seg[k].last_sect, w.seg[k].last_sect);
    }
}

static void blkif_answer(blkif_response_t *r, const blkif_request_t *q, uint64_t i)
{
    r->id = evil == EVIL_IDS && i == EVIL_AT ? ~q->id : q->id;
    r->operation = q->operation;
    r->status = (int16_t)(i % 3) - 1;
}

static void blkif_check_response(const blkif_response_t *r, uint64_t i)
{
    blkif_request_t w;
    blkif_make(&w, i);
    CHECK("blkif response id", i, r->id, w.id);
    CHECK("blkif response operation", i, r->operation, w.operation);
    CHECK("blkif response status", i, (uint16_t)r->status, (uint16_t)((int16_t)(i % 3) - 1));
}

static void tx_make(netif_tx_request_t *q, uint64_t i)
{
    q->gref = (uint32_t)(i * 2654435761u);
    q->offset = (uint16_t)(i & 0xfff);
    q->flags = (uint16_t)(i & 0xf);
    q->id = (uint16_t)i;
    q->size = (uint16_t)(i * 13);
}

static void tx_check(const netif_tx_request_t *q, uint64_t i)
{
    netif_tx_request_t w;
    tx_make(&w, i);
    CHECK("tx gref", i, q->gref, w.gref);
    CHECK("tx offset", i, q->offset, w.offset);
    CHECK("tx flags", i, q->flags, w.flags);
    CHECK("tx id", i, q->id, w.id);
    CHECK("tx size", i, q->size, w.size);
}

static void tx_answer(netif_tx_response_t *r, const netif_tx_request_t *q, uint64_t i)
{
    r->id = evil == EVIL_IDS && i == EVIL_AT ? (uint16_t)(q->id + 0x8000) : q->id;
    r->status = (int16_t)(i % 3) - 1;
}

static void tx_check_response(const netif_tx_response_t *r, uint64_t i)
{
    CHECK("tx response id", i, r->id, (uint16_t)i);
    CHECK("tx response status", i, (uint16_t)r->status, (uint16_t)((int16_t)(i % 3) - 1));
}

/* The malicious back's misdeed, after it published `published` responses; then it waits to be killed. */
static void misbehave(volatile RING_IDX *req_prod, volatile RING_IDX *rsp_prod, RING_IDX published, unsigned int size)
{
    if (evil == EVIL_BACKWARDS) {
        /* The front produces request k + size only once it consumed response k: at req_prod == published + size it
         * has seen rsp_prod == published, so going back now is seen as going back, not as a slow producer. */
        for (int n = 0; *req_prod - published < size; n++) {
            if (n > 100000) { fprintf(stderr, "ring-peer: the front did not fill the ring within 10 s\n"); exit(1); }
            usleep(100);
        }
        *rsp_prod = published - 2;
    } else if (evil == EVIL_PAST) {
        *rsp_prod = published + 2 * size;
    }
    xen_mb();
    notify_peer();
    printf("misbehaved\n");
    fflush(stdout);
    sleep(60);
    exit(3);
}

/* One front and one back per ring type, written once with the ring.h macros. */
#define DEFINE_PEER(NAME, MAKE, CHECK_RSP, CHECK_REQ, ANSWER, REQ_T, RSP_T)                                  \
static void NAME##_front(void *pages, size_t size, uint64_t count, uint64_t in_flight)                     \
{                                                                                                           \
    NAME##_sring_t *s = pages;                                                                              \
    NAME##_front_ring_t fr;                                                                                 \
    SHARED_RING_INIT(s);                                                                                    \
    FRONT_RING_INIT(&fr, s, size);                                                                          \
    printf("ready %u\n", RING_SIZE(&fr));                                                                   \
    fflush(stdout);                                                                                         \
    uint64_t produced = 0, consumed = 0;                                                                    \
    while (consumed < count) {                                                                              \
        int made = 0, got = 0, notify;                                                                      \
        while (produced < count && produced - consumed < in_flight && !RING_FULL(&fr)) {                    \
            MAKE(RING_GET_REQUEST(&fr, fr.req_prod_pvt), produced);                                         \
            fr.req_prod_pvt++;                                                                              \
            produced++;                                                                                     \
            made = 1;                                                                                       \
        }                                                                                                   \
        if (made) {                                                                                         \
            RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fr, notify);                                               \
            if (notify) notify_peer();                                                                      \
        }                                                                                                   \
        RING_IDX rp = fr.sring->rsp_prod;                                                                   \
        xen_rmb();                                                                                          \
        for (; fr.rsp_cons != rp; fr.rsp_cons++, consumed++, got = 1) {                                     \
            RSP_T r;                                                                                        \
            RING_COPY_RESPONSE(&fr, fr.rsp_cons, &r);                                                       \
            CHECK_RSP(&r, consumed);                                                                        \
        }                                                                                                   \
        if (!made && !got) {                                                                                \
            int more;                                                                                       \
            RING_FINAL_CHECK_FOR_RESPONSES(&fr, more);                                                      \
            for (int n = 0; !more && n < spin; n++) more = fr.sring->rsp_prod != fr.rsp_cons;               \
            if (!more) wait_peer();                                                                         \
        }                                                                                                   \
    }                                                                                                       \
}                                                                                                           \
                                                                                                            \
static void NAME##_back(void *pages, size_t size, uint64_t count)                                          \
{                                                                                                           \
    NAME##_back_ring_t br;                                                                                  \
    BACK_RING_INIT(&br, (NAME##_sring_t *)pages, size);                                                     \
    printf("ready %u\n", RING_SIZE(&br));                                                                   \
    fflush(stdout);                                                                                         \
    uint64_t served = 0;                                                                                    \
    while (served < count) {                                                                                \
        RING_IDX rp = br.sring->req_prod;                                                                   \
        xen_rmb();                                                                                          \
        if (RING_REQUEST_PROD_OVERFLOW(&br, rp)) { fprintf(stderr, "ring-peer: req_prod overflow\n"); exit(1); } \
        int made = 0, notify;                                                                               \
        for (; br.req_cons != rp; br.req_cons++, br.rsp_prod_pvt++, served++, made = 1) {                   \
            REQ_T q;                                                                                        \
            RING_COPY_REQUEST(&br, br.req_cons, &q);                                                        \
            CHECK_REQ(&q, served);                                                                          \
            ANSWER(RING_GET_RESPONSE(&br, br.rsp_prod_pvt), &q, served);                                    \
        }                                                                                                   \
        if (made) {                                                                                         \
            RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&br, notify);                                              \
            if (notify) notify_peer();                                                                      \
            if (evil != EVIL_NONE && served > EVIL_AT) misbehave(&br.sring->req_prod, &br.sring->rsp_prod,   \
                                                                 br.rsp_prod_pvt, RING_SIZE(&br));          \
        } else {                                                                                            \
            int more;                                                                                       \
            RING_FINAL_CHECK_FOR_REQUESTS(&br, more);                                                       \
            for (int n = 0; !more && n < spin; n++) more = br.sring->req_prod != br.req_cons;               \
            if (!more) wait_peer();                                                                         \
        }                                                                                                   \
    }                                                                                                       \
}

DEFINE_PEER(blkif, blkif_make, blkif_check_response, blkif_check, blkif_answer, blkif_request_t, blkif_response_t)
DEFINE_PEER(netif_tx, tx_make, tx_check_response, tx_check, tx_answer, netif_tx_request_t, netif_tx_response_t)

int main(int argc, char **argv)
{
    if (argc != 10 && argc != 11) {
        fprintf(stderr, "usage: ring-peer front|back blkif|netif-tx SHM-PATH PAGE-ORDER COUNT IN-FLIGHT NOTIFY-FD WAIT-FD SPIN [ids|backwards|past]\n");
        return 2;
    }
    if (argc == 11)
        evil = strcmp(argv[10], "ids") == 0 ? EVIL_IDS : strcmp(argv[10], "backwards") == 0 ? EVIL_BACKWARDS : EVIL_PAST;
    int front = strcmp(argv[1], "front") == 0, blkif = strcmp(argv[2], "blkif") == 0;
    size_t size = (size_t)4096 << atoi(argv[4]);
    uint64_t count = strtoull(argv[5], NULL, 10), in_flight = strtoull(argv[6], NULL, 10);
    notify_fd = atoi(argv[7]);
    wait_fd = atoi(argv[8]);
    spin = atoi(argv[9]);
    int fd = open(argv[3], O_RDWR);
    if (fd < 0) { perror("ring-peer: open"); return 1; }
    void *pages = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (pages == MAP_FAILED) { perror("ring-peer: mmap"); return 1; }
    if (front && blkif) blkif_front(pages, size, count, in_flight);
    else if (front) netif_tx_front(pages, size, count, in_flight);
    else if (blkif) blkif_back(pages, size, count);
    else netif_tx_back(pages, size, count);
    printf("done requests=%" PRIu64 " notifications=%" PRIu64 " waits=%" PRIu64 "\n", count, notifications, waits);
    return 0;
}
