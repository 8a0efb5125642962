/*
 * liburcu QSBR baseline for the rcu bench (bench/real.ts compiles it with cc when
 * liburcu-dev is installed and runs it between its own rounds): kern's grace-period row,
 * same configuration, in C.
 *
 *   qsbr-gp read <reads-per-reader>   two readers read at once: {"nsPerRead"} (mean of both)
 *   qsbr-gp gp <ms> <readers>         synchronize_rcu() in a loop on the main thread for
 *                                     <ms> ms while <readers> (0 or 2) threads read:
 *                                     {"gps", "nsPerRead"} (readers' ns per read meanwhile)
 *
 * The reader is kern's bench reader (test/fixtures/real-bench-worker.ts, `qsbr`) in C:
 * batches of 1024 reads of rcu_read_lock, rcu_dereference of one pointer, a load through
 * it, rcu_read_unlock, then rcu_quiescent_state() after each batch. With 0 readers both
 * threads are registered and offline, as kern's idle workers.
 *
 * Build: cc -O2 -pthread qsbr-gp.c -o qsbr-gp -lurcu-qsbr -lurcu-common (liburcu 0.13).
 */
#define _GNU_SOURCE
#define _LGPL_SOURCE /* inline read side, as a performance-minded user builds it */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu/urcu-qsbr.h>

#define BATCH 1024

static int pool[64];
static int *slot; /* the RCU-protected pointer */
static volatile int stop;
static volatile int go;
static long reads_per_reader;

enum mode { READ_N, IDLE, SPIN };
struct reader {
  pthread_t tid;
  enum mode mode;
  double ns_per_read;
  volatile long reads; /* read by main while the reader runs */
  long sink;
};

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* One batch: the body of kern's bench reader (test/fixtures/real-bench-worker.ts, qsbr). */
static long read_batch(void) {
  long s = 0;
  for (int i = 0; i < BATCH; i++) {
    urcu_qsbr_read_lock();
    int *p = rcu_dereference(slot);
    s += p[i & 7];
    urcu_qsbr_read_unlock();
  }
  urcu_qsbr_quiescent_state();
  return s;
}

static void *reader_fn(void *arg) {
  struct reader *r = arg;
  urcu_qsbr_register_thread();
  if (r->mode == IDLE) {
    urcu_qsbr_thread_offline();
    while (!stop) usleep(1000);
    urcu_qsbr_thread_online();
  } else if (r->mode == READ_N) {
    while (!go) caa_cpu_relax();
    double t0 = now_ns();
    for (long n = 0; n < reads_per_reader; n += BATCH) r->sink += read_batch();
    r->ns_per_read = (now_ns() - t0) / (double)reads_per_reader;
  } else {
    while (!stop) {
      r->sink += read_batch();
      r->reads += BATCH;
    }
  }
  urcu_qsbr_unregister_thread();
  return NULL;
}

static void start(struct reader *rs, enum mode mode) {
  stop = 0;
  go = 0;
  for (int i = 0; i < 2; i++) {
    rs[i].mode = mode;
    rs[i].reads = 0;
    if (pthread_create(&rs[i].tid, NULL, reader_fn, &rs[i]) != 0) {
      perror("pthread_create");
      exit(1);
    }
  }
}

static void join(struct reader *rs) {
  stop = 1;
  for (int i = 0; i < 2; i++) pthread_join(rs[i].tid, NULL);
}

/* urcu_qsbr_synchronize_rcu() in a loop for ms milliseconds; returns grace periods per second. */
static double gps_per_second(double ms) {
  double t0 = now_ns(), t;
  long n = 0;
  do {
    urcu_qsbr_synchronize_rcu();
    n++;
    t = now_ns();
  } while (t - t0 < ms * 1e6);
  return n * 1e9 / (t - t0);
}

int main(int argc, char **argv) {
  int read_mode = argc == 3 && strcmp(argv[1], "read") == 0;
  int gp_mode = argc == 4 && strcmp(argv[1], "gp") == 0;
  if (!read_mode && !gp_mode) {
    fprintf(stderr, "usage: %s read <reads-per-reader> | gp <ms> <0|2>\n", argv[0]);
    return 2;
  }
  for (int i = 0; i < 64; i++) pool[i] = i;
  rcu_assign_pointer(slot, &pool[16]);
  struct reader rs[2] = {0};
  long sink = 0;

  if (read_mode) {
    reads_per_reader = atol(argv[2]);
    start(rs, READ_N);
    go = 1;
    join(rs);
    printf("{\"nsPerRead\":%.3f,\"sink\":%ld}\n", (rs[0].ns_per_read + rs[1].ns_per_read) / 2,
           (rs[0].sink + rs[1].sink) & 1);
    return 0;
  }
  double ms = atof(argv[2]);
  int busy = atoi(argv[3]) != 0;
  struct timespec settle = {0, 20 * 1000 * 1000};
  start(rs, busy ? SPIN : IDLE);
  nanosleep(&settle, NULL);
  long reads0 = rs[0].reads + rs[1].reads;
  double t0 = now_ns();
  double gps = gps_per_second(ms);
  double dt = now_ns() - t0;
  long reads = rs[0].reads + rs[1].reads - reads0;
  join(rs);
  sink = (rs[0].sink + rs[1].sink) & 1;
  /* Per reader: each of the two read reads/2 in dt. */
  printf("{\"gps\":%.0f,\"nsPerRead\":%.3f,\"sink\":%ld}\n", gps,
         busy && reads > 0 ? dt / (reads / 2.0) : 0.0, sink);
  return 0;
}
