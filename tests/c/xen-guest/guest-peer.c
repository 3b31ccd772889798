/*
 * The guest's end of the Xen lab's dom0<->guest checks (tests/VirtualDevices.XenLab.Devices/GuestChecks.cs): runs
 * inside the lab's PV guest (Debian kernel, busybox ramdisk: no .NET there), compiled static on the host with gcc
 * against Xen's public headers (xen/io/ring.h, xen/io/xs_wire.h) and Linux's device interfaces
 * (xen/{gntalloc,gntdev,evtchn}.h).
 *
 *   guest-peer            (no arguments; the guest's lab-guest.sh starts it in the background)
 *
 * Rendezvous through xenstore over /dev/xen/xenbus, in the guest's own home (relative paths: data/lab/...), on nodes
 * the guest creates (so they are the guest's, and dom0, privileged, reads and writes them whatever the daemon's rule
 * for a new node's owner):
 *   data/lab/cmd   dom0 writes "N VERB ARGS..." (N counts from 1)
 *   data/lab/res   the guest answers "N ok ..." or "N fail WHY"; "0 ready" when the devices opened, "0 fail WHY"
 *                  when one did not (a missing module). A ring the guest fronts first answers "N setup REF PORT".
 * The guest watches data/lab/cmd (and re-reads it every 200 ms whatever the watch does).
 *
 * Verbs (domain 0 is always the other end):
 *   grant PAGES SEED          gntalloc PAGES pages writable for dom0, filled with pattern(SEED) -> "ok REF,REF..."
 *   check-granted REF SEED    the granted pages (first ref REF) hold pattern(SEED)                -> "ok"
 *   ungrant REF               gntalloc's dealloc and munmap (the kernel ends the grant when dom0 lets go)
 *   map REFS SEED NEWSEED     gntdev maps dom0's refs (comma-separated) read-write, checks pattern(SEED), writes
 *                             pattern(NEWSEED)                                                    -> "ok"
 *   check-mapped REF SEED NEWSEED   the same on a kept mapping (first ref REF)
 *   unmap REF                 munmap and gntdev's UNMAP_GRANT_REF
 *   bind PORT                 evtchn: bind dom0's unbound PORT, take the event Xen marks pending at a bind
 *                                                                                     -> "ok LOCALPORT 1|0"
 *   unbound                   evtchn: an unbound port for dom0                                    -> "ok PORT"
 *   wait PORT MS              an event on PORT within MS ms (other ports' events are counted)     -> "ok"
 *   notify PORT / unbind PORT
 *   ring-back REF PORT COUNT  dom0 fronts a one-page ring (REF, dom0's unbound PORT): map it, bind, answer COUNT
 *                             requests (every payload checked), RING_FINAL_CHECK_FOR_REQUESTS before each sleep
 *   ring-front COUNT INFLIGHT the guest fronts: grants a page, SHARED_RING_INIT, an unbound port for dom0, answers
 *                             "N setup REF PORT", then sends COUNT requests, at most INFLIGHT outstanding, checking
 *                             every response; RING_FINAL_CHECK_FOR_RESPONSES before each sleep
 *   net-name DEV              the network interface the xen-netfront device DEV (vif-0) registered  -> "ok NAME"
 *   net-up NAME               IFF_UP on the interface                                              -> "ok MAC"
 *   net-send NAME COUNT SEED  COUNT frames of ethertype 0x88b5 to the broadcast address (frame(): index, length,
 *                             pattern), one AF_PACKET sendto each                                  -> "ok SENT"
 *   net-recv NAME COUNT SEED MS HOLD   an AF_PACKET socket for ethertype 0x88b6 (room for COUNT frames), then
 *                             "N setup"; after HOLD ms, COUNT frames within MS ms, each checked as frame() makes it,
 *                             in order                                           -> "ok COUNT dropped DROPS"
 *   net-stats NAME            the interface's counters                              -> "ok TXPACKETS RXPACKETS"
 *   net-unbind DEV            unbinds xen-netfront from DEV (sysfs): its close runs to its end  -> "ok"
 *   net-gone DEV MS           the xenbus device DEV is gone within MS ms (the toolstack removed it)   -> "ok"
 *   quit
 * Every wait is bounded (10 s for an event in a ring): a lost wake-up fails the verb, it never hangs the guest.
 * The payloads (pattern(), lab_req/lab_rsp) are those of GuestPeerProtocol.cs on dom0's side.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define xen_mb() mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()

/* Linux's evtchn.h and gntdev.h use Xen's types without defining them (the kernel has them from its own headers). */
typedef uint16_t domid_t;
typedef uint32_t grant_ref_t;
#include <xen/evtchn.h>
#include <xen/gntalloc.h>
#include <xen/gntdev.h>
#include <xen/io/ring.h>
#include <xen/io/xs_wire.h>

#define PAGE 4096
#define RING_WAIT_MS 10000

/* The ring's entries: 64 bytes each, so a one-page ring holds 32. */
struct lab_req { uint32_t seq; uint32_t len; uint8_t data[56]; };
struct lab_rsp { uint32_t seq; uint32_t sum; uint8_t data[56]; };
DEFINE_RING_TYPES(lab, struct lab_req, struct lab_rsp);

static uint8_t pattern(uint32_t seed, size_t i) { return (uint8_t)(seed * 31u + i * 7u + (i >> 8) + 1u); }
static uint8_t req_byte(uint32_t seq, size_t i) { return (uint8_t)(seq * 131u + i * 7u + 0x5Au); }
/* The back's answer to a request: each byte complemented and mixed with its index; sum = seq + the bytes. */
static void answer(const struct lab_req *q, struct lab_rsp *p)
{
  uint32_t sum = q->seq;
  p->seq = q->seq;
  for (size_t i = 0; i < sizeof q->data; i++) { p->data[i] = (uint8_t)(~q->data[i] ^ i); sum += q->data[i]; }
  p->sum = sum;
}
static void fill_request(uint32_t seq, struct lab_req *q)
{
  q->seq = seq; q->len = sizeof q->data;
  for (size_t i = 0; i < sizeof q->data; i++) q->data[i] = req_byte(seq, i);
}
static int check_request(const struct lab_req *q, uint32_t seq, char *why, size_t cap)
{
  if (q->seq != seq || q->len != sizeof q->data) { snprintf(why, cap, "request %u: seq %u len %u", seq, q->seq, q->len); return -1; }
  for (size_t i = 0; i < sizeof q->data; i++)
    if (q->data[i] != req_byte(seq, i)) { snprintf(why, cap, "request %u: byte %zu is %u, not %u", seq, i, q->data[i], req_byte(seq, i)); return -1; }
  return 0;
}
static int check_response(const struct lab_rsp *p, uint32_t seq, char *why, size_t cap)
{
  struct lab_req q; struct lab_rsp want;
  fill_request(seq, &q); answer(&q, &want);
  if (memcmp(p, &want, sizeof want) != 0) { snprintf(why, cap, "response %u: seq %u sum %u (want %u)", seq, p->seq, p->sum, want.sum); return -1; }
  return 0;
}

static void say(const char *fmt, ...)
{
  va_list ap; va_start(ap, fmt);
  fputs("guest-peer: ", stdout); vprintf(fmt, ap); fputc('\n', stdout); fflush(stdout);
  va_end(ap);
}

/* ---- xenstore over /dev/xen/xenbus ---------------------------------------------------------------------------- */
static int xb = -1;
static uint32_t xb_req;
static int watch_fired;

static int read_full(int fd, void *buf, size_t len)
{
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    got += (size_t)n;
  }
  return 0;
}

/* Reads one message; a watch event is noted and skipped when a reply is wanted. */
static int xs_recv(struct xsd_sockmsg *h, char *body, size_t cap)
{
  if (read_full(xb, h, sizeof *h) < 0) return -1;
  char scratch[XENSTORE_PAYLOAD_MAX + 1];
  if (h->len > XENSTORE_PAYLOAD_MAX) return -1;
  if (read_full(xb, scratch, h->len) < 0) return -1;
  scratch[h->len] = 0;
  if (h->type == XS_WATCH_EVENT) { watch_fired = 1; return 1; }
  if (body) { size_t n = h->len < cap - 1 ? h->len : cap - 1; memcpy(body, scratch, n); body[n] = 0; }
  return 0;
}

/* One request; returns the reply's length, or -1 (an XS_ERROR, whose name is left in out). */
static int xs_call(uint32_t type, const char *a, size_t alen, const char *b, size_t blen, char *out, size_t cap)
{
  char msg[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
  struct xsd_sockmsg h = { .type = type, .req_id = ++xb_req, .tx_id = 0, .len = (uint32_t)(alen + blen) };
  memcpy(msg, &h, sizeof h); memcpy(msg + sizeof h, a, alen); if (blen) memcpy(msg + sizeof h + alen, b, blen);
  if (write(xb, msg, sizeof h + alen + blen) != (ssize_t)(sizeof h + alen + blen)) return -1;
  for (;;) {
    struct xsd_sockmsg r; int k = xs_recv(&r, out, cap);
    if (k < 0) return -1;
    if (k == 1) continue;
    return r.type == XS_ERROR ? -1 : (int)r.len;
  }
}
static int xs_read(const char *path, char *out, size_t cap) { return xs_call(XS_READ, path, strlen(path) + 1, NULL, 0, out, cap); }
static int xs_write(const char *path, const char *value)
{
  char ok[64];
  return xs_call(XS_WRITE, path, strlen(path) + 1, value, strlen(value), ok, sizeof ok) < 0 ? -1 : 0;
}

static void answerf(unsigned n, const char *fmt, ...)
{
  char text[2048]; int k = snprintf(text, sizeof text, "%u ", n);
  va_list ap; va_start(ap, fmt); vsnprintf(text + k, sizeof text - (size_t)k, fmt, ap); va_end(ap);
  say("res %s", text);
  if (xs_write("data/lab/res", text) < 0) say("writing data/lab/res failed: %s", strerror(errno));
}

/* ---- the devices ---------------------------------------------------------------------------------------------- */
static int ga = -1, gd = -1, ev = -1;

struct grant { uint32_t first; uint32_t count; uint64_t index; uint8_t *mem; int mapped; };
#define SLOTS 16
static struct grant grants[SLOTS];   /* gntalloc's shares (mapped = 0) and gntdev's maps (mapped = 1) */

static struct grant *slot_new(void) { for (int i = 0; i < SLOTS; i++) if (!grants[i].mem) return &grants[i]; return NULL; }
static struct grant *slot_find(uint32_t first, int mapped)
{
  for (int i = 0; i < SLOTS; i++) if (grants[i].mem && grants[i].first == first && grants[i].mapped == mapped) return &grants[i];
  return NULL;
}

static struct grant *share(uint32_t count, uint32_t *refs, char *why, size_t cap)
{
  struct grant *g = slot_new();
  size_t bytes = offsetof(struct ioctl_gntalloc_alloc_gref, gref_ids) + count * sizeof(uint32_t);
  struct ioctl_gntalloc_alloc_gref *a = calloc(1, bytes < sizeof *a ? sizeof *a : bytes);
  if (!g || !a) { snprintf(why, cap, "no slot"); free(a); return NULL; }
  a->domid = 0; a->flags = GNTALLOC_FLAG_WRITABLE; a->count = count;
  if (ioctl(ga, IOCTL_GNTALLOC_ALLOC_GREF, a) < 0) { snprintf(why, cap, "IOCTL_GNTALLOC_ALLOC_GREF: %s", strerror(errno)); free(a); return NULL; }
  void *m = mmap(NULL, count * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ga, (off_t)a->index);
  if (m == MAP_FAILED) { snprintf(why, cap, "mmap gntalloc: %s", strerror(errno)); free(a); return NULL; }
  for (uint32_t i = 0; i < count; i++) refs[i] = a->gref_ids[i];
  *g = (struct grant){ .first = a->gref_ids[0], .count = count, .index = a->index, .mem = m, .mapped = 0 };
  free(a);
  return g;
}

static void unshare(struct grant *g)
{
  struct ioctl_gntalloc_dealloc_gref d = { .index = g->index, .count = g->count };
  munmap(g->mem, g->count * PAGE);
  ioctl(ga, IOCTL_GNTALLOC_DEALLOC_GREF, &d);
  memset(g, 0, sizeof *g);
}

static struct grant *map(uint32_t count, const uint32_t *refs, char *why, size_t cap)
{
  struct grant *g = slot_new();
  size_t bytes = offsetof(struct ioctl_gntdev_map_grant_ref, refs) + count * sizeof(struct ioctl_gntdev_grant_ref);
  struct ioctl_gntdev_map_grant_ref *m = calloc(1, bytes < sizeof *m ? sizeof *m : bytes);
  if (!g || !m) { snprintf(why, cap, "no slot"); free(m); return NULL; }
  m->count = count;
  for (uint32_t i = 0; i < count; i++) { m->refs[i].domid = 0; m->refs[i].ref = refs[i]; }
  if (ioctl(gd, IOCTL_GNTDEV_MAP_GRANT_REF, m) < 0) { snprintf(why, cap, "IOCTL_GNTDEV_MAP_GRANT_REF: %s", strerror(errno)); free(m); return NULL; }
  void *p = mmap(NULL, count * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gd, (off_t)m->index);
  if (p == MAP_FAILED) {
    snprintf(why, cap, "mmap gntdev (refs from %u): %s", refs[0], strerror(errno));
    struct ioctl_gntdev_unmap_grant_ref u = { .index = m->index, .count = count };
    ioctl(gd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u); free(m); return NULL;
  }
  *g = (struct grant){ .first = refs[0], .count = count, .index = m->index, .mem = p, .mapped = 1 };
  free(m);
  return g;
}

static void unmap(struct grant *g)
{
  struct ioctl_gntdev_unmap_grant_ref u = { .index = g->index, .count = g->count };
  munmap(g->mem, g->count * PAGE);
  ioctl(gd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
  memset(g, 0, sizeof *g);
}

static int check_pattern(const struct grant *g, uint32_t seed, char *why, size_t cap)
{
  for (size_t i = 0; i < (size_t)g->count * PAGE; i++)
    if (g->mem[i] != pattern(seed, i)) { snprintf(why, cap, "byte %zu is %u, not %u (seed %u)", i, g->mem[i], pattern(seed, i), seed); return -1; }
  return 0;
}
static void fill_pattern(struct grant *g, uint32_t seed) { for (size_t i = 0; i < (size_t)g->count * PAGE; i++) g->mem[i] = pattern(seed, i); }

static int evtchn_bind(uint32_t remote_port)
{
  struct ioctl_evtchn_bind_interdomain b = { .remote_domain = 0, .remote_port = remote_port };
  return ioctl(ev, IOCTL_EVTCHN_BIND_INTERDOMAIN, &b);
}
static int evtchn_unbound(void)
{
  struct ioctl_evtchn_bind_unbound_port b = { .remote_domain = 0 };
  return ioctl(ev, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &b);
}
static int evtchn_notify(uint32_t port)
{
  struct ioctl_evtchn_notify n = { .port = port };
  return ioctl(ev, IOCTL_EVTCHN_NOTIFY, &n);
}
static int evtchn_unbind(uint32_t port)
{
  struct ioctl_evtchn_unbind u = { .port = port };
  return ioctl(ev, IOCTL_EVTCHN_UNBIND, &u);
}

static long others;   /* events of ports nobody waited for (counted, not lost: the next wait does not need them) */

/* Waits up to ms for an event on port; every port read is unmasked again. 1: it came; 0: timeout; -1: error. */
static int evtchn_wait(uint32_t port, int ms)
{
  struct timespec start; clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    struct timespec now; clock_gettime(CLOCK_MONOTONIC, &now);
    long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (spent >= ms) return 0;
    struct pollfd p = { .fd = ev, .events = POLLIN };
    int k = poll(&p, 1, (int)(ms - spent));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    if (k == 0) return 0;
    uint32_t ports[64];
    ssize_t n = read(ev, ports, sizeof ports);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return -1;
    int hit = 0;
    for (ssize_t i = 0; i < n / 4; i++) { if (ports[i] == port) hit = 1; else others++; }
    if (write(ev, ports, (size_t)n) != n) return -1;
    if (hit) return 1;
  }
}

/* ---- rings ---------------------------------------------------------------------------------------------------- */
static void ring_back(unsigned n, uint32_t ref, uint32_t remote, uint32_t count)
{
  char why[256] = "";
  struct grant *g = map(1, &ref, why, sizeof why);
  if (!g) { answerf(n, "fail %s", why); return; }
  int port = evtchn_bind(remote);
  if (port < 0) { answerf(n, "fail bind %u: %s", remote, strerror(errno)); unmap(g); return; }
  lab_back_ring_t back;
  BACK_RING_INIT(&back, (lab_sring_t *)g->mem, PAGE);
  uint32_t served = 0; long waits = 0, notifies = 0, batches = 0; int failed = 0;
  while (served < count && !failed) {
    int any = 0;
    while (RING_HAS_UNCONSUMED_REQUESTS(&back)) {
      struct lab_req q;
      memcpy(&q, RING_GET_REQUEST(&back, back.req_cons), sizeof q);   /* copied out before it is checked */
      back.req_cons++;
      if (check_request(&q, served, why, sizeof why) < 0) { failed = 1; break; }
      answer(&q, RING_GET_RESPONSE(&back, back.rsp_prod_pvt));
      back.rsp_prod_pvt++;
      served++; any = 1;
    }
    if (any) {
      int notify; batches++;
      RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&back, notify);
      if (notify) { evtchn_notify((uint32_t)port); notifies++; }
    }
    if (failed || served == count) break;
    int more; RING_FINAL_CHECK_FOR_REQUESTS(&back, more);
    if (more) continue;
    waits++;
    int k = evtchn_wait((uint32_t)port, RING_WAIT_MS);
    if (k <= 0) { snprintf(why, sizeof why, "%s after %u requests (req_prod %u, req_cons %u)", k == 0 ? "no event in 10 s" : "evtchn error", served, back.sring->req_prod, back.req_cons); failed = 1; }
  }
  evtchn_unbind((uint32_t)port);
  unmap(g);
  if (failed) answerf(n, "fail %s", why);
  else answerf(n, "ok served %u batches %ld notifies %ld waits %ld", served, batches, notifies, waits);
}

static void ring_front(unsigned n, uint32_t count, uint32_t inflight)
{
  char why[256] = "";
  uint32_t ref;
  struct grant *g = share(1, &ref, why, sizeof why);
  if (!g) { answerf(n, "fail %s", why); return; }
  int port = evtchn_unbound();
  if (port < 0) { answerf(n, "fail unbound: %s", strerror(errno)); unshare(g); return; }
  lab_front_ring_t front;
  SHARED_RING_INIT((lab_sring_t *)g->mem);
  FRONT_RING_INIT(&front, (lab_sring_t *)g->mem, PAGE);
  answerf(n, "setup %u %d %u", ref, port, (unsigned)RING_SIZE(&front));
  uint32_t sent = 0, done = 0; long waits = 0, notifies = 0; int failed = 0;
  while (done < count && !failed) {
    while (sent < count && sent - done < inflight && !RING_FULL(&front)) {
      fill_request(sent, RING_GET_REQUEST(&front, front.req_prod_pvt));
      front.req_prod_pvt++; sent++;
    }
    int notify; RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
    if (notify) { evtchn_notify((uint32_t)port); notifies++; }
    while (RING_HAS_UNCONSUMED_RESPONSES(&front)) {
      struct lab_rsp p;
      memcpy(&p, RING_GET_RESPONSE(&front, front.rsp_cons), sizeof p);
      front.rsp_cons++;
      if (check_response(&p, done, why, sizeof why) < 0) { failed = 1; break; }
      done++;
    }
    if (failed || done == count) break;
    if (sent < count && sent - done < inflight && !RING_FULL(&front)) continue;
    int more; RING_FINAL_CHECK_FOR_RESPONSES(&front, more);
    if (more) continue;
    waits++;
    int k = evtchn_wait((uint32_t)port, RING_WAIT_MS);
    if (k <= 0) { snprintf(why, sizeof why, "%s after %u responses, %u sent (rsp_prod %u)", k == 0 ? "no event in 10 s" : "evtchn error", done, sent, front.sring->rsp_prod); failed = 1; }
  }
  evtchn_unbind((uint32_t)port);
  /* dom0 unmaps the ring once it has seen our answer; gntalloc's dealloc leaves the page to the kernel until then. */
  unshare(g);
  if (failed) answerf(n, "fail %s", why);
  else answerf(n, "ok done %u notifies %ld waits %ld", done, notifies, waits);
}

/* ---- network device verbs: dom0's backend meets xen-netfront (NetfrontChecks.cs) -------------------------------- */
#define LAB_ETHERTYPE_TO_DOM0 0x88b5
#define LAB_ETHERTYPE_TO_GUEST 0x88b6

/* A frame as GuestPeerProtocol.Frame makes it: 60-1514 bytes by index, the index big-endian after the header, then a
 * pattern of seed, index and position. */
static uint32_t frame_length(uint32_t i) { return 60 + (i * 97) % 1455; }
static uint8_t frame_byte(uint32_t seed, uint32_t i, uint32_t j) { return (uint8_t)(seed * 7 + i * 13 + j); }

static int if_mac(const char *name, uint8_t mac[6])
{
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) return -1;
  struct ifreq r; memset(&r, 0, sizeof r); snprintf(r.ifr_name, sizeof r.ifr_name, "%s", name);
  int k = ioctl(s, SIOCGIFHWADDR, &r);
  close(s);
  if (k == 0) memcpy(mac, r.ifr_hwaddr.sa_data, 6);
  return k;
}

static int packet_socket(const char *name, uint16_t type, struct sockaddr_ll *at)
{
  memset(at, 0, sizeof *at);
  at->sll_family = AF_PACKET; at->sll_protocol = htons(type); at->sll_ifindex = (int)if_nametoindex(name);
  if (at->sll_ifindex == 0) return -1;
  int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(type));
  if (s < 0) return -1;
  if (bind(s, (struct sockaddr *)at, sizeof *at) < 0) { close(s); return -1; }
  return s;
}

static void net_name(unsigned n, const char *dev)
{
  char path[256]; snprintf(path, sizeof path, "/sys/bus/xen/devices/%s/net", dev);
  for (int tries = 0; tries < 100; tries++) {           /* registered at probe: give it 10 s */
    DIR *d = opendir(path);
    if (d) {
      for (struct dirent *e; (e = readdir(d)); ) {
        if (e->d_name[0] == '.') continue;
        answerf(n, "ok %s", e->d_name); closedir(d); return;
      }
      closedir(d);
    }
    usleep(100 * 1000);
  }
  answerf(n, "fail no interface under %s", path);
}

static void net_up(unsigned n, const char *name)
{
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq r; memset(&r, 0, sizeof r); snprintf(r.ifr_name, sizeof r.ifr_name, "%s", name);
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &r) < 0) { answerf(n, "fail SIOCGIFFLAGS %s: %s", name, strerror(errno)); if (s >= 0) close(s); return; }
  r.ifr_flags |= IFF_UP;
  int k = ioctl(s, SIOCSIFFLAGS, &r);
  close(s);
  uint8_t mac[6];
  if (k < 0) answerf(n, "fail SIOCSIFFLAGS %s: %s", name, strerror(errno));
  else if (if_mac(name, mac) < 0) answerf(n, "fail SIOCGIFHWADDR %s: %s", name, strerror(errno));
  else answerf(n, "ok %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static void net_send(unsigned n, const char *name, uint32_t count, uint32_t seed)
{
  struct sockaddr_ll to; uint8_t mac[6], frame[1514];
  int s = packet_socket(name, LAB_ETHERTYPE_TO_DOM0, &to);
  if (s < 0 || if_mac(name, mac) < 0) { answerf(n, "fail packet socket on %s: %s", name, strerror(errno)); if (s >= 0) close(s); return; }
  to.sll_halen = 6; memset(to.sll_addr, 0xff, 6);
  uint32_t sent = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len = frame_length(i);
    memset(frame, 0xff, 6); memcpy(frame + 6, mac, 6);
    frame[12] = LAB_ETHERTYPE_TO_DOM0 >> 8; frame[13] = LAB_ETHERTYPE_TO_DOM0 & 0xff;
    frame[14] = (uint8_t)(i >> 24); frame[15] = (uint8_t)(i >> 16); frame[16] = (uint8_t)(i >> 8); frame[17] = (uint8_t)i;
    for (uint32_t j = 18; j < len; j++) frame[j] = frame_byte(seed, i, j);
    /* The device queue (1000 frames) holds what the ring cannot take yet; ENOBUFS waits a little, bounded. */
    int tries = 0;
    while (sendto(s, frame, len, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)len) {
      if ((errno != ENOBUFS && errno != EAGAIN) || ++tries > 1000) { answerf(n, "fail sendto frame %u: %s", i, strerror(errno)); close(s); return; }
      usleep(1000);
    }
    sent++;
  }
  close(s);
  answerf(n, "ok %u", sent);
}

static void net_recv(unsigned n, const char *name, uint32_t count, uint32_t seed, uint32_t ms, uint32_t hold)
{
  struct sockaddr_ll at; uint8_t mac[6], frame[2048];
  int s = packet_socket(name, LAB_ETHERTYPE_TO_GUEST, &at);
  if (s < 0 || if_mac(name, mac) < 0) { answerf(n, "fail packet socket on %s: %s", name, strerror(errno)); if (s >= 0) close(s); return; }
  /* Room for every frame at once: each arrives in a page of its own (a truesize of about 5 KB), so the default
   * receive buffer (208 KB) held about 40, and under emulation this loop can fall that far behind (CI saw frames
   * 41-47 dropped once). 8 MB holds 200 with room; SO_RCVBUFFORCE as root, past rmem_max. */
  int room = 8 << 20;
  if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &room, sizeof room) < 0 && setsockopt(s, SOL_SOCKET, SO_RCVBUF, &room, sizeof room) < 0) {
    answerf(n, "fail SO_RCVBUF: %s", strerror(errno)); close(s); return;
  }
  answerf(n, "setup");
  if (hold) usleep(hold * 1000); /* the worst case on purpose: every frame waits in the socket before the first read */
  struct timespec start; clock_gettime(CLOCK_MONOTONIC, &start);
  uint32_t got = 0; char why[256] = "";
  while (got < count && !why[0]) {
    struct timespec now; clock_gettime(CLOCK_MONOTONIC, &now);
    long left = (long)ms - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
    struct pollfd p = { .fd = s, .events = POLLIN };
    if (left <= 0 || poll(&p, 1, (int)left) <= 0) { snprintf(why, sizeof why, "%u of %u frames within %u ms", got, count, ms); break; }
    ssize_t len = recv(s, frame, sizeof frame, 0);
    if (len < 0) { snprintf(why, sizeof why, "recv: %s", strerror(errno)); break; }
    uint32_t i = len >= 18 ? ((uint32_t)frame[14] << 24) | ((uint32_t)frame[15] << 16) | ((uint32_t)frame[16] << 8) | frame[17] : UINT32_MAX;
    if (i != got) { snprintf(why, sizeof why, "frame %u of %zd bytes carries index %u", got, len, i); break; }
    if ((uint32_t)len != frame_length(i)) { snprintf(why, sizeof why, "frame %u is %zd bytes, not %u", i, len, frame_length(i)); break; }
    if (memcmp(frame, mac, 6) != 0) { snprintf(why, sizeof why, "frame %u is not addressed to this interface", i); break; }
    for (uint32_t j = 18; j < (uint32_t)len; j++)
      if (frame[j] != frame_byte(seed, i, j)) { snprintf(why, sizeof why, "frame %u byte %u is %u, not %u", i, j, frame[j], frame_byte(seed, i, j)); break; }
    got++;
  }
  /* The socket's own count of frames it dropped for want of room: says which side lost one. */
  struct tpacket_stats st; socklen_t sl = sizeof st; memset(&st, 0, sizeof st);
  getsockopt(s, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
  close(s);
  if (why[0]) answerf(n, "fail %s (the socket dropped %u)", why, st.tp_drops); else answerf(n, "ok %u dropped %u", got, st.tp_drops);
}

static long read_number(const char *path)
{
  char text[64] = ""; int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t k = read(fd, text, sizeof text - 1); close(fd);
  return k > 0 ? strtol(text, NULL, 10) : -1;
}

static void net_stats(unsigned n, const char *name)
{
  char tx[256], rx[256];
  snprintf(tx, sizeof tx, "/sys/class/net/%s/statistics/tx_packets", name);
  snprintf(rx, sizeof rx, "/sys/class/net/%s/statistics/rx_packets", name);
  long t = read_number(tx), r = read_number(rx);
  if (t < 0 || r < 0) answerf(n, "fail no counters for %s", name); else answerf(n, "ok %ld %ld", t, r);
}

static void net_unbind(unsigned n, const char *dev)
{
  /* xennet_remove runs inside this write: Closing, the backend's Closing awaited, Closed, the backend's Closed
   * awaited (Linux waits again and again, 5 s each, for a backend that never answers). */
  int fd = open("/sys/bus/xen/drivers/vif/unbind", O_WRONLY | O_CLOEXEC);
  if (fd < 0) { answerf(n, "fail /sys/bus/xen/drivers/vif/unbind: %s", strerror(errno)); return; }
  ssize_t k = write(fd, dev, strlen(dev));
  int e = errno; close(fd);
  if (k < 0) answerf(n, "fail unbind %s: %s", dev, strerror(e)); else answerf(n, "ok");
}

static void net_gone(unsigned n, const char *dev, uint32_t ms)
{
  char path[256]; struct stat st; snprintf(path, sizeof path, "/sys/bus/xen/devices/%s", dev);
  for (uint32_t waited = 0; waited <= ms; waited += 50) {
    if (stat(path, &st) < 0 && errno == ENOENT) { answerf(n, "ok"); return; }
    usleep(50 * 1000);
  }
  answerf(n, "fail %s still there after %u ms", path, ms);
}

/* ---- the command loop ----------------------------------------------------------------------------------------- */
static int parse_refs(char *list, uint32_t *refs, int cap)
{
  int k = 0;
  for (char *t = strtok(list, ","); t && k < cap; t = strtok(NULL, ",")) refs[k++] = (uint32_t)strtoul(t, NULL, 10);
  return k;
}

static int run(unsigned n, char *verb, char **arg, int argc)
{
  char why[256] = "";
  uint32_t a0 = argc > 0 ? (uint32_t)strtoul(arg[0], NULL, 10) : 0, a1 = argc > 1 ? (uint32_t)strtoul(arg[1], NULL, 10) : 0;
  uint32_t a2 = argc > 2 ? (uint32_t)strtoul(arg[2], NULL, 10) : 0;
  if (!strcmp(verb, "grant") && argc == 2) {
    uint32_t refs[64]; if (a0 < 1 || a0 > 64) { answerf(n, "fail pages %u", a0); return 0; }
    struct grant *g = share(a0, refs, why, sizeof why);
    if (!g) { answerf(n, "fail %s", why); return 0; }
    fill_pattern(g, a1);
    char list[1024] = ""; size_t k = 0;
    for (uint32_t i = 0; i < a0; i++) k += (size_t)snprintf(list + k, sizeof list - k, "%s%u", i ? "," : "", refs[i]);
    answerf(n, "ok %s", list);
  } else if (!strcmp(verb, "check-granted") && argc == 2) {
    struct grant *g = slot_find(a0, 0);
    if (!g) answerf(n, "fail no grant %u", a0);
    else if (check_pattern(g, a1, why, sizeof why) < 0) answerf(n, "fail %s", why);
    else answerf(n, "ok");
  } else if (!strcmp(verb, "ungrant") && argc == 1) {
    struct grant *g = slot_find(a0, 0);
    if (!g) answerf(n, "fail no grant %u", a0); else { unshare(g); answerf(n, "ok"); }
  } else if (!strcmp(verb, "map") && argc == 3) {
    uint32_t refs[64]; int count = parse_refs(arg[0], refs, 64);
    struct grant *g = count > 0 ? map((uint32_t)count, refs, why, sizeof why) : NULL;
    if (!g) { answerf(n, "fail %s", count > 0 ? why : "no refs"); return 0; }
    if (check_pattern(g, a1, why, sizeof why) < 0) answerf(n, "fail %s", why);
    else { fill_pattern(g, a2); answerf(n, "ok mapped %d page(s)", count); }
  } else if (!strcmp(verb, "check-mapped") && argc == 3) {
    struct grant *g = slot_find(a0, 1);
    if (!g) answerf(n, "fail no mapping %u", a0);
    else if (check_pattern(g, a1, why, sizeof why) < 0) answerf(n, "fail %s", why);
    else { fill_pattern(g, a2); answerf(n, "ok"); }
  } else if (!strcmp(verb, "unmap") && argc == 1) {
    struct grant *g = slot_find(a0, 1);
    if (!g) answerf(n, "fail no mapping %u", a0); else { unmap(g); answerf(n, "ok"); }
  } else if (!strcmp(verb, "bind") && argc == 1) {
    /* Xen marks a newly bound port pending: that first event is taken here, so that a later wait sees dom0's. */
    int port = evtchn_bind(a0);
    if (port < 0) answerf(n, "fail IOCTL_EVTCHN_BIND_INTERDOMAIN %u: %s", a0, strerror(errno));
    else answerf(n, "ok %d %d", port, evtchn_wait((uint32_t)port, 2000));
  } else if (!strcmp(verb, "unbound") && argc == 0) {
    int port = evtchn_unbound();
    if (port < 0) answerf(n, "fail IOCTL_EVTCHN_BIND_UNBOUND_PORT: %s", strerror(errno)); else answerf(n, "ok %d", port);
  } else if (!strcmp(verb, "wait") && argc == 2) {
    int k = evtchn_wait(a0, (int)a1);
    if (k == 1) answerf(n, "ok"); else answerf(n, "fail %s", k == 0 ? "no event" : strerror(errno));
  } else if (!strcmp(verb, "notify") && argc == 1) {
    if (evtchn_notify(a0) < 0) answerf(n, "fail IOCTL_EVTCHN_NOTIFY: %s", strerror(errno)); else answerf(n, "ok");
  } else if (!strcmp(verb, "unbind") && argc == 1) {
    if (evtchn_unbind(a0) < 0) answerf(n, "fail IOCTL_EVTCHN_UNBIND: %s", strerror(errno)); else answerf(n, "ok");
  } else if (!strcmp(verb, "ring-back") && argc == 3) {
    ring_back(n, a0, a1, a2);
  } else if (!strcmp(verb, "ring-front") && argc == 2) {
    ring_front(n, a0, a1 < 1 ? 1 : a1);
  } else if (!strcmp(verb, "net-name") && argc == 1) {
    net_name(n, arg[0]);
  } else if (!strcmp(verb, "net-up") && argc == 1) {
    net_up(n, arg[0]);
  } else if (!strcmp(verb, "net-send") && argc == 3) {
    net_send(n, arg[0], a1, a2);
  } else if (!strcmp(verb, "net-recv") && argc == 5) {
    net_recv(n, arg[0], a1, a2, (uint32_t)strtoul(arg[3], NULL, 10), (uint32_t)strtoul(arg[4], NULL, 10));
  } else if (!strcmp(verb, "net-stats") && argc == 1) {
    net_stats(n, arg[0]);
  } else if (!strcmp(verb, "net-unbind") && argc == 1) {
    net_unbind(n, arg[0]);
  } else if (!strcmp(verb, "net-gone") && argc == 2) {
    net_gone(n, arg[0], a1);
  } else if (!strcmp(verb, "quit")) {
    answerf(n, "ok");
    return 1;
  } else {
    answerf(n, "fail unknown command '%s' with %d argument(s)", verb, argc);
  }
  return 0;
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  xb = open("/dev/xen/xenbus", O_RDWR);
  if (xb < 0) { say("cannot open /dev/xen/xenbus: %s", strerror(errno)); return 1; }
  char text[2048];
  if (xs_write("data/lab/cmd", "0") < 0 || xs_write("data/lab/res", "0 starting") < 0) {
    say("cannot write data/lab in the guest's home: %s", strerror(errno)); return 1;
  }
  char problems[512] = ""; size_t k = 0;
  ga = open("/dev/xen/gntalloc", O_RDWR);
  if (ga < 0) k += (size_t)snprintf(problems + k, sizeof problems - k, " /dev/xen/gntalloc: %s;", strerror(errno));
  gd = open("/dev/xen/gntdev", O_RDWR);
  if (gd < 0) k += (size_t)snprintf(problems + k, sizeof problems - k, " /dev/xen/gntdev: %s;", strerror(errno));
  ev = open("/dev/xen/evtchn", O_RDWR);
  if (ev < 0) k += (size_t)snprintf(problems + k, sizeof problems - k, " /dev/xen/evtchn: %s;", strerror(errno));
  if (k) { answerf(0, "fail cannot open%s", problems); return 1; }
  /* The watch fires once at once (xenstore's rule), then on every write of dom0. */
  const char watch[] = "data/lab/cmd\0cmd";
  if (xs_call(XS_WATCH, watch, sizeof watch, NULL, 0, text, sizeof text) < 0) say("XS_WATCH failed (%s): polling only", text);
  answerf(0, "ready pid %d", (int)getpid());
  unsigned last = 0;
  for (;;) {
    watch_fired = 0;
    if (xs_read("data/lab/cmd", text, sizeof text) >= 0) {
      unsigned n = (unsigned)strtoul(text, NULL, 10);
      if (n > last) {
        last = n;
        say("cmd %s", text);
        char *argv[16]; int argc = 0; char *save = NULL;
        strtok_r(text, " ", &save);                     /* N */
        char *verb = strtok_r(NULL, " ", &save);
        for (char *t; argc < 16 && (t = strtok_r(NULL, " ", &save)); ) argv[argc++] = t;
        if (verb && run(n, verb, argv, argc)) break;
        if (!verb) answerf(n, "fail empty command");
        continue;
      }
    }
    if (watch_fired) continue;
    struct pollfd p = { .fd = xb, .events = POLLIN };
    if (poll(&p, 1, 200) > 0) { struct xsd_sockmsg h; xs_recv(&h, NULL, 0); }
  }
  say("quit");
  return 0;
}
