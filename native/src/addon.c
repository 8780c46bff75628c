/*
 * metaprune-native: N-API addon (plain C, NAPI_VERSION 8) with OpenBLAS-backed float32 kernels.
 *
 * Every export works in place on the caller's Float32Arrays (no copies across the JS boundary).
 * Semantics match metaprune's `ts` reference kernels (src/tensor/backends/ts/kernels.ts), i.e.
 * PyTorch conventions for conv2d (NCHW input, OIHW weight, stride / padding / dilation / groups).
 *
 * Convolutions are im2col + sgemm, batched over several images per GEMM (bounded by COL_BUDGET) so
 * that OpenBLAS sees large matrices even for the 8x8 ResNet-20 stage; one GEMM per group.
 * The input gradient is sgemm + col2im; the filter gradient accumulates sgemm over image batches.
 *
 * Threads: OpenBLAS's own threading is too coarse for these GEMMs (16-64 rows: its per-call wake-up
 * and sync dominate), so the addon splits the work itself over a small persistent pthread pool
 * (setConvThreads, per Node thread; the caller's thread is one of them) and every thread calls OpenBLAS with its
 * thread count left at 1 (setThreads). A call's image batches do not depend on the thread count and
 * each batch is computed the same way whichever thread runs it, so the forward pass and the input
 * gradient are bit-identical for any thread count; the filter gradient sums per-thread partials in
 * thread order (deterministic for a given thread count). Large matmuls are split by rows or columns.
 */
#define _GNU_SOURCE /* pthread_sigmask, sigfillset under -std=c11 */
#include <node_api.h>
#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "dnnl_conv.h"
#include "geom.h"

#define ADDON_VERSION "0.1.0"

/* Floats of im2col scratch per batch (2 MiB): enough images per GEMM for the small 8x8 maps, while the
 * column matrix stays cache-resident (measured: 32 MiB batches ran the 16@32² convs ~35% slower). */
#ifndef COL_BUDGET
#define COL_BUDGET ((size_t)512 << 10)
#endif


/* ------------------------------------------------------------------ argument helpers */

#define NAPI_OK(call)                                                             \
  do {                                                                            \
    if ((call) != napi_ok) {                                                      \
      bool pending_ = false;                                                      \
      napi_is_exception_pending(env, &pending_);                                  \
      if (!pending_) napi_throw_error(env, NULL, "metaprune-native: N-API call failed: " #call); \
      return NULL;                                                                \
    }                                                                             \
  } while (0)

/* Declares argv[n] with the call's arguments; throws the usage and returns when fewer were given. */
#define NAPI_ARGS(n, usage)                                            \
  size_t argc = (n);                                                   \
  napi_value argv[(n)];                                                \
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));       \
  if (argc < (n)) {                                                    \
    napi_throw_type_error(env, NULL, "metaprune-native: " usage);      \
    return NULL;                                                       \
  }

static bool get_f32(napi_env env, napi_value v, const char* name, float** data, size_t* len) {
  bool is_ta = false;
  char msg[128];
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    snprintf(msg, sizeof msg, "metaprune-native: %s must be a Float32Array", name);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  napi_typedarray_type type;
  void* p = NULL;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_float32_array) {
    snprintf(msg, sizeof msg, "metaprune-native: %s must be a Float32Array", name);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  *data = (float*)p;
  return true;
}

static bool need(napi_env env, const char* name, size_t have, size_t want) {
  if (have >= want) return true;
  char msg[160];
  snprintf(msg, sizeof msg, "metaprune-native: %s has %zu elements, needs %zu", name, have, want);
  napi_throw_range_error(env, NULL, msg);
  return false;
}

static bool get_int(napi_env env, napi_value v, const char* name, int* out) {
  if (napi_get_value_int32(env, v, out) != napi_ok || *out < 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "metaprune-native: %s must be a non-negative integer", name);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  return true;
}

static bool get_bool(napi_env env, napi_value v, bool* out) {
  napi_value b;
  return napi_coerce_to_bool(env, v, &b) == napi_ok && napi_get_value_bool(env, b, out) == napi_ok;
}

static bool get_geom(napi_env env, napi_value v, geom_t* g) {
  bool is_ta = false;
  napi_typedarray_type type;
  size_t len = 0;
  void* p = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &len, &p, NULL, NULL) != napi_ok || type != napi_int32_array || len < 16) {
    napi_throw_type_error(env, NULL, "metaprune-native: geometry must be an Int32Array of 16 values");
    return false;
  }
  const int32_t* a = (const int32_t*)p;
  *g = (geom_t){a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]};
  bool ok = g->N >= 0 && g->C >= 0 && g->H >= 0 && g->W >= 0 && g->O >= 0 && g->KH >= 0 && g->KW >= 0 &&
            g->OH >= 0 && g->OW >= 0 && g->sH >= 1 && g->sW >= 1 && g->pH >= 0 && g->pW >= 0 &&
            g->dH >= 1 && g->dW >= 1 && g->G >= 1 && g->C % g->G == 0 && g->O % g->G == 0;
  if (!ok) napi_throw_range_error(env, NULL, "metaprune-native: invalid convolution geometry");
  return ok;
}

static void throw_oom(napi_env env, size_t bytes) {
  char msg[128];
  snprintf(msg, sizeof msg, "metaprune-native: out of memory (requested %zu bytes)", bytes);
  napi_throw_error(env, NULL, msg);
}

/* ------------------------------------------------------------------ im2col / col2im */

/*
 * col[(c*KH + kh)*KW + kw][b*OHW + oh*OW + ow] = x[n0+b, gi*Cg + c, ih, iw] (0 outside), for b < nb.
 */
static void im2col(const float* x, const geom_t* g, int gi, int n0, int nb, float* col) {
  const int Cg = g->C / g->G;
  const size_t HW = (size_t)g->H * g->W, OHW = (size_t)g->OH * g->OW, ld = (size_t)nb * OHW;
  for (int c = 0; c < Cg; c++)
    for (int kh = 0; kh < g->KH; kh++)
      for (int kw = 0; kw < g->KW; kw++) {
        float* row = col + ((size_t)(c * g->KH + kh) * g->KW + kw) * ld;
        const int iw0 = kw * g->dW - g->pW;
        /* ow range with 0 <= ow*sW + iw0 < W */
        int lo = iw0 >= 0 ? 0 : (-iw0 + g->sW - 1) / g->sW;
        int hi = g->W - iw0 <= 0 ? 0 : (g->W - iw0 - 1) / g->sW + 1;
        if (hi > g->OW) hi = g->OW;
        if (lo > hi) lo = hi;
        for (int b = 0; b < nb; b++) {
          const float* xp = x + ((size_t)(n0 + b) * g->C + (size_t)gi * Cg + c) * HW;
          float* dst = row + (size_t)b * OHW;
          for (int oh = 0; oh < g->OH; oh++) {
            float* d = dst + (size_t)oh * g->OW;
            const int ih = oh * g->sH - g->pH + kh * g->dH;
            if (ih < 0 || ih >= g->H) {
              memset(d, 0, sizeof(float) * g->OW);
              continue;
            }
            const float* xr = xp + (size_t)ih * g->W + iw0;
            for (int ow = 0; ow < lo; ow++) d[ow] = 0.0f;
            if (g->sW == 1) {
              memcpy(d + lo, xr + lo, sizeof(float) * (size_t)(hi - lo));
            } else {
              for (int ow = lo; ow < hi; ow++) d[ow] = xr[ow * g->sW];
            }
            for (int ow = hi; ow < g->OW; ow++) d[ow] = 0.0f;
          }
        }
      }
}

/* dx[n0+b, gi*Cg + c, ih, iw] += col[...] (the adjoint of im2col). */
static void col2im(const float* col, const geom_t* g, int gi, int n0, int nb, float* dx) {
  const int Cg = g->C / g->G;
  const size_t HW = (size_t)g->H * g->W, OHW = (size_t)g->OH * g->OW, ld = (size_t)nb * OHW;
  for (int b = 0; b < nb; b++)
    for (int c = 0; c < Cg; c++) {
      float* xp = dx + ((size_t)(n0 + b) * g->C + (size_t)gi * Cg + c) * HW;
      for (int kh = 0; kh < g->KH; kh++)
        for (int kw = 0; kw < g->KW; kw++) {
          const float* src = col + ((size_t)(c * g->KH + kh) * g->KW + kw) * ld + (size_t)b * OHW;
          const int iw0 = kw * g->dW - g->pW;
          int lo = iw0 >= 0 ? 0 : (-iw0 + g->sW - 1) / g->sW;
          int hi = g->W - iw0 <= 0 ? 0 : (g->W - iw0 - 1) / g->sW + 1;
          if (hi > g->OW) hi = g->OW;
          for (int oh = 0; oh < g->OH; oh++) {
            const int ih = oh * g->sH - g->pH + kh * g->dH;
            if (ih < 0 || ih >= g->H) continue;
            float* xr = xp + (size_t)ih * g->W + iw0;
            const float* s = src + (size_t)oh * g->OW;
            if (g->sW == 1) {
              for (int ow = lo; ow < hi; ow++) xr[ow] += s[ow];
            } else {
              for (int ow = lo; ow < hi; ow++) xr[ow * g->sW] += s[ow];
            }
          }
        }
    }
}

/* ------------------------------------------------------------------ thread pool */

/*
 * A persistent pool of worker threads, created lazily (up to the requested count minus one: the
 * calling thread runs part 0). Idle workers block on a condition variable (no spinning: on small
 * machines the wasm workers need the cores too). Workers are detached with every signal blocked and
 * never hold anything across calls, so process exit does not wait for them.
 *
 * pool_run(fn, arg, nt) runs fn(arg, t, nt) for t = 0..nt-1 and returns when all are done. One
 * parallel region runs at a time: a call that finds the pool busy (the addon may be loaded by
 * several Node threads) runs every part itself, in order, which computes exactly the same.
 */
#define MAX_POOL_THREADS 64

typedef void (*task_fn)(void* arg, int t, int nt);

static pthread_mutex_t pool_dispatch = PTHREAD_MUTEX_INITIALIZER; /* one parallel region at a time */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;       /* guards the fields below */
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static unsigned long pool_gen = 0; /* bumped for every job */
static task_fn pool_fn = NULL;
static void* pool_arg = NULL;
static int pool_nt = 0;      /* parts of the current job */
static int pool_active = 0;  /* workers 1..pool_active-1 take part (the rest run on the caller) */
static int pool_pending = 0; /* worker parts not finished yet */
static int pool_workers = 0; /* workers created (ids 1..pool_workers); only grows, under pool_dispatch */
static unsigned long par_regions = 0; /* calls that ran on more than one thread (pool, OpenMP or oneDNN) */

/* Per Node thread (N-API environment) state: each JS thread that loads the addon sets its own count. */
typedef struct {
  int conv_threads; /* threads per call (caller included), setConvThreads */
} env_state_t;

static void free_env_state(napi_env env, void* data, void* hint) { free(data); }

static env_state_t* env_state(napi_env env) {
  void* p = NULL;
  return napi_get_instance_data(env, &p) == napi_ok ? p : NULL;
}

/* Pool size requested by this environment's thread (1 when unset). */
static int env_threads(napi_env env) {
  const env_state_t* st = env_state(env);
  return st == NULL ? 1 : st->conv_threads;
}

typedef struct {
  int id;
  unsigned long gen;
} worker_init_t;

static void* pool_worker(void* p) {
  const worker_init_t init = *(worker_init_t*)p;
  free(p);
  unsigned long seen = init.gen;
  pthread_mutex_lock(&pool_mu);
  for (;;) {
    while (pool_gen == seen) pthread_cond_wait(&pool_wake, &pool_mu);
    seen = pool_gen;
    if (init.id >= pool_active) continue; /* not needed for this job */
    const task_fn fn = pool_fn;
    void* const arg = pool_arg;
    const int nt = pool_nt;
    pthread_mutex_unlock(&pool_mu);
    fn(arg, init.id, nt);
    pthread_mutex_lock(&pool_mu);
    if (--pool_pending == 0) pthread_cond_signal(&pool_done);
  }
  return NULL;
}

/* Creates workers up to id `want` (called with pool_dispatch held, pool idle); returns how many exist. */
static int pool_grow(int want) {
  if (want > MAX_POOL_THREADS - 1) want = MAX_POOL_THREADS - 1;
  if (pool_workers >= want) return pool_workers;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay with Node's threads */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  while (pool_workers < want) {
    worker_init_t* init = malloc(sizeof *init);
    if (init == NULL) break;
    pthread_mutex_lock(&pool_mu);
    *init = (worker_init_t){pool_workers + 1, pool_gen};
    pthread_mutex_unlock(&pool_mu);
    pthread_t th;
    if (pthread_create(&th, &attr, pool_worker, init) != 0) {
      free(init);
      break;
    }
    __atomic_store_n(&pool_workers, pool_workers + 1, __ATOMIC_RELAXED);
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return pool_workers;
}

static void pool_run(task_fn fn, void* arg, int nt) {
  if (nt <= 1) {
    fn(arg, 0, 1);
    return;
  }
  __atomic_fetch_add(&par_regions, 1, __ATOMIC_RELAXED);
#ifdef _OPENMP
  /* Built with oneDNN (an OpenMP library): its OpenMP threads spin a while after each convolution,
   * so a second pool of our own would fight them for the cores (2-thread batch norm ran no faster
   * than 1-thread). Run the parts on OpenMP's team instead: part t on thread t, as with the pool. */
#pragma omp parallel for num_threads(nt) schedule(static, 1)
  for (int t = 0; t < nt; t++) fn(arg, t, nt);
  return;
#endif
  if (pthread_mutex_trylock(&pool_dispatch) != 0) {
    for (int t = 0; t < nt; t++) fn(arg, t, nt);
    return;
  }
  int active = pool_grow(nt - 1) + 1;
  if (active > nt) active = nt;
  pthread_mutex_lock(&pool_mu);
  pool_fn = fn;
  pool_arg = arg;
  pool_nt = nt;
  pool_active = active;
  pool_pending = active - 1;
  pool_gen++;
  if (active > 1) pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_mu);
  fn(arg, 0, nt);
  for (int t = active; t < nt; t++) fn(arg, t, nt); /* parts without a worker (thread creation failed) */
  pthread_mutex_lock(&pool_mu);
  while (pool_pending > 0) pthread_cond_wait(&pool_done, &pool_mu);
  pool_fn = NULL;
  pool_arg = NULL;
  pthread_mutex_unlock(&pool_mu);
  pthread_mutex_unlock(&pool_dispatch);
}

/* ------------------------------------------------------------------ batching */

/* At least this many image batches per call (when there are that many images), so that the batches
 * spread evenly over a few threads; fixed, so the batches never depend on the thread count. */
#ifndef MIN_BATCHES
#define MIN_BATCHES 8
#endif
/* Below this many multiply-adds a call runs on the calling thread alone (a pool round trip costs
 * some 10-50 µs). Only the thread count changes, never the batches: results stay the same. */
#ifndef PAR_MIN_MACS
#define PAR_MIN_MACS ((double)(1 << 20))
#endif

/*
 * Number of image batches: each at most COL_BUDGET / per_image images (scratch stays cache-resident),
 * at least min(N, MIN_BATCHES) batches; batch k is images [k·N/nb, (k+1)·N/nb) (sizes differ by <= 1).
 */
static int batch_count(const geom_t* g, size_t per_image) {
  if (g->N == 0) return 0;
  size_t cap = per_image == 0 ? (size_t)g->N : COL_BUDGET / per_image;
  if (cap < 1) cap = 1;
  /* BLAS dimensions are int */
  const size_t OHW = (size_t)g->OH * g->OW;
  while (cap > 1 && cap * OHW > (size_t)INT_MAX) cap /= 2;
  size_t nb = ((size_t)g->N + cap - 1) / cap;
  const size_t lo = g->N < MIN_BATCHES ? (size_t)g->N : MIN_BATCHES;
  if (nb < lo) nb = lo;
  return (int)nb;
}

static inline int batch_start(int k, int N, int nbatch) { return (int)((int64_t)k * N / nbatch); }

/* Largest batch (images). */
static inline int batch_max(int N, int nbatch) { return nbatch == 0 ? 0 : (N + nbatch - 1) / nbatch; }

/* Threads for a call: the requested `nt`, at most one per unit of work, 1 for small calls. */
static int call_threads(int nt, int units, double macs) {
  if (nt > units) nt = units;
  if (macs < PAR_MIN_MACS || nt < 1) nt = 1;
  return nt;
}

/* ------------------------------------------------------------------ sgemm */

typedef struct {
  const float *a, *b;
  float* c;
  int M, K, N;
  bool tA, tB;
  float beta;
  bool splitRows; /* split C's rows (else its columns) */
} mm_job_t;

#define MM_ALIGN 16

static void mm_part(void* p, int t, int nt) {
  const mm_job_t* j = p;
  const int total = j->splitRows ? j->M : j->N;
  const int64_t units = (total + MM_ALIGN - 1) / MM_ALIGN;
  int lo = (int)(MM_ALIGN * (units * t / nt)), hi = (int)(MM_ALIGN * (units * (t + 1) / nt));
  if (hi > total) hi = total;
  if (lo >= hi) return;
  const int lda = j->tA ? j->M : j->K, ldb = j->tB ? j->K : j->N;
  if (j->splitRows) {
    /* rows lo..hi of op(A) and C */
    const float* a = j->tA ? j->a + lo : j->a + (size_t)lo * j->K;
    cblas_sgemm(CblasRowMajor, j->tA ? CblasTrans : CblasNoTrans, j->tB ? CblasTrans : CblasNoTrans, hi - lo, j->N, j->K, 1.0f, a, lda,
                j->b, ldb, j->beta, j->c + (size_t)lo * j->N, j->N);
  } else {
    /* columns lo..hi of op(B) and C */
    const float* b = j->tB ? j->b + (size_t)lo * j->K : j->b + lo;
    cblas_sgemm(CblasRowMajor, j->tA ? CblasTrans : CblasNoTrans, j->tB ? CblasTrans : CblasNoTrans, j->M, hi - lo, j->K, 1.0f, j->a,
                lda, b, ldb, j->beta, j->c + lo, j->N);
  }
}

/* sgemm(a, b, c, M, K, N, transA, transB, accumulate): C[M,N] = op(A)·op(B) (+ C). */
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
  NAPI_ARGS(9, "sgemm(a, b, c, M, K, N, transA, transB, accumulate)");
  float *a, *b, *c;
  size_t la, lb, lc;
  int M, K, N;
  bool tA, tB, acc;
  if (!get_f32(env, argv[0], "a", &a, &la) || !get_f32(env, argv[1], "b", &b, &lb) || !get_f32(env, argv[2], "c", &c, &lc) ||
      !get_int(env, argv[3], "M", &M) || !get_int(env, argv[4], "K", &K) || !get_int(env, argv[5], "N", &N) ||
      !get_bool(env, argv[6], &tA) || !get_bool(env, argv[7], &tB) || !get_bool(env, argv[8], &acc))
    return NULL;
  if (!need(env, "a", la, (size_t)M * K) || !need(env, "b", lb, (size_t)K * N) || !need(env, "c", lc, (size_t)M * N)) return NULL;
  if (M == 0 || N == 0) return NULL;
  if (K == 0) {
    /* empty reduction: BLAS would reject lda = 0 */
    if (!acc) memset(c, 0, sizeof(float) * (size_t)M * N);
    return NULL;
  }
  mm_job_t j = {a, b, c, M, K, N, tA, tB, acc ? 1.0f : 0.0f, M >= N};
  const int total = j.splitRows ? M : N;
  /* at least two aligned blocks per thread */
  const int nt = call_threads(env_threads(env), total / (2 * MM_ALIGN), (double)M * N * K);
  if (nt <= 1) {
    cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a, tA ? M : K, b,
                tB ? K : N, acc ? 1.0f : 0.0f, c, N);
    return NULL;
  }
  pool_run(mm_part, &j, nt);
  return NULL;
}

/* ------------------------------------------------------------------ convolutions */

/* Gathers dy[n0+bb, gi*Og + o, :] into dyb[o, bb*OHW + :]. */
static void gather_dy(const float* dy, const geom_t* g, int gi, int n0, int b, float* dyb) {
  const int Og = g->O / g->G;
  const size_t OHW = (size_t)g->OH * g->OW, cols = (size_t)b * OHW;
  for (int o = 0; o < Og; o++)
    for (int bb = 0; bb < b; bb++)
      memcpy(dyb + (size_t)o * cols + (size_t)bb * OHW, dy + ((size_t)(n0 + bb) * g->O + (size_t)gi * Og + o) * OHW,
             sizeof(float) * OHW);
}

/* One call's work: image batches (see batch_count) spread over threads, each with its own scratch. */
typedef struct {
  geom_t g;
  const float *x, *w, *dy; /* inputs (those the kernel reads) */
  float* out;              /* out / dx / dw */
  int nbatch;
  int next;            /* forward / dX: next batch to take (atomic) */
  float* scratch;      /* per thread: col[colN], then tmp[tmpN] */
  size_t colN, tmpN;   /* floats */
  float* partial;      /* dW: threads 1.. accumulate here (nW floats each) */
} conv_job_t;

static inline float* job_col(const conv_job_t* j, int t) { return j->scratch + (size_t)t * (j->colN + j->tmpN); }
static inline float* job_tmp(const conv_job_t* j, int t) { return job_col(j, t) + j->colN; }
static inline int take_batch(conv_job_t* j) { return __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED); }

static void conv_fwd_part(void* p, int t, int nt) {
  conv_job_t* j = p;
  const geom_t* g = &j->g;
  const int Og = g->O / g->G;
  const size_t CK = (size_t)(g->C / g->G) * g->KH * g->KW, OHW = (size_t)g->OH * g->OW;
  float *col = job_col(j, t), *tmp = job_tmp(j, t);
  for (int k; (k = take_batch(j)) < j->nbatch;) {
    const int n0 = batch_start(k, g->N, j->nbatch), b = batch_start(k + 1, g->N, j->nbatch) - n0;
    const size_t cols = (size_t)b * OHW;
    for (int gi = 0; gi < g->G; gi++) {
      im2col(j->x, g, gi, n0, b, col);
      const float* wg = j->w + (size_t)gi * Og * CK;
      if (b == 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Og, (int)OHW, (int)CK, 1.0f, wg, (int)CK, col, (int)OHW, 0.0f,
                    j->out + ((size_t)n0 * g->O + (size_t)gi * Og) * OHW, (int)OHW);
        continue;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Og, (int)cols, (int)CK, 1.0f, wg, (int)CK, col, (int)cols, 0.0f, tmp,
                  (int)cols);
      /* [Og, b*OHW] -> out[n0+bb, gi*Og + o, :] */
      for (int o = 0; o < Og; o++)
        for (int bb = 0; bb < b; bb++)
          memcpy(j->out + ((size_t)(n0 + bb) * g->O + (size_t)gi * Og + o) * OHW, tmp + (size_t)o * cols + (size_t)bb * OHW,
                 sizeof(float) * OHW);
    }
  }
}

static void conv_dx_part(void* p, int t, int nt) {
  conv_job_t* j = p;
  const geom_t* g = &j->g;
  const int Og = g->O / g->G;
  const size_t CK = (size_t)(g->C / g->G) * g->KH * g->KW, OHW = (size_t)g->OH * g->OW;
  const size_t CHW = (size_t)g->C * g->H * g->W;
  float *dcol = job_col(j, t), *dyb = job_tmp(j, t);
  for (int k; (k = take_batch(j)) < j->nbatch;) {
    const int n0 = batch_start(k, g->N, j->nbatch), b = batch_start(k + 1, g->N, j->nbatch) - n0;
    const size_t cols = (size_t)b * OHW;
    memset(j->out + (size_t)n0 * CHW, 0, sizeof(float) * (size_t)b * CHW);
    for (int gi = 0; gi < g->G; gi++) {
      const float* src;
      if (b == 1) {
        src = j->dy + ((size_t)n0 * g->O + (size_t)gi * Og) * OHW;
      } else {
        gather_dy(j->dy, g, gi, n0, b, dyb);
        src = dyb;
      }
      /* dcol[CK, cols] = Wgᵀ · dy_g */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)CK, (int)cols, Og, 1.0f, j->w + (size_t)gi * Og * CK, (int)CK, src,
                  (int)cols, 0.0f, dcol, (int)cols);
      col2im(dcol, g, gi, n0, b, j->out);
    }
  }
}

/* Thread t accumulates batches [t·nbatch/nt, (t+1)·nbatch/nt) into dw (t = 0) or its partial. */
static void conv_dw_part(void* p, int t, int nt) {
  conv_job_t* j = p;
  const geom_t* g = &j->g;
  const int Og = g->O / g->G;
  const size_t CK = (size_t)(g->C / g->G) * g->KH * g->KW, OHW = (size_t)g->OH * g->OW, nW = (size_t)g->O * CK;
  float *col = job_col(j, t), *dyb = job_tmp(j, t);
  float* dw = t == 0 ? j->out : j->partial + (size_t)(t - 1) * nW;
  memset(dw, 0, sizeof(float) * nW);
  const int k0 = (int)((int64_t)j->nbatch * t / nt), k1 = (int)((int64_t)j->nbatch * (t + 1) / nt);
  for (int k = k0; k < k1; k++) {
    const int n0 = batch_start(k, g->N, j->nbatch), b = batch_start(k + 1, g->N, j->nbatch) - n0;
    const size_t cols = (size_t)b * OHW;
    for (int gi = 0; gi < g->G; gi++) {
      im2col(j->x, g, gi, n0, b, col);
      const float* src;
      if (b == 1) {
        src = j->dy + ((size_t)n0 * g->O + (size_t)gi * Og) * OHW;
      } else {
        gather_dy(j->dy, g, gi, n0, b, dyb);
        src = dyb;
      }
      /* dWg[Og, CK] += dy_g[Og, cols] · colᵀ */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Og, (int)CK, (int)cols, 1.0f, src, (int)cols, col, (int)cols, 1.0f,
                  dw + (size_t)gi * Og * CK, (int)CK);
    }
  }
}

/* Plans `j` (batches, threads) and allocates its scratch; throws and returns 0 on OOM. */
static int conv_setup(napi_env env, conv_job_t* j, size_t per_image, size_t tmp_per_image, size_t partialN) {
  const geom_t* g = &j->g;
  const size_t CK = (size_t)(g->C / g->G) * g->KH * g->KW, OHW = (size_t)g->OH * g->OW;
  j->nbatch = batch_count(g, per_image);
  const int maxb = batch_max(g->N, j->nbatch);
  const int nt = call_threads(env_threads(env), j->nbatch, (double)g->N * OHW * CK * (g->O / g->G) * g->G);
  j->next = 0;
  j->colN = CK * maxb * OHW;
  j->tmpN = maxb > 1 ? tmp_per_image * maxb : 0;
  const size_t total = (j->colN + j->tmpN) * nt + (nt > 1 ? partialN * (nt - 1) : 0);
  j->scratch = malloc(sizeof(float) * (total ? total : 1));
  if (j->scratch == NULL) {
    throw_oom(env, sizeof(float) * total);
    return 0;
  }
  j->partial = j->scratch + (j->colN + j->tmpN) * nt;
  return nt;
}

/* The convolution through oneDNN on this environment's thread count; 0 when it declined (see dnnl_conv.h). */
static int dnnl_call(napi_env env, dnnl_conv_kind_t kind, const geom_t* g, const float* a, const float* b, float* out) {
  const int nt = env_threads(env);
  if (!dnnl_conv(kind, g, a, b, out, nt)) return 0;
  if (nt > 1) __atomic_fetch_add(&par_regions, 1, __ATOMIC_RELAXED);
  return 1;
}

/* Both convolution gradients through oneDNN (see dnnl_conv_backward); 0 when it declined. */
static int dnnl_call_backward(napi_env env, const geom_t* g, const float* dy, const float* w, const float* x, float* dx,
                              float* dw) {
  const int nt = env_threads(env);
  if (!dnnl_conv_backward(g, dy, w, x, dx, dw, nt)) return 0;
  if (nt > 1) __atomic_fetch_add(&par_regions, 1, __ATOMIC_RELAXED);
  return 1;
}

/* Which convolution tensor an argument is: input-shaped, weight-shaped or output-shaped. */
typedef enum { AS_X, AS_W, AS_Y } conv_role_t;

/*
 * Parses (a, b, c, geom) of a convolution export into p[0..2] and *g, checking each array against
 * the size its role needs; names are for the error messages. Returns false with a JS exception set.
 */
static bool conv_args(napi_env env, napi_callback_info info, const char* const names[3], const conv_role_t roles[3],
                      float* p[3], geom_t* g) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "metaprune-native: convolutions take (a, b, out, geometry)");
    return false;
  }
  size_t len[3];
  for (int i = 0; i < 3; i++)
    if (!get_f32(env, argv[i], names[i], &p[i], &len[i])) return false;
  if (!get_geom(env, argv[3], g)) return false;
  const size_t sizes[3] = {
      (size_t)g->N * g->C * g->H * g->W,
      (size_t)g->O * (g->C / g->G) * g->KH * g->KW,
      (size_t)g->N * g->O * g->OH * g->OW,
  };
  for (int i = 0; i < 3; i++)
    if (!need(env, names[i], len[i], sizes[roles[i]])) return false;
  return true;
}

/* out[N,O,OH,OW] = conv(x[N,C,H,W], w[O,C/G,KH,KW]) (overwritten); false with a JS exception set. */
static bool conv_fwd(napi_env env, const geom_t* gp, const float* x, const float* w, float* out) {
  conv_job_t j = {.g = *gp};
  const geom_t g = j.g;
  const int Cg = g.C / g.G, Og = g.O / g.G;
  const size_t CK = (size_t)Cg * g.KH * g.KW, OHW = (size_t)g.OH * g.OW;
  const size_t nOut = (size_t)g.N * g.O * OHW;
  if (nOut == 0) return true;
  if (CK == 0) {
    memset(out, 0, sizeof(float) * nOut);
    return true;
  }
  if (dnnl_call(env, DNNL_FWD, &g, x, w, out)) return true;
  j.x = x;
  j.w = w;
  j.out = out;
  const int nt = conv_setup(env, &j, CK * OHW, (size_t)Og * OHW, 0);
  if (nt == 0) return false;
  pool_run(conv_fwd_part, &j, nt);
  free(j.scratch);
  return true;
}

/* dx[N,C,H,W] = input gradient of the convolution g for dy and w (overwritten); false with a JS exception set. */
static bool conv_dx(napi_env env, const geom_t* gp, const float* dy, const float* w, float* dx) {
  conv_job_t j = {.g = *gp};
  const geom_t g = j.g;
  const int Cg = g.C / g.G, Og = g.O / g.G;
  const size_t CK = (size_t)Cg * g.KH * g.KW, OHW = (size_t)g.OH * g.OW;
  const size_t nX = (size_t)g.N * g.C * g.H * g.W;
  if (nX == 0) return true;
  if (CK == 0 || OHW == 0 || Og == 0) {
    memset(dx, 0, sizeof(float) * nX);
    return true;
  }
  if (dnnl_call(env, DNNL_BWD_DATA, &g, dy, w, dx)) return true;
  j.dy = dy;
  j.w = w;
  j.out = dx;
  const int nt = conv_setup(env, &j, (CK + Og) * OHW, (size_t)Og * OHW, 0);
  if (nt == 0) return false;
  pool_run(conv_dx_part, &j, nt);
  free(j.scratch);
  return true;
}

/* dw[O,C/G,KH,KW] = filter gradient of the convolution g for x and dy (overwritten); false with a JS exception set. */
static bool conv_dw(napi_env env, const geom_t* gp, const float* x, const float* dy, float* dw) {
  conv_job_t j = {.g = *gp};
  const geom_t g = j.g;
  const int Cg = g.C / g.G, Og = g.O / g.G;
  const size_t CK = (size_t)Cg * g.KH * g.KW, OHW = (size_t)g.OH * g.OW;
  const size_t nW = (size_t)g.O * CK;
  if (nW == 0) return true;
  if (g.N == 0 || OHW == 0) {
    memset(dw, 0, sizeof(float) * nW);
    return true;
  }
  if (dnnl_call(env, DNNL_BWD_WEIGHTS, &g, x, dy, dw)) return true;
  j.x = x;
  j.dy = dy;
  j.out = dw;
  const int nt = conv_setup(env, &j, (CK + Og) * OHW, (size_t)Og * OHW, nW);
  if (nt == 0) return false;
  pool_run(conv_dw_part, &j, nt);
  /* dw = ((dw₀ + dw₁) + dw₂) + …, in thread order */
  for (int t = 1; t < nt; t++) {
    const float* p = j.partial + (size_t)(t - 1) * nW;
    for (size_t i = 0; i < nW; i++) dw[i] += p[i];
  }
  free(j.scratch);
  return true;
}

typedef bool (*conv_fn)(napi_env env, const geom_t* g, const float* a, const float* b, float* out);

/* A three-array convolution export: parses (a, b, out, geom) with the arrays' names and roles, runs fn. */
static napi_value conv_export(napi_env env, napi_callback_info info, const char* const names[3],
                              const conv_role_t roles[3], conv_fn fn) {
  geom_t g;
  float* a[3];
  if (conv_args(env, info, names, roles, a, &g)) fn(env, &g, a[0], a[1], a[2]);
  return NULL;
}

/* conv2d(x, w, out, geom): out[N,O,OH,OW] = conv(x[N,C,H,W], w[O,C/G,KH,KW]). */
static napi_value js_conv2d(napi_env env, napi_callback_info info) {
  return conv_export(env, info, (const char* const[]){"x", "w", "out"}, (const conv_role_t[]){AS_X, AS_W, AS_Y}, conv_fwd);
}

/* conv2dBackwardInput(dy, w, dx, geom): overwrites dx[N,C,H,W]. */
static napi_value js_conv2d_backward_input(napi_env env, napi_callback_info info) {
  return conv_export(env, info, (const char* const[]){"dy", "w", "dx"}, (const conv_role_t[]){AS_Y, AS_W, AS_X}, conv_dx);
}

/* conv2dBackwardFilter(x, dy, dw, geom): overwrites dw[O,C/G,KH,KW]. */
static napi_value js_conv2d_backward_filter(napi_env env, napi_callback_info info) {
  return conv_export(env, info, (const char* const[]){"x", "dy", "dw"}, (const conv_role_t[]){AS_X, AS_Y, AS_W}, conv_dw);
}

/*
 * conv2dBackward(dy, w, x, dx, dw, geom): both gradients (dx or dw may be null: not wanted); with
 * oneDNN, dy is reordered into its layout once for both.
 */
static napi_value js_conv2d_backward(napi_env env, napi_callback_info info) {
  NAPI_ARGS(6, "conv2dBackward takes (dy, w, x, dx | null, dw | null, geometry)");
  geom_t g;
  if (!get_geom(env, argv[5], &g)) return NULL;
  const char* const names[5] = {"dy", "w", "x", "dx", "dw"};
  const conv_role_t roles[5] = {AS_Y, AS_W, AS_X, AS_X, AS_W};
  const size_t sizes[3] = {
      (size_t)g.N * g.C * g.H * g.W,
      (size_t)g.O * (g.C / g.G) * g.KH * g.KW,
      (size_t)g.N * g.O * g.OH * g.OW,
  };
  float* p[5] = {NULL};
  for (int i = 0; i < 5; i++) {
    napi_valuetype t;
    NAPI_OK(napi_typeof(env, argv[i], &t));
    if (i >= 3 && t == napi_null) continue;
    size_t len;
    if (!get_f32(env, argv[i], names[i], &p[i], &len) || !need(env, names[i], len, sizes[roles[i]])) return NULL;
  }
  if (p[3] != NULL && p[4] != NULL && sizes[0] > 0 && sizes[1] > 0 && sizes[2] > 0 &&
      dnnl_call_backward(env, &g, p[0], p[1], p[2], p[3], p[4]))
    return NULL;
  if (p[3] != NULL && !conv_dx(env, &g, p[0], p[1], p[3])) return NULL;
  if (p[4] != NULL) conv_dw(env, &g, p[2], p[0], p[4]);
  return NULL;
}

/* ------------------------------------------------------------------ light kernels (batch norm, elementwise) */

/*
 * Batch-norm statistics and affine maps over x[N, C, HW], and ReLU / add, in place on the caller's
 * arrays. Arithmetic follows the `ts` reference kernels: sums and affine maps in double, rounded to
 * float once per stored value. Sums split by channels (each channel summed by one thread, planes in
 * index order, each plane in 4 fixed double lanes), maps by plane or element ranges, so results
 * never depend on the thread count.
 */

/* The light kernels are memory- and conversion-bound loops: on x86-64 also compile an AVX2 copy
 * (4 doubles per register instead of SSE2's 2), picked at load time. Same operations in the same
 * order, so the same bits either way (no FMA: -ffp-contract=off). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE __attribute__((target_clones("avx2", "default")))
#else
#define WIDE
#endif

/* Below this many elements a light call runs on the calling thread alone. */
#ifndef LIGHT_PAR_MIN
#define LIGHT_PAR_MIN ((size_t)1 << 16)
#endif

typedef struct {
  const float *x, *dy, *mean, *a, *b, *k1; /* a, b: scale / shift (affine), invstd (sums) */
  float *o1, *o2;
  int N, C, HW;
  size_t n; /* elementwise length */
  int op;
} light_job_t;

static inline void part_range(size_t total, int t, int nt, size_t* lo, size_t* hi) {
  *lo = (size_t)((unsigned __int128)total * t / nt);
  *hi = (size_t)((unsigned __int128)total * (t + 1) / nt);
}

static int light_threads(napi_env env, size_t units, size_t elems) {
  int nt = env_threads(env);
  if ((size_t)nt > units) nt = (int)units;
  if (elems < LIGHT_PAR_MIN || nt < 1) nt = 1;
  return nt;
}

/* Four double lanes (lane k sums elements i ≡ k mod 4), combined as (l0 + l1) + (l2 + l3): GCC's
 * vector extensions so the lanes are real SIMD lanes (it would not vectorize four scalar sums). */
typedef double d4 __attribute__((vector_size(32)));
typedef float f4 __attribute__((vector_size(16)));

static inline d4 load_d4(const float* p) {
  f4 v;
  memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, d4);
}

static inline void store_f4(float* p, d4 v) {
  const f4 r = __builtin_convertvector(v, f4);
  memcpy(p, &r, sizeof r);
}

static inline double lanes_sum(d4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

WIDE static double plane_sum(const float* x, int n) {
  d4 acc = {0, 0, 0, 0};
  int i = 0;
  for (; i + 4 <= n; i += 4) acc += load_d4(x + i);
  double s = lanes_sum(acc);
  for (; i < n; i++) s += x[i];
  return s;
}

WIDE static double plane_sqdev(const float* x, int n, double m) {
  d4 acc = {0, 0, 0, 0};
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const d4 d = load_d4(x + i) - m;
    acc += d * d;
  }
  double s = lanes_sum(acc);
  for (; i < n; i++) {
    const double d = x[i] - m;
    s += d * d;
  }
  return s;
}

WIDE static void moments_part(void* p, int t, int nt) {
  const light_job_t* j = p;
  size_t c0, c1;
  part_range((size_t)j->C, t, nt, &c0, &c1);
  const double cnt = (double)j->N * j->HW;
  for (size_t c = c0; c < c1; c++) {
    double s = 0;
    for (int n = 0; n < j->N; n++) s += plane_sum(j->x + ((size_t)n * j->C + c) * j->HW, j->HW);
    const double m = cnt > 0 ? s / cnt : 0;
    double v = 0;
    for (int n = 0; n < j->N; n++) v += plane_sqdev(j->x + ((size_t)n * j->C + c) * j->HW, j->HW, m);
    j->o1[c] = (float)m;
    j->o2[c] = cnt > 0 ? (float)(v / cnt) : 0.0f;
  }
}

WIDE static void backward_sums_part(void* p, int t, int nt) {
  const light_job_t* j = p;
  size_t c0, c1;
  part_range((size_t)j->C, t, nt, &c0, &c1);
  const int HW = j->HW;
  for (size_t c = c0; c < c1; c++) {
    const double m = j->mean[c];
    double s = 0, sx = 0;
    for (int n = 0; n < j->N; n++) {
      const size_t o = ((size_t)n * j->C + c) * HW;
      const float *d = j->dy + o, *x = j->x + o;
      d4 sa = {0, 0, 0, 0}, ta = {0, 0, 0, 0};
      int i = 0;
      for (; i + 4 <= HW; i += 4) {
        const d4 dv = load_d4(d + i);
        sa += dv;
        ta += dv * (load_d4(x + i) - m);
      }
      double ps = lanes_sum(sa), pt = lanes_sum(ta);
      for (; i < HW; i++) {
        const double di = d[i];
        ps += di;
        pt += di * (x[i] - m);
      }
      s += ps;
      sx += pt;
    }
    j->o1[c] = (float)s;
    j->o2[c] = (float)(sx * (double)j->a[c]);
  }
}

/* o1 = (x - mean[c]) * a[c] + b[c] (in double, rounded), then, with k1, o1 = o1 + k1[c] * dy (in double, rounded); planes split. */
WIDE static void affine_part(void* p, int t, int nt) {
  const light_job_t* j = p;
  size_t p0, p1;
  part_range((size_t)j->N * j->C, t, nt, &p0, &p1);
  const int HW = j->HW;
  for (size_t q = p0; q < p1; q++) {
    const size_t c = q % (size_t)j->C, o = q * HW;
    const double m = j->mean[c], s = j->a[c], b = j->b[c];
    const float* x = j->x + o;
    float* out = j->o1 + o;
    int i = 0;
    if (j->k1 != NULL) {
      const double k = j->k1[c];
      const float* d = j->dy + o;
      for (; i + 4 <= HW; i += 4) {
        const d4 u = __builtin_convertvector(__builtin_convertvector((load_d4(x + i) - m) * s + b, f4), d4);
        store_f4(out + i, u + k * load_d4(d + i));
      }
      for (; i < HW; i++) {
        const float u = (float)(((double)x[i] - m) * s + b);
        out[i] = (float)((double)u + k * (double)d[i]);
      }
    } else {
      for (; i + 4 <= HW; i += 4) store_f4(out + i, (load_d4(x + i) - m) * s + b);
      for (; i < HW; i++) out[i] = (float)(((double)x[i] - m) * s + b);
    }
  }
}

enum { EW_RELU = 0, EW_RELU_BACKWARD = 1, EW_ADD = 2 };

WIDE static void elementwise_part(void* p, int t, int nt) {
  const light_job_t* j = p;
  size_t lo, hi;
  part_range(j->n, t, nt, &lo, &hi);
  const float *a = j->x, *b = j->dy;
  float* o = j->o1;
  /* Branch-free selects (a ReLU's sign pattern is random: branches mispredict half the time), both
   * operands loaded unconditionally so that the loops vectorize: x > 0 ? v : +0 (NaN, -0 give +0). */
  switch (j->op) {
    case EW_RELU:
      for (size_t i = lo; i < hi; i++) {
        const float av = a[i];
        o[i] = av > 0.0f ? av : 0.0f;
      }
      break;
    case EW_RELU_BACKWARD:
      for (size_t i = lo; i < hi; i++) {
        const float av = a[i], bv = b[i];
        o[i] = av > 0.0f ? bv : 0.0f;
      }
      break;
    default:
      for (size_t i = lo; i < hi; i++) o[i] = a[i] + b[i];
      break;
  }
}

/* Reads argv[0..2] as N, C, HW into j and sets *total = N*C*HW; false with a JS exception set. */
static bool get_nchw(napi_env env, napi_value* argv, light_job_t* j, size_t* total) {
  if (!get_int(env, argv[0], "N", &j->N) || !get_int(env, argv[1], "C", &j->C) || !get_int(env, argv[2], "HW", &j->HW))
    return false;
  *total = (size_t)j->N * j->C * j->HW;
  return true;
}

/* Parses `nf` Float32Array arguments with their names and needed lengths. */
static bool get_arrays(napi_env env, napi_value* argv, int nf, const char* const* names, float** out, const size_t* want) {
  for (int i = 0; i < nf; i++) {
    size_t len;
    if (!get_f32(env, argv[i], names[i], &out[i], &len) || !need(env, names[i], len, want[i])) return false;
  }
  return true;
}

/* channelMoments(x, mean, variance, N, C, HW) */
static napi_value js_channel_moments(napi_env env, napi_callback_info info) {
  NAPI_ARGS(6, "channelMoments(x, mean, variance, N, C, HW)");
  light_job_t j = {0};
  size_t n;
  if (!get_nchw(env, argv + 3, &j, &n)) return NULL;
  float* f[3];
  if (!get_arrays(env, argv, 3, (const char* const[]){"x", "mean", "variance"}, f, (const size_t[]){n, j.C, j.C})) return NULL;
  j.x = f[0];
  j.o1 = f[1];
  j.o2 = f[2];
  if (j.C == 0) return NULL;
  pool_run(moments_part, &j, light_threads(env, j.C, n));
  return NULL;
}

/* channelAffine(x, mean, scale, shift, out, N, C, HW) */
static napi_value js_channel_affine(napi_env env, napi_callback_info info) {
  NAPI_ARGS(8, "channelAffine(x, mean, scale, shift, out, N, C, HW)");
  light_job_t j = {0};
  size_t n;
  if (!get_nchw(env, argv + 5, &j, &n)) return NULL;
  float* f[5];
  if (!get_arrays(env, argv, 5, (const char* const[]){"x", "mean", "scale", "shift", "out"}, f,
                  (const size_t[]){n, j.C, j.C, j.C, n}))
    return NULL;
  j.x = f[0];
  j.mean = f[1];
  j.a = f[2];
  j.b = f[3];
  j.o1 = f[4];
  if (n == 0) return NULL;
  pool_run(affine_part, &j, light_threads(env, (size_t)j.N * j.C, n));
  return NULL;
}

/* bnBackwardInput(dy, x, mean, k1, k2, k3, dx, N, C, HW): dx = ((x - mean)·k2 + k3) + k1·dy (each step rounded to float). */
static napi_value js_bn_backward_input(napi_env env, napi_callback_info info) {
  NAPI_ARGS(10, "bnBackwardInput(dy, x, mean, k1, k2, k3, dx, N, C, HW)");
  light_job_t j = {0};
  size_t n;
  if (!get_nchw(env, argv + 7, &j, &n)) return NULL;
  float* f[7];
  if (!get_arrays(env, argv, 7, (const char* const[]){"dy", "x", "mean", "k1", "k2", "k3", "dx"}, f,
                  (const size_t[]){n, n, j.C, j.C, j.C, j.C, n}))
    return NULL;
  j.dy = f[0];
  j.x = f[1];
  j.mean = f[2];
  j.k1 = f[3];
  j.a = f[4];
  j.b = f[5];
  j.o1 = f[6];
  if (n == 0) return NULL;
  pool_run(affine_part, &j, light_threads(env, (size_t)j.N * j.C, n));
  return NULL;
}

/* channelBackwardSums(dy, x, mean, invstd, sumDy, sumDyXhat, N, C, HW) */
static napi_value js_channel_backward_sums(napi_env env, napi_callback_info info) {
  NAPI_ARGS(9, "channelBackwardSums(dy, x, mean, invstd, sumDy, sumDyXhat, N, C, HW)");
  light_job_t j = {0};
  size_t n;
  if (!get_nchw(env, argv + 6, &j, &n)) return NULL;
  float* f[6];
  if (!get_arrays(env, argv, 6, (const char* const[]){"dy", "x", "mean", "invstd", "sumDy", "sumDyXhat"}, f,
                  (const size_t[]){n, n, j.C, j.C, j.C, j.C}))
    return NULL;
  j.dy = f[0];
  j.x = f[1];
  j.mean = f[2];
  j.a = f[3];
  j.o1 = f[4];
  j.o2 = f[5];
  if (j.C == 0) return NULL;
  pool_run(backward_sums_part, &j, light_threads(env, j.C, n));
  return NULL;
}

/* elementwise(op, a, b, out): op 0 relu(a), 1 a > 0 ? b : 0, 2 a + b; b is ignored (may be null) for relu. Length of out. */
static napi_value js_elementwise(napi_env env, napi_callback_info info) {
  NAPI_ARGS(4, "elementwise(op, a, b, out)");
  light_job_t j = {0};
  if (!get_int(env, argv[0], "op", &j.op)) return NULL;
  if (j.op > EW_ADD) {
    napi_throw_range_error(env, NULL, "metaprune-native: unknown elementwise op");
    return NULL;
  }
  float *a, *b = NULL, *o;
  size_t la, lb = 0, lo;
  if (!get_f32(env, argv[3], "out", &o, &lo) || !get_f32(env, argv[1], "a", &a, &la) || !need(env, "a", la, lo)) return NULL;
  if (j.op != EW_RELU && (!get_f32(env, argv[2], "b", &b, &lb) || !need(env, "b", lb, lo))) return NULL;
  j.x = a;
  j.dy = b;
  j.o1 = o;
  j.n = lo;
  if (lo == 0) return NULL;
  pool_run(elementwise_part, &j, light_threads(env, lo / 4096 + 1, lo));
  return NULL;
}

/* ------------------------------------------------------------------ threads / info */

/* setThreads(n): OpenBLAS's own thread count (keep it at 1 when the pool has more than one thread). */
/* The thread count (>= 1) a setter was called with; false (a no-op call when it was given none). */
static bool get_thread_count(napi_env env, napi_callback_info info, int* n) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return false;
  if (!get_int(env, argv[0], "n", n)) return false;
  if (*n < 1) {
    napi_throw_range_error(env, NULL, "metaprune-native: thread count must be >= 1");
    return false;
  }
  return true;
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  int n = 0;
  if (!get_thread_count(env, info, &n)) return NULL;
  openblas_set_num_threads(n);
  return NULL;
}

static napi_value js_get_threads(napi_env env, napi_callback_info info) {
  napi_value r;
  NAPI_OK(napi_create_int32(env, openblas_get_num_threads(), &r));
  return r;
}

/* setConvThreads(n): threads (the caller's included) the convolutions and large matmuls use. */
static napi_value js_set_conv_threads(napi_env env, napi_callback_info info) {
  int n = 0;
  if (!get_thread_count(env, info, &n)) return NULL;
  env_state_t* st = env_state(env);
  if (st != NULL) st->conv_threads = n > MAX_POOL_THREADS ? MAX_POOL_THREADS : n;
  return NULL;
}

static napi_value js_get_conv_threads(napi_env env, napi_callback_info info) {
  napi_value r;
  NAPI_OK(napi_create_int32(env, env_threads(env), &r));
  return r;
}

/*
 * poolInfo(): { workers: pool threads created so far, parallel: openblas_get_parallel() (0 sequential,
 * 1 pthreads, 2 OpenMP), openmp: parallel parts run on OpenMP's team instead of the pool (built with
 * oneDNN), regions: calls that ran on more than one thread }.
 */
static napi_value js_pool_info(napi_env env, napi_callback_info info) {
  napi_value r, v;
  NAPI_OK(napi_create_object(env, &r));
  NAPI_OK(napi_create_int32(env, __atomic_load_n(&pool_workers, __ATOMIC_RELAXED), &v));
  NAPI_OK(napi_set_named_property(env, r, "workers", v));
  NAPI_OK(napi_create_int32(env, openblas_get_parallel(), &v));
  NAPI_OK(napi_set_named_property(env, r, "parallel", v));
#ifdef _OPENMP
  NAPI_OK(napi_get_boolean(env, true, &v));
#else
  NAPI_OK(napi_get_boolean(env, false, &v));
#endif
  NAPI_OK(napi_set_named_property(env, r, "openmp", v));
  NAPI_OK(napi_create_double(env, (double)__atomic_load_n(&par_regions, __ATOMIC_RELAXED), &v));
  NAPI_OK(napi_set_named_property(env, r, "regions", v));
  return r;
}

/* setDnnl(on): route convolutions through oneDNN (when compiled in; on by default) or the im2col path. */
static napi_value js_set_dnnl(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool on = false;
  if (argc < 1 || !get_bool(env, argv[0], &on)) {
    napi_throw_type_error(env, NULL, "metaprune-native: setDnnl takes a boolean");
    return NULL;
  }
  dnnl_conv_enable(on);
  return NULL;
}

/* getDnnl(): { compiled: built with oneDNN, enabled: convolutions go through it }. */
static napi_value js_get_dnnl(napi_env env, napi_callback_info info) {
  napi_value r, v;
  NAPI_OK(napi_create_object(env, &r));
  NAPI_OK(napi_get_boolean(env, dnnl_conv_compiled(), &v));
  NAPI_OK(napi_set_named_property(env, r, "compiled", v));
  NAPI_OK(napi_get_boolean(env, dnnl_conv_enabled(), &v));
  NAPI_OK(napi_set_named_property(env, r, "enabled", v));
  return r;
}

static napi_value make_string(napi_env env, const char* s) {
  napi_value v;
  if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) != napi_ok) return NULL;
  return v;
}

/*
 * Every op returns a fresh Float32Array (1-4 MB for ResNet-20 at batch 64) and V8 frees them only at
 * GC, so with glibc's defaults each big array is a fresh mmap: page faults on first touch (~0.9 ms
 * per 4 MB, serialised across threads), several times the ReLU that fills it. Serving them from the
 * heap and keeping freed memory there makes them ~3x cheaper (bench/perf.ts: a few % of a step, more
 * at 2 threads). Process-wide, so only when the addon loads; METAPRUNE_MALLOPT=0 leaves glibc alone.
 */
static void tune_malloc(void) {
#ifdef __GLIBC__
  const char* v = getenv("METAPRUNE_MALLOPT");
  if (v != NULL && strcmp(v, "0") == 0) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit) */
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

static pthread_once_t malloc_once = PTHREAD_ONCE_INIT;

static napi_value init(napi_env env, napi_value exports) {
  pthread_once(&malloc_once, tune_malloc);
  env_state_t* st = malloc(sizeof *st);
  if (st == NULL || napi_set_instance_data(env, st, free_env_state, NULL) != napi_ok) {
    free(st);
    napi_throw_error(env, NULL, "metaprune-native: cannot allocate the addon's state");
    return NULL;
  }
  st->conv_threads = 1;
  char blas[256];
  snprintf(blas, sizeof blas, "%s; core %s", openblas_get_config(), openblas_get_corename());
  napi_property_descriptor props[] = {
      {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, js_conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackwardInput", NULL, js_conv2d_backward_input, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackwardFilter", NULL, js_conv2d_backward_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackward", NULL, js_conv2d_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"channelMoments", NULL, js_channel_moments, NULL, NULL, NULL, napi_enumerable, NULL},
      {"channelAffine", NULL, js_channel_affine, NULL, NULL, NULL, napi_enumerable, NULL},
      {"channelBackwardSums", NULL, js_channel_backward_sums, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnBackwardInput", NULL, js_bn_backward_input, NULL, NULL, NULL, napi_enumerable, NULL},
      {"elementwise", NULL, js_elementwise, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, js_get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setConvThreads", NULL, js_set_conv_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getConvThreads", NULL, js_get_conv_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setDnnl", NULL, js_set_dnnl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getDnnl", NULL, js_get_dnnl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poolInfo", NULL, js_pool_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"version", NULL, NULL, NULL, NULL, make_string(env, ADDON_VERSION), napi_enumerable, NULL},
      {"blas", NULL, NULL, NULL, NULL, make_string(env, blas), napi_enumerable, NULL},
  };
  NAPI_OK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
