/*
 * metaprune WebAssembly kernels (float32, SIMD128, shared-memory threads). No libc.
 *
 * Build: tools/build-wasm.sh  (clang --target=wasm32 -O3 -msimd128 -matomics -mbulk-memory,
 * linked with --shared-memory --import-memory: the JS side creates one shared WebAssembly.Memory and
 * instantiates this module once on the main thread and once per worker thread over that memory).
 *
 * Memory model: a bump allocator over the linear memory above `arena_base`; below it live the
 * worker stacks and the blocks of an open resident scope (tensors the JS side keeps in this memory). The JS side calls
 * mp_reset() before each kernel call, mp_alloc()s its inputs/outputs and copies data in; kernels
 * bump-allocate their own scratch (GEMM packing buffers, zero-padded input planes, ...) after
 * that and release it when they return. The bump pointer is advanced atomically, so worker threads
 * may allocate their per-thread scratch during a parallel region; only the main thread resets it,
 * between kernel calls. All pointers are byte offsets into the (growable) linear memory. Kernels
 * that allocate return 0 on success and -1 when memory could not be grown (-2: a worker failed).
 *
 * Threads: a kernel splits its work into chunks (images of a batch, column blocks of a GEMM,
 * channel ranges, ...) and runs them with par_for(). Chunks are claimed dynamically (one atomic
 * counter tagged with a job generation), so a worker that is slow to wake up, or not started yet,
 * never stalls the caller: the main thread processes whatever is left. Every chunk computes the
 * same arithmetic whichever thread runs it, and reductions over the batch (filter gradients) go
 * through a fixed number of partial sums that depends only on the geometry, so results do not
 * depend on the number of threads or on the scheduling. Workers sleep in memory.atomic.wait32
 * between jobs (after a short spin) and are woken with memory.atomic.notify.
 *
 * Semantics mirror src/tensor/kernels.ts (PyTorch conventions). Convolutions:
 *  - forward: 3x3, stride 1, dilation 1, groups 1, C and O >= 8 -> Winograd F(2x2, 3x3);
 *    otherwise stride-W 1 -> direct GEMM reading B in place from zero-padded input planes;
 *    otherwise GEMM with an implicit-im2col B packer. Depthwise (C == groups): direct loops.
 *  - input gradient: stride 1 -> forward conv of dy with flipped, transposed weights;
 *    otherwise GEMM into a column buffer + col2im.
 *  - filter gradient: 3x3, stride 1, dilation 1, groups 1, C and O >= 8 -> Winograd F(2x2, 3x3)
 *    (dW = Gᵀ [Σ (A dY Aᵀ) ⊙ (Bᵀ d B)] G); otherwise GEMM whose A rows (im2col rows) are read in
 *    place from padded input. Both sum fixed per-image-range partials in a fixed order.
 */
#include <wasm_simd128.h>

typedef unsigned int u32;
typedef unsigned long size_t;
typedef unsigned long long u64;

#define EXPORT(name) __attribute__((export_name(#name)))
#define INLINE static inline __attribute__((always_inline))
#define SEQ __ATOMIC_SEQ_CST

extern unsigned char __heap_base;

/* ------------------------------------------------------------------------------------------ */
/* allocator                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static u32 arena_base = 0; /* start of the per-call arena (above permanent allocations) */
static u32 heap_top = 0;   /* bump pointer; advanced atomically */

INLINE u32 base_of_arena(void) { return arena_base ? arena_base : (u32)(size_t)&__heap_base; }

EXPORT(mp_reset) void mp_reset(void) { __atomic_store_n(&heap_top, base_of_arena(), SEQ); }

/** Makes sure the memory covers [0, end); safe to call from several threads. */
static int ensure_memory(u64 end) {
  if (end > 0xFFFF0000ull) return -1;
  for (;;) {
    u64 have = (u64)__builtin_wasm_memory_size(0) * 65536u;
    if (end <= have) return 0;
    u32 need = (u32)((end - have + 65535u) / 65536u);
    if (__builtin_wasm_memory_grow(0, need) == (size_t)-1) {
      /* another thread may have grown it meanwhile */
      if (end <= (u64)__builtin_wasm_memory_size(0) * 65536u) return 0;
      return -1;
    }
  }
}

/** 64-byte aligned bump allocation; grows memory when needed; returns 0 on failure. Thread-safe. */
EXPORT(mp_alloc) u32 mp_alloc(u32 bytes) {
  u32 old = __atomic_load_n(&heap_top, SEQ);
  u32 p;
  u64 end;
  do {
    if (old == 0) old = base_of_arena();
    p = (old + 63u) & ~63u;
    end = (u64)p + bytes;
    if (end > 0xFFFF0000ull) return 0;
  } while (!__atomic_compare_exchange_n(&heap_top, &old, (u32)end, 0, SEQ, SEQ));
  if (ensure_memory(end)) return 0;
  return p;
}

/**
 * Allocation that outlives kernel calls (worker stacks): moves the arena base up. Main thread only,
 * between kernel calls. Returns 0 on failure.
 */
EXPORT(mp_alloc_permanent) u32 mp_alloc_permanent(u32 bytes) {
  u32 p = (base_of_arena() + 63u) & ~63u;
  u64 end = (u64)p + bytes;
  if (ensure_memory(end + 64)) return 0;
  arena_base = (u32)((end + 63u) & ~63ull);
  mp_reset();
  return p;
}

EXPORT(mp_heap_base) u32 mp_heap_base(void) { return (u32)(size_t)&__heap_base; }

/**
 * Resident scopes (see index.ts): blocks that outlive kernel calls but not the scope are taken with
 * mp_alloc_permanent(); mp_arena_mark() before and mp_arena_release(mark) after give them all back
 * at once. Main thread only, between kernel calls.
 */
EXPORT(mp_arena_mark) u32 mp_arena_mark(void) { return base_of_arena(); }

EXPORT(mp_arena_release) void mp_arena_release(u32 mark) {
  arena_base = mark;
  mp_reset();
}

static void *salloc(u32 bytes) { return (void *)(size_t)mp_alloc(bytes); }

/* ------------------------------------------------------------------------------------------ */
/* thread pool                                                                                */
/* ------------------------------------------------------------------------------------------ */

#define MAXT 64 /* most threads (main included) that take part in a parallel region */

typedef void (*ChunkFn)(void *ctx, int chunk, int tid);

/*
 * The claim word packs (generation:24 | chunks:20 | next unclaimed chunk:20), so a claim reads one
 * consistent snapshot and its CAS validates all three at once.
 */
#define W_NEXT_BITS 20
#define W_N_SHIFT 20
#define W_GEN_SHIFT 40
#define W_MASK20 0xFFFFFull
#define MAX_CHUNKS 0xFFFFF

static struct {
  u64 word;   /* (generation << 40) | (chunks << 20) | next unclaimed chunk */
  int gen;    /* generation; workers sleep on it */
  int done;   /* finished chunks; the main thread sleeps on it */
  int active; /* workers inside run_chunks */
  int crashed;
  u64 job;    /* (function << 32) | context of the current job, read after a claim */
} pool __attribute__((aligned(64)));

/*
 * memory.atomic.wait32 behind a call that is never inlined. V8's baseline compiler (Liftoff, Node 20)
 * lost values live across an inlined wait: par_join's loop then ended before the workers were done
 * and the caller read half-written outputs (about 1 run in 4 under load; almost every run with
 * node --liftoff-only; never with --no-liftoff). Across a real call it spills what is live, as for
 * any call. test/tensor/threads.test.ts keeps a --liftoff-only run.
 */
__attribute__((noinline)) static int wait32(int *p, int expected, long long timeoutNs) {
  return __builtin_wasm_memory_atomic_wait32(p, expected, timeoutNs);
}

/* memory.atomic.notify is a runtime call in Liftoff too: kept behind a real call for the same reason. */
__attribute__((noinline)) static void notify(int *p, u32 count) { __builtin_wasm_memory_atomic_notify(p, count); }

static int nthreads = 1;   /* threads taking part in parallel regions (main included) */
static int workers_ready = 0;  /* workers that entered their loop */
static int worker_chunks = 0;  /* chunks run by workers (diagnostics) */
static u32 gen_counter = 0; /* main thread only */
static int par_busy = 0;    /* main thread only: a parallel region is running */
static int pend_active = 0; /* main thread only: a job started by par_start is not joined yet */
static int cur_n = 0;       /* main thread only: chunks of that job */

#ifndef SPIN_MAIN
#define SPIN_MAIN 200000
#endif
#ifndef SPIN_WORKER
#define SPIN_WORKER 100000
#endif

EXPORT(mp_set_threads) void mp_set_threads(int n) {
  __atomic_store_n(&nthreads, n < 1 ? 1 : n > MAXT ? MAXT : n, SEQ);
}

static void run_chunks(int tid) {
  for (;;) {
    u64 w = __atomic_load_n(&pool.word, SEQ);
    const int n = (int)((w >> W_N_SHIFT) & W_MASK20), i = (int)(w & W_MASK20);
    if (i >= n) return;
    /* the CAS succeeds only if the word is unchanged, i.e. chunk i of this very job is unclaimed
       (par_start closes the previous job before writing new parameters), so the job read after it
       (function, context) is this job's: it cannot change before this chunk is counted done */
    if (!__atomic_compare_exchange_n(&pool.word, &w, w + 1, 0, SEQ, SEQ)) continue;
    const u64 job = __atomic_load_n(&pool.job, SEQ);
    ((ChunkFn)(size_t)(u32)(job >> 32))((void *)(size_t)(u32)job, i, tid);
    if (tid > 0) __atomic_add_fetch(&worker_chunks, 1, SEQ);
    if (__atomic_add_fetch(&pool.done, 1, SEQ) == n) notify(&pool.done, 1);
  }
}

/** Worker thread body (never returns): waits for jobs and helps with their chunks. */
EXPORT(mp_worker_main) void mp_worker_main(int tid) {
  int seen = __atomic_load_n(&pool.gen, SEQ);
  __atomic_add_fetch(&workers_ready, 1, SEQ);
  for (;;) {
    int g = seen;
    for (int s = 0; s < SPIN_WORKER; s++) {
      g = __atomic_load_n(&pool.gen, SEQ);
      if (g != seen) break;
    }
    if (g == seen) {
      /* finite timeout: keeps the thread responsive to termination */
      wait32(&pool.gen, seen, 200000000ll);
      continue;
    }
    seen = g;
    if (tid >= __atomic_load_n(&nthreads, SEQ)) continue;
    __atomic_add_fetch(&pool.active, 1, SEQ);
    run_chunks(tid);
    __atomic_sub_fetch(&pool.active, 1, SEQ);
  }
}

EXPORT(mp_workers_ready) int mp_workers_ready(void) { return __atomic_load_n(&workers_ready, SEQ); }
EXPORT(mp_worker_chunks) int mp_worker_chunks(void) { return __atomic_load_n(&worker_chunks, SEQ); }

/** Called by a worker's JS wrapper when its wasm code threw: the caller stops waiting for it. */
EXPORT(mp_worker_crashed) void mp_worker_crashed(void) {
  __atomic_sub_fetch(&workers_ready, 1, SEQ);
  __atomic_store_n(&pool.crashed, 1, SEQ);
  __atomic_sub_fetch(&pool.active, 1, SEQ);
  notify(&pool.done, 1);
}

/** After an exception in the main thread: waits for workers to leave the aborted job. */
EXPORT(mp_recover) void mp_recover(void) {
  /* no chunk can be claimed any more */
  __atomic_store_n(&pool.word, ((u64)gen_counter << W_GEN_SHIFT), SEQ);
  while (__atomic_load_n(&pool.active, SEQ) > 0) wait32(&pool.done, -1, 1000000ll);
  __atomic_store_n(&pool.crashed, 0, SEQ);
  par_busy = 0;
  pend_active = 0;
}

/**
 * Publishes fn(ctx, chunk, tid) for chunk = 0..n-1 to the workers and returns at once; par_join()
 * then helps with the remaining chunks and waits. Runs everything synchronously (and par_join is a
 * no-op) when there is one thread, one chunk, or when called inside a parallel region.
 */
static void par_start(ChunkFn fn, void *ctx, int n) {
  if (n <= 0) return;
  if (n == 1 || par_busy || __atomic_load_n(&nthreads, SEQ) <= 1) {
    for (int i = 0; i < n; i++) fn(ctx, i, 0);
    return;
  }
  if (n > MAX_CHUNKS) {
    /* more chunks than the claim word can count: merge consecutive ones (not needed in practice) */
    for (int i = 0; i < n; i++) fn(ctx, i, 0);
    return;
  }
  par_busy = 1;
  pend_active = 1;
  cur_n = n;
  /* First close the previous job (zero chunks): a worker still looping in run_chunks may hold its
     word; that stale word no longer matches, so it cannot claim against the parameters below. */
  __atomic_store_n(&pool.word, ((u64)gen_counter << W_GEN_SHIFT), SEQ);
  __atomic_store_n(&pool.job, ((u64)(u32)(size_t)fn << 32) | (u32)(size_t)ctx, SEQ);
  __atomic_store_n(&pool.done, 0, SEQ);
  const u32 g = ++gen_counter & 0xFFFFFF;
  gen_counter = g;
  __atomic_store_n(&pool.word, ((u64)g << W_GEN_SHIFT) | ((u64)n << W_N_SHIFT), SEQ);
  __atomic_store_n(&pool.gen, (int)g, SEQ);
  notify(&pool.gen, (u32)(__atomic_load_n(&nthreads, SEQ) - 1));
}

/** Finishes the job of par_start (main thread takes part). Returns 0, or -2 when a worker crashed. */
static int par_join(void) {
  if (!pend_active) return 0;
  run_chunks(0);
  const int n = cur_n;
  int rc = 0;
  for (int s = 0;; s++) {
    const int d = __atomic_load_n(&pool.done, SEQ);
    if (d >= n) break;
    if (__atomic_load_n(&pool.crashed, SEQ)) {
      rc = -2;
      break;
    }
    if (s > SPIN_MAIN) wait32(&pool.done, d, 1000000ll);
  }
  par_busy = 0;
  pend_active = 0;
  return rc;
}

/** par_start + par_join. */
static int par_for(ChunkFn fn, void *ctx, int n) {
  par_start(fn, ctx, n);
  return par_join();
}

/* Number of chunks for `units` independent work units of roughly `unitCost` flops each:
   1 when single-threaded or too small to be worth waking workers. */
static int chunks_for(int units, double unitCost, int perThread) {
  const int T = __atomic_load_n(&nthreads, SEQ);
  if (T <= 1 || units <= 1) return 1;
  const double total = unitCost * units;
  if (total < 200000.0) return 1;
  int c = T * perThread;
  const int byWork = (int)(total / 100000.0);
  if (c > byWork) c = byWork;
  if (c > units) c = units;
  return c < 1 ? 1 : c;
}

/* Chunk i of n over [0, total): [*lo, *hi). */
INLINE void chunk_range(int total, int n, int i, int *lo, int *hi) {
  *lo = (int)((long long)total * i / n);
  *hi = (int)((long long)total * (i + 1) / n);
}

/*
 * Fills and copies are SIMD loops, never memory.fill / memory.copy: engines bounds-check those bulk
 * operations against the instance's cached memory size, which on a worker thread can lag behind a
 * growth just done by the main thread (a spurious out-of-bounds trap).
 */
INLINE void fill0(float *p, int n) {
  const v128_t z = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    wasm_v128_store(p + i, z);
    wasm_v128_store(p + i + 4, z);
    wasm_v128_store(p + i + 8, z);
    wasm_v128_store(p + i + 12, z);
  }
  for (; i + 4 <= n; i += 4) wasm_v128_store(p + i, z);
  for (; i < n; i++) p[i] = 0.0f;
}

INLINE void copy_f32(float *d, const float *s, int n) {
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const v128_t a = wasm_v128_load(s + i), b = wasm_v128_load(s + i + 4);
    const v128_t c = wasm_v128_load(s + i + 8), e = wasm_v128_load(s + i + 12);
    wasm_v128_store(d + i, a);
    wasm_v128_store(d + i + 4, b);
    wasm_v128_store(d + i + 8, c);
    wasm_v128_store(d + i + 12, e);
  }
  for (; i + 4 <= n; i += 4) wasm_v128_store(d + i, wasm_v128_load(s + i));
  for (; i < n; i++) d[i] = s[i];
}

/* Zeroes `bytes` (a multiple of 4) at p. */
static void zero_bytes(void *p, u32 bytes) { fill0((float *)p, (int)(bytes / 4)); }

/* ------------------------------------------------------------------------------------------ */
/* GEMM: C[M,N] += op(A)[M,K] · op(B)[K,N]                                                     */
/*   A(i,k) = A[i*rsA + k*csA], B(k,j) = B[k*rsB + j*csB], C row-major with leading dim ldc.     */
/* BLIS-style: pack B panels (KC x NC, NR-wide strips) and A blocks (MC x KC, MR-tall strips),   */
/* MR x NR register-tiled f32x4 micro-kernel.                                                   */
/* ------------------------------------------------------------------------------------------ */

#define MR 4 /* the micro-kernels below are written for 4 rows */
#define NR 8
#ifndef KC
#define KC 256
#endif
#ifndef MC
#define MC 128
#endif
#ifndef NC
#define NC 512
#endif

typedef struct {
  float *packA; /* MC*KC */
  float *packB; /* KC*NC */
} GemmWork;

static int gemm_work(GemmWork *w) {
  w->packA = (float *)salloc(MC * KC * 4);
  w->packB = (float *)salloc(KC * NC * 4);
  return (w->packA && w->packB) ? 0 : -1;
}

/* dst[k][0..8) = src[j*cs + k] for j < 8, k < kc: 8 columns stored with stride cs, transposed with 4x4 shuffles. */
static void transpose8(const float *src, int cs, int kc, float *dst) {
  const float *s0 = src, *s1 = src + cs, *s2 = src + 2 * cs, *s3 = src + 3 * cs;
  const float *s4 = src + 4 * cs, *s5 = src + 5 * cs, *s6 = src + 6 * cs, *s7 = src + 7 * cs;
  int k = 0;
  for (; k + 4 <= kc; k += 4) {
    v128_t r0 = wasm_v128_load(s0 + k), r1 = wasm_v128_load(s1 + k);
    v128_t r2 = wasm_v128_load(s2 + k), r3 = wasm_v128_load(s3 + k);
    v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5);
    v128_t t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5);
    v128_t t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
    v128_t q0 = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5);
    v128_t q1 = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
    v128_t q2 = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5);
    v128_t q3 = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
    v128_t u0 = wasm_v128_load(s4 + k), u1 = wasm_v128_load(s5 + k);
    v128_t u2 = wasm_v128_load(s6 + k), u3 = wasm_v128_load(s7 + k);
    v128_t v0 = wasm_i32x4_shuffle(u0, u1, 0, 4, 1, 5);
    v128_t v1 = wasm_i32x4_shuffle(u0, u1, 2, 6, 3, 7);
    v128_t v2 = wasm_i32x4_shuffle(u2, u3, 0, 4, 1, 5);
    v128_t v3 = wasm_i32x4_shuffle(u2, u3, 2, 6, 3, 7);
    v128_t p0 = wasm_i32x4_shuffle(v0, v2, 0, 1, 4, 5);
    v128_t p1 = wasm_i32x4_shuffle(v0, v2, 2, 3, 6, 7);
    v128_t p2 = wasm_i32x4_shuffle(v1, v3, 0, 1, 4, 5);
    v128_t p3 = wasm_i32x4_shuffle(v1, v3, 2, 3, 6, 7);
    wasm_v128_store(dst + 0, q0); wasm_v128_store(dst + 4, p0);
    wasm_v128_store(dst + 8, q1); wasm_v128_store(dst + 12, p1);
    wasm_v128_store(dst + 16, q2); wasm_v128_store(dst + 20, p2);
    wasm_v128_store(dst + 24, q3); wasm_v128_store(dst + 28, p3);
    dst += 4 * NR;
  }
  for (; k < kc; k++) {
    dst[0] = s0[k]; dst[1] = s1[k]; dst[2] = s2[k]; dst[3] = s3[k];
    dst[4] = s4[k]; dst[5] = s5[k]; dst[6] = s6[k]; dst[7] = s7[k];
    dst += NR;
  }
}

/* Pack B(k0.., j0..) block of kc x nc into NR strips: dst[strip][k][NR], zero padded. */
static void pack_b(const float *B, int rsB, int csB, int k0, int kc, int j0, int nc, float *dst) {
  if (csB == 1) {
    /* row-major B: stream each row once (prefetch friendly), scattering into the strips */
    const int full = nc - nc % NR, strideS = kc * NR;
    for (int k = 0; k < kc; k++) {
      const float *s = B + (size_t)(k0 + k) * rsB + j0;
      float *d = dst + (size_t)k * NR;
      int js = 0;
      for (; js < full; js += NR, d += strideS) {
        wasm_v128_store(d, wasm_v128_load(s + js));
        wasm_v128_store(d + 4, wasm_v128_load(s + js + 4));
      }
      if (js < nc) {
        int j = 0;
        for (; j < nc - js; j++) d[j] = s[js + j];
        for (; j < NR; j++) d[j] = 0.0f;
      }
    }
    return;
  }
  for (int js = 0; js < nc; js += NR) {
    int nr = nc - js < NR ? nc - js : NR;
    const float *src = B + (size_t)k0 * rsB + (size_t)(j0 + js) * csB;
    if (rsB == 1 && nr == NR) {
      transpose8(src, csB, kc, dst);
      dst += (size_t)kc * NR;
    } else {
      for (int k = 0; k < kc; k++) {
        const float *s = src + (size_t)k * rsB;
        int j = 0;
        for (; j < nr; j++) dst[j] = s[(size_t)j * csB];
        for (; j < NR; j++) dst[j] = 0.0f;
        dst += NR;
      }
    }
  }
}

/* Pack A(i0.., k0..) block of mc x kc into MR strips: dst[strip][k][MR], zero padded. */
static void pack_a(const float *A, int rsA, int csA, int i0, int mc, int k0, int kc, float *dst) {
  for (int is = 0; is < mc; is += MR) {
    int mr = mc - is < MR ? mc - is : MR;
    const float *src = A + (size_t)(i0 + is) * rsA + (size_t)k0 * csA;
    if (rsA == 1 && mr == MR) {
      for (int k = 0; k < kc; k++) {
        const float *s = src + (size_t)k * csA;
        wasm_v128_store(dst, wasm_v128_load(s));
        dst += MR;
      }
    } else if (csA == 1 && mr == MR) {
      const float *r0 = src, *r1 = src + rsA, *r2 = src + 2 * rsA, *r3 = src + 3 * rsA;
      int k = 0;
      for (; k + 4 <= kc; k += 4) {
        v128_t a0 = wasm_v128_load(r0 + k), a1 = wasm_v128_load(r1 + k);
        v128_t a2 = wasm_v128_load(r2 + k), a3 = wasm_v128_load(r3 + k);
        v128_t t0 = wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5);
        v128_t t1 = wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7);
        v128_t t2 = wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5);
        v128_t t3 = wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7);
        wasm_v128_store(dst + 0, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
        wasm_v128_store(dst + 4, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
        wasm_v128_store(dst + 8, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
        wasm_v128_store(dst + 12, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
        dst += 16;
      }
      for (; k < kc; k++) {
        dst[0] = r0[k]; dst[1] = r1[k]; dst[2] = r2[k]; dst[3] = r3[k];
        dst += MR;
      }
    } else {
      for (int k = 0; k < kc; k++) {
        const float *s = src + (size_t)k * csA;
        int i = 0;
        for (; i < mr; i++) dst[i] = s[(size_t)i * rsA];
        for (; i < MR; i++) dst[i] = 0.0f;
        dst += MR;
      }
    }
  }
}

#define FMA(c, a, b) c = wasm_f32x4_add(c, wasm_f32x4_mul(a, b))

/* Adds a 4x8 register tile into C: row r gets c_r0 at columns d0..d0+3 and c_r1 at d1..d1+3. */
INLINE void add_tile_4x8(float *C, int ldc, int d0, int d1, v128_t c00, v128_t c01, v128_t c10, v128_t c11,
                         v128_t c20, v128_t c21, v128_t c30, v128_t c31) {
  const v128_t c[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
  for (int r = 0; r < 4; r++) {
    float *q = C + (size_t)r * ldc;
    wasm_v128_store(q + d0, wasm_f32x4_add(wasm_v128_load(q + d0), c[r][0]));
    wasm_v128_store(q + d1, wasm_f32x4_add(wasm_v128_load(q + d1), c[r][1]));
  }
}

/* C[MR x NR] (+)= Ap[kc x MR]ᵀ-strip · Bp[kc x NR]-strip; full tile, ldc stride. */
INLINE void micro_kernel_s(int kc, const float *Ap, const float *Bp, int ldb, float *C, int ldc) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00;
  v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int k = 0; k < kc; k++) {
    v128_t b0 = wasm_v128_load(Bp), b1 = wasm_v128_load(Bp + 4);
    v128_t a;
    a = wasm_v128_load32_splat(Ap + 0); FMA(c00, a, b0); FMA(c01, a, b1);
    a = wasm_v128_load32_splat(Ap + 1); FMA(c10, a, b0); FMA(c11, a, b1);
    a = wasm_v128_load32_splat(Ap + 2); FMA(c20, a, b0); FMA(c21, a, b1);
    a = wasm_v128_load32_splat(Ap + 3); FMA(c30, a, b0); FMA(c31, a, b1);
    Ap += MR;
    Bp += ldb;
  }
  add_tile_4x8(C, ldc, 0, 4, c00, c01, c10, c11, c20, c21, c30, c31);
}

/* packed B strip (row stride NR) */
INLINE void micro_kernel(int kc, const float *Ap, const float *Bp, float *C, int ldc) {
  micro_kernel_s(kc, Ap, Bp, NR, C, ldc);
}

static void macro_kernel(int mc, int nc, int kc, const float *packA, const float *packB, float *C, int ldc) {
  float tile[MR * NR] __attribute__((aligned(16)));
  for (int jr = 0; jr < nc; jr += NR) {
    int nr = nc - jr < NR ? nc - jr : NR;
    const float *Bp = packB + (size_t)jr * kc;
    for (int ir = 0; ir < mc; ir += MR) {
      int mr = mc - ir < MR ? mc - ir : MR;
      const float *Ap = packA + (size_t)ir * kc;
      float *Cp = C + (size_t)ir * ldc + jr;
      if (mr == MR && nr == NR) {
        micro_kernel(kc, Ap, Bp, Cp, ldc);
      } else {
        for (int t = 0; t < MR * NR; t++) tile[t] = 0.0f;
        micro_kernel(kc, Ap, Bp, tile, NR);
        for (int i = 0; i < mr; i++)
          for (int j = 0; j < nr; j++) Cp[(size_t)i * ldc + j] += tile[i * NR + j];
      }
    }
  }
}

/* C += op(A)·op(B) */
static void gemm(int M, int N, int K, const float *A, int rsA, int csA, const float *B, int rsB, int csB, float *C,
                 int ldc, GemmWork *w) {
  for (int jc = 0; jc < N; jc += NC) {
    int nc = N - jc < NC ? N - jc : NC;
    for (int pc = 0; pc < K; pc += KC) {
      int kc = K - pc < KC ? K - pc : KC;
      pack_b(B, rsB, csB, pc, kc, jc, nc, w->packB);
      for (int ic = 0; ic < M; ic += MC) {
        int mc = M - ic < MC ? M - ic : MC;
        pack_a(A, rsA, csA, ic, mc, pc, kc, w->packA);
        macro_kernel(mc, nc, kc, w->packA, w->packB, C + (size_t)ic * ldc + jc, ldc);
      }
    }
  }
}

/* Per-thread scratch of a parallel job: GEMM packing buffers plus one kernel-specific buffer. */
typedef struct {
  GemmWork wk;
  float *buf;
  int ready;
} TWork;

/*
 * Scratch for every thread that may take part, allocated by the caller before the job starts:
 * only the main thread allocates, hence only the main thread grows the memory. Returns -1 when out
 * of memory.
 */
static int twork_prealloc(TWork *slots, u32 bufBytes, int gemm) {
  const int T = __atomic_load_n(&nthreads, SEQ);
  for (int t = 0; t < T; t++) {
    TWork *w = &slots[t];
    if (gemm && gemm_work(&w->wk)) return -1;
    if (bufBytes) {
      w->buf = (float *)salloc(bufBytes);
      if (!w->buf) return -1;
    }
    w->ready = 1;
  }
  return 0;
}

/* The calling thread's scratch (0 if it was not allocated: the job then reports an error). */
INLINE TWork *twork(TWork *slots, int tid) { return slots[tid].ready ? &slots[tid] : 0; }

INLINE void clear_twork(TWork *slots) { zero_bytes(slots, sizeof(TWork) * MAXT); }

typedef struct {
  const float *a, *b;
  float *c;
  int M, N, K, rsA, csA, rsB, csB, byCols, nChunks, unit;
  int err;
  TWork tw[MAXT];
} MatmulJob;

static void matmul_chunk(void *vctx, int i, int tid) {
  MatmulJob *j = (MatmulJob *)vctx;
  TWork *t = twork(j->tw, tid);
  if (!t) {
    j->err = 1;
    return;
  }
  const int total = j->byCols ? j->N : j->M;
  const int units = (total + j->unit - 1) / j->unit;
  int u0, u1;
  chunk_range(units, j->nChunks, i, &u0, &u1);
  const int lo = u0 * j->unit, hi = u1 * j->unit < total ? u1 * j->unit : total;
  if (lo >= hi) return;
  if (j->byCols)
    gemm(j->M, hi - lo, j->K, j->a, j->rsA, j->csA, j->b + (size_t)lo * j->csB, j->rsB, j->csB, j->c + lo, j->N, &t->wk);
  else
    gemm(hi - lo, j->N, j->K, j->a + (size_t)lo * j->rsA, j->rsA, j->csA, j->b, j->rsB, j->csB, j->c + (size_t)lo * j->N,
         j->N, &t->wk);
}

/* Splitting C by column or row blocks leaves every element's arithmetic unchanged. */
static int matmul_impl(const float *a, const float *b, float *c, int M, int K, int N, int transA, int transB, int accumulate) {
  if (!accumulate) fill0(c, M * N);
  if (M <= 0 || N <= 0 || K <= 0) return 0;
  MatmulJob j;
  j.a = a;
  j.b = b;
  j.c = c;
  j.M = M;
  j.N = N;
  j.K = K;
  j.rsA = transA ? 1 : K;
  j.csA = transA ? M : 1;
  j.rsB = transB ? 1 : N;
  j.csB = transB ? K : 1;
  j.byCols = N >= M;
  j.unit = j.byCols ? 64 : 32;
  const int total = j.byCols ? N : M;
  const int units = (total + j.unit - 1) / j.unit;
  j.nChunks = chunks_for(units, 2.0 * K * (j.byCols ? M : N) * j.unit, 2);
  j.err = 0;
  clear_twork(j.tw);
  if (twork_prealloc(j.tw, 0, 1)) return -1;
  int rc = par_for(matmul_chunk, &j, j.nChunks);
  return rc ? rc : j.err ? -1 : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* convolution                                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  int N, C, H, W, O, KH, KW, OH, OW, strideH, strideW, padH, padW, dilationH, dilationW, groups;
} ConvGeom;

INLINE int ceil_div_pos(int a, int b) { return a <= 0 ? 0 : (a + b - 1) / b; }

/* valid output-column range [lo, hi) for kernel column offset offW = kw*dW - pW */
INLINE void ow_range(const ConvGeom *g, int offW, int *lo, int *hi) {
  int l = offW >= 0 ? 0 : ceil_div_pos(-offW, g->strideW);
  int h = ceil_div_pos(g->W - offW, g->strideW);
  if (h > g->OW) h = g->OW;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/*
 * col2im restricted to output pixels p in [p0, p1) (p = oh*OW + ow):
 * dx[c, ih, iw] += col[r*ldcol + (p - p0)], r = (c*KH + kh)*KW + kw. Chunks keep the buffer in L2.
 */
static void col2im_range(const float *col, int ldcol, int Cg, const ConvGeom *g, float *dx, int p0, int p1) {
  const int H = g->H, W = g->W, OW = g->OW, sW = g->strideW;
  const int oh0 = p0 / OW, oh1 = (p1 - 1) / OW;
  int r = 0;
  for (int c = 0; c < Cg; c++) {
    float *xc = dx + (size_t)c * H * W;
    for (int kh = 0; kh < g->KH; kh++) {
      for (int kw = 0; kw < g->KW; kw++, r++) {
        const float *ro = col + (size_t)r * ldcol;
        const int offW = kw * g->dilationW - g->padW;
        int lo, hi;
        ow_range(g, offW, &lo, &hi);
        for (int oh = oh0; oh <= oh1; oh++) {
          const int ih = oh * g->strideH - g->padH + kh * g->dilationH;
          if (ih < 0 || ih >= H) continue;
          const int off = oh * OW - p0;
          const int a = off < 0 ? -off : 0, b = p1 - oh * OW < OW ? p1 - oh * OW : OW;
          const int z1 = lo > a ? lo : a, z2 = hi < b ? hi : b;
          float *xr = xc + (size_t)ih * W + offW;
          int ow = z1;
          if (sW == 1) {
            for (; ow + 4 <= z2; ow += 4)
              wasm_v128_store(xr + ow, wasm_f32x4_add(wasm_v128_load(xr + ow), wasm_v128_load(ro + off + ow)));
          }
          for (; ow < z2; ow++) xr[(size_t)ow * sW] += ro[off + ow];
        }
      }
    }
  }
}

#ifndef CONV_CHUNK_FLOATS
#define CONV_CHUNK_FLOATS 32768
#endif
/* Output-pixel chunk so that a CK x chunk im2col block is ~128 KB (multiple of NR, >= 64). */
static int conv_chunk(int CK, int OHW) {
  int ch = CONV_CHUNK_FLOATS / (CK > 0 ? CK : 1);
  ch -= ch % NR;
  if (ch < 64) ch = 64;
  return ch < OHW ? ch : OHW;
}

INLINE int is_pointwise(const ConvGeom *g) {
  return g->KH == 1 && g->KW == 1 && g->strideH == 1 && g->strideW == 1 && g->padH == 0 && g->padW == 0 &&
         g->OH == g->H && g->OW == g->W;
}

/* ---- depthwise (C == groups, one input channel per group): direct loops, SIMD along ow ---- */

/* o[ow] += wv * xr[ow*sW] for ow in [lo, hi) */
INLINE void axpy_strided(float *o, const float *xr, float wv, int lo, int hi, int sW) {
  int ow = lo;
  const v128_t wvv = wasm_f32x4_splat(wv);
  if (sW == 1) {
    for (; ow + 4 <= hi; ow += 4)
      wasm_v128_store(o + ow, wasm_f32x4_add(wasm_v128_load(o + ow), wasm_f32x4_mul(wvv, wasm_v128_load(xr + ow))));
  } else if (sW == 2) {
    for (; ow + 4 <= hi; ow += 4) {
      v128_t p0 = wasm_v128_load(xr + 2 * ow), p1 = wasm_v128_load(xr + 2 * ow + 4);
      v128_t xv = wasm_i32x4_shuffle(p0, p1, 0, 2, 4, 6);
      wasm_v128_store(o + ow, wasm_f32x4_add(wasm_v128_load(o + ow), wasm_f32x4_mul(wvv, xv)));
    }
  }
  for (; ow < hi; ow++) o[ow] += wv * xr[(size_t)ow * sW];
}

static void depthwise_forward(const float *x, const float *w, float *out, const ConvGeom *g, int n0, int n1) {
  const int Og = g->O / g->C, HW = g->H * g->W, OHW = g->OH * g->OW, KHW = g->KH * g->KW;
  for (int n = n0; n < n1; n++) {
    for (int o = 0; o < g->O; o++) {
      const float *xp = x + ((size_t)n * g->C + o / Og) * HW;
      float *op = out + ((size_t)n * g->O + o) * OHW;
      for (int kh = 0; kh < g->KH; kh++) {
        for (int kw = 0; kw < g->KW; kw++) {
          const float wv = w[(size_t)o * KHW + kh * g->KW + kw];
          const int offW = kw * g->dilationW - g->padW;
          int lo, hi;
          ow_range(g, offW, &lo, &hi);
          for (int oh = 0; oh < g->OH; oh++) {
            const int ih = oh * g->strideH - g->padH + kh * g->dilationH;
            if (ih < 0 || ih >= g->H) continue;
            axpy_strided(op + (size_t)oh * g->OW, xp + (size_t)ih * g->W + offW, wv, lo, hi, g->strideW);
          }
        }
      }
    }
  }
}

static void depthwise_backward_input(const float *dy, const float *w, float *dx, const ConvGeom *g, int n0, int n1) {
  const int Og = g->O / g->C, HW = g->H * g->W, OHW = g->OH * g->OW, KHW = g->KH * g->KW;
  const int sW = g->strideW;
  for (int n = n0; n < n1; n++) {
    for (int o = 0; o < g->O; o++) {
      float *xp = dx + ((size_t)n * g->C + o / Og) * HW;
      const float *dp = dy + ((size_t)n * g->O + o) * OHW;
      for (int kh = 0; kh < g->KH; kh++) {
        for (int kw = 0; kw < g->KW; kw++) {
          const float wv = w[(size_t)o * KHW + kh * g->KW + kw];
          const v128_t wvv = wasm_f32x4_splat(wv);
          const int offW = kw * g->dilationW - g->padW;
          int lo, hi;
          ow_range(g, offW, &lo, &hi);
          for (int oh = 0; oh < g->OH; oh++) {
            const int ih = oh * g->strideH - g->padH + kh * g->dilationH;
            if (ih < 0 || ih >= g->H) continue;
            float *xr = xp + (size_t)ih * g->W + offW;
            const float *dr = dp + (size_t)oh * g->OW;
            int ow = lo;
            if (sW == 1) {
              for (; ow + 4 <= hi; ow += 4)
                wasm_v128_store(xr + ow, wasm_f32x4_add(wasm_v128_load(xr + ow), wasm_f32x4_mul(wvv, wasm_v128_load(dr + ow))));
            }
            for (; ow < hi; ow++) xr[(size_t)ow * sW] += wv * dr[ow];
          }
        }
      }
    }
  }
}

static void depthwise_backward_filter(const float *x, const float *dy, float *dw, const ConvGeom *g, int o0, int o1) {
  const int Og = g->O / g->C, HW = g->H * g->W, OHW = g->OH * g->OW, KHW = g->KH * g->KW;
  const int sW = g->strideW;
  for (int o = o0; o < o1; o++) {
    for (int kh = 0; kh < g->KH; kh++) {
      for (int kw = 0; kw < g->KW; kw++) {
        const int offW = kw * g->dilationW - g->padW;
        int lo, hi;
        ow_range(g, offW, &lo, &hi);
        v128_t acc = wasm_f32x4_splat(0);
        float s = 0.0f;
        for (int n = 0; n < g->N; n++) {
          const float *xp = x + ((size_t)n * g->C + o / Og) * HW;
          const float *dp = dy + ((size_t)n * g->O + o) * OHW;
          for (int oh = 0; oh < g->OH; oh++) {
            const int ih = oh * g->strideH - g->padH + kh * g->dilationH;
            if (ih < 0 || ih >= g->H) continue;
            const float *xr = xp + (size_t)ih * g->W + offW;
            const float *dr = dp + (size_t)oh * g->OW;
            int ow = lo;
            if (sW == 1) {
              for (; ow + 4 <= hi; ow += 4)
                acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(dr + ow), wasm_v128_load(xr + ow)));
            } else if (sW == 2) {
              for (; ow + 4 <= hi; ow += 4) {
                v128_t p0 = wasm_v128_load(xr + 2 * ow), p1 = wasm_v128_load(xr + 2 * ow + 4);
                acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(dr + ow), wasm_i32x4_shuffle(p0, p1, 0, 2, 4, 6)));
              }
            }
            for (; ow < hi; ow++) s += dr[ow] * xr[(size_t)ow * sW];
          }
        }
        s += wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) + wasm_f32x4_extract_lane(acc, 2) +
             wasm_f32x4_extract_lane(acc, 3);
        dw[(size_t)o * KHW + kh * g->KW + kw] = s;
      }
    }
  }
}

/* groups == C > 1 (a single-channel input with groups = 1 is an ordinary convolution) */
INLINE int is_depthwise(const ConvGeom *g) { return g->C == g->groups && g->groups > 1 && g->KH * g->KW > 1; }

/*
 * Phase-decomposed padded grid ("q layout"). Output pixel (oh, ow) reads the zero-padded input at
 * xpad[c, oh*sH + kh*dH, ow*sW + kw*dW]. With kh*dH = u*sH + a (a < sH) and kw*dW = v*sW + b, that
 * is xq[c, (a,b), oh + u, ow + v] where the phase plane xq[c, (a,b)] = xpad[c, a::sH, b::sW] has
 * Hq x Wq elements. On the padded grid p = oh*Wq + ow, tap k of output p is at xq + kOff[k] + p for
 * every p, so a strip of 8 consecutive grid positions is 8 contiguous floats for any stride and
 * dilation: the GEMM micro-kernels read B in place, with no im2col and no packing. Grid columns
 * ow >= OW (at most ((KW-1)*dW)/sW per row) are computed and dropped. Only the phases that some
 * tap uses are stored.
 */
typedef struct {
  int nph, Hq, Wq, plane, img, Np; /* used phases; plane size; floats per image; grid length */
  int istride;                     /* floats per packed image including read slack */
  int *phRow, *phCol;              /* phase offsets (a, b) */
  int *kOff;                       /* per tap */
  int nStrips;
  int gn;         /* narrow images: gn (source, destination) pairs per channel, else 0 */
  int *gSrc, *gDst;
  int *stripSrc;  /* per strip, the grid positions of its two quads */
  int *stripDst;  /* per strip, the output pixels of its two quads when both are full, else -1 - (row in stripCols), -1 */
  int *stripCols; /* 8 output pixels (or -1) per irregular strip */
} QGeom;

#ifndef Q_TABLE_MAX_W
#define Q_TABLE_MAX_W 16 /* widest input packed through a table */
#endif

static int q_setup(const ConvGeom *g, int Cg, QGeom *q, int withStrips) {
  const int sH = g->strideH, sW = g->strideW, KH = g->KH, KW = g->KW, dH = g->dilationH, dW = g->dilationW;
  const int CK = Cg * KH * KW, OH = g->OH, OW = g->OW;
  q->Hq = OH + ((KH - 1) * dH) / sH;
  q->Wq = OW + ((KW - 1) * dW) / sW;
  q->plane = q->Hq * q->Wq;
  q->Np = (OH - 1) * q->Wq + OW;
  int *phId = (int *)salloc((u32)sH * sW * 12);
  if (!phId) return -1;
  q->phRow = phId + sH * sW;
  q->phCol = phId + 2 * sH * sW;
  for (int i = 0; i < sH * sW; i++) phId[i] = -1;
  int nph = 0;
  for (int kh = 0; kh < KH; kh++)
    for (int kw = 0; kw < KW; kw++) {
      const int a = (kh * dH) % sH, b = (kw * dW) % sW;
      if (phId[a * sW + b] < 0) {
        phId[a * sW + b] = nph;
        q->phRow[nph] = a;
        q->phCol[nph] = b;
        nph++;
      }
    }
  q->nph = nph;
  q->img = Cg * nph * q->plane;
  /* garbage columns of the last strips read up to Wq + NR floats past the last plane */
  q->istride = (q->img + q->Wq + 2 * NR + 15) & ~15;
  q->kOff = (int *)salloc((u32)CK * 4);
  if (!q->kOff) return -1;
  int k = 0;
  for (int c = 0; c < Cg; c++)
    for (int kh = 0; kh < KH; kh++)
      for (int kw = 0; kw < KW; kw++, k++) {
        const int rh = kh * dH, rw = kw * dW;
        const int ph = phId[(rh % sH) * sW + rw % sW];
        q->kOff[k] = (c * nph + ph) * q->plane + (rh / sH) * q->Wq + rw / sW;
      }
  /* Narrow images (rows of a phase plane a few floats long): the per-row work of q_pack costs more
     than the copy, so pack through a table of where each input pixel goes instead (the same for
     every channel and image; the pixels no entry writes stay zero from the job's buffer clear). */
  q->gn = 0;
  if (g->W <= Q_TABLE_MAX_W) {
    const int H = g->H, W = g->W, pH = g->padH, pW = g->padW;
    q->gSrc = (int *)salloc((u32)H * W * 8);
    if (!q->gSrc) return -1;
    q->gDst = q->gSrc + H * W;
    int n = 0;
    for (int ph = 0; ph < nph; ph++)
      for (int i = 0; i < q->Hq; i++) {
        const int ih = i * sH + q->phRow[ph] - pH;
        if (ih < 0 || ih >= H) continue;
        for (int j = 0; j < q->Wq; j++) {
          const int iw = j * sW + q->phCol[ph] - pW;
          if (iw < 0 || iw >= W) continue;
          q->gSrc[n] = ih * W + iw;
          q->gDst[n] = ph * q->plane + i * q->Wq + j;
          n++;
        }
      }
    q->gn = n;
  }
  if (!withStrips) return 0;
  /* strips of NR = 2 quads; a quad is 4 consecutive grid columns of one output row (ragged at the row end) */
  const int Wq = q->Wq, qpr = (OW + 3) / 4, nq = OH * qpr, n = (nq + 1) / 2;
  q->stripSrc = (int *)salloc((u32)n * 16);
  q->stripCols = (int *)salloc((u32)n * NR * 4);
  if (!q->stripSrc || !q->stripCols) return -1;
  q->stripDst = q->stripSrc + 2 * n;
  int irr = 0;
  for (int s = 0; s < n; s++) {
    int src[2], dst[2], valid[2];
    for (int h = 0; h < 2; h++) {
      const int qi = 2 * s + h < nq ? 2 * s + h : nq - 1; /* a lone last quad is paired with itself */
      const int oh = qi / qpr, ow0 = (qi - oh * qpr) * 4;
      src[h] = oh * Wq + ow0;
      dst[h] = oh * OW + ow0;
      valid[h] = 2 * s + h < nq ? (OW - ow0 < 4 ? OW - ow0 : 4) : 0;
    }
    q->stripSrc[2 * s] = src[0];
    q->stripSrc[2 * s + 1] = src[1];
    if (valid[0] == 4 && valid[1] == 4) {
      q->stripDst[2 * s] = dst[0];
      q->stripDst[2 * s + 1] = dst[1];
    } else {
      for (int t = 0; t < NR; t++) {
        const int h = t / 4, u = t - h * 4;
        q->stripCols[irr * NR + t] = u < valid[h] ? dst[h] + u : -1;
      }
      q->stripDst[2 * s] = -1 - irr++;
      q->stripDst[2 * s + 1] = -1;
    }
  }
  q->nStrips = n;
  return 0;
}

/* Packs one image's Cg input planes x[c, H, W] into the phase planes at dst (q->img floats). */
static void q_pack(const float *x, int Cg, const ConvGeom *g, const QGeom *q, float *dst) {
  const int H = g->H, W = g->W, sH = g->strideH, sW = g->strideW, pH = g->padH, pW = g->padW;
  const int Hq = q->Hq, Wq = q->Wq;
  if (q->gn > 0) {
    const int *src = q->gSrc, *to = q->gDst, n = q->gn, cs = q->nph * q->plane;
    for (int c = 0; c < Cg; c++) {
      const float *xc = x + (size_t)c * H * W;
      float *d = dst + (size_t)c * cs;
      for (int t = 0; t < n; t++) d[to[t]] = xc[src[t]];
    }
    return;
  }
  for (int c = 0; c < Cg; c++) {
    const float *xc = x + (size_t)c * H * W;
    for (int ph = 0; ph < q->nph; ph++) {
      const int a = q->phRow[ph], b = q->phCol[ph];
      float *d = dst + (size_t)(c * q->nph + ph) * q->plane;
      /* columns j with 0 <= j*sW + b - pW < W */
      int j0 = ceil_div_pos(pW - b, sW), j1 = ceil_div_pos(W + pW - b, sW);
      if (j1 > Wq) j1 = Wq;
      if (j0 > j1) j0 = j1;
      for (int i = 0; i < Hq; i++) {
        float *dr = d + (size_t)i * Wq;
        const int ih = i * sH + a - pH;
        if (ih < 0 || ih >= H) {
          fill0(dr, Wq);
          continue;
        }
        for (int j = 0; j < j0; j++) dr[j] = 0.0f;
        for (int j = j1; j < Wq; j++) dr[j] = 0.0f;
        const float *src = xc + (size_t)ih * W + (j0 * sW + b - pW);
        const int n = j1 - j0;
        if (sW == 1) {
          copy_f32(dr + j0, src, n);
        } else if (sW == 2) {
          int j = 0;
          for (; j + 4 <= n && 2 * j + 8 <= W - (j0 * sW + b - pW); j += 4)
            wasm_v128_store(dr + j0 + j, wasm_i32x4_shuffle(wasm_v128_load(src + 2 * j), wasm_v128_load(src + 2 * j + 4), 0, 2, 4, 6));
          for (; j < n; j++) dr[j0 + j] = src[2 * j];
        } else {
          for (int j = 0; j < n; j++) dr[j0 + j] = src[(size_t)j * sW];
        }
      }
    }
  }
}

/* Zeroes the read slack after a packed image (read by dropped grid columns only); with a pack
   table, the whole buffer (its padding positions are never written). */
INLINE void q_clear_slack(const QGeom *q, float *img) {
  if (q->gn > 0) fill0(img, q->istride);
  else fill0(img + q->img, q->istride - q->img);
}

/* C[MR x NR] (+)= A strip · B, B row k = [4 floats at s0 + kOff[k], 4 floats at s1 + kOff[k]];
   the two C halves go to columns d0 and d1. */
INLINE void micro_kernel_conv2(int kc, const float *Ap, const float *s0, const float *s1, const int *kOff, float *C, int d0,
                               int d1, int ldc) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00;
  v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int k = 0; k < kc; k++) {
    const int o = kOff[k];
    v128_t b0 = wasm_v128_load(s0 + o), b1 = wasm_v128_load(s1 + o);
    v128_t a;
    a = wasm_v128_load32_splat(Ap + 0); FMA(c00, a, b0); FMA(c01, a, b1);
    a = wasm_v128_load32_splat(Ap + 1); FMA(c10, a, b0); FMA(c11, a, b1);
    a = wasm_v128_load32_splat(Ap + 2); FMA(c20, a, b0); FMA(c21, a, b1);
    a = wasm_v128_load32_splat(Ap + 3); FMA(c30, a, b0); FMA(c31, a, b1);
    Ap += 4;
  }
  add_tile_4x8(C, ldc, d0, d1, c00, c01, c10, c11, c20, c21, c30, c31);
}

/*
 * One image of a forward convolution in the q layout: out[Og, OHW] += Wg · B with the weights
 * pre-packed (per KC block, MR-row strips) in packedA.
 */
static void q_conv_image(const QGeom *q, const float *xq, const float *packedA, int M, int K, float *out, int OHW) {
  float tile[MR * NR] __attribute__((aligned(16)));
  const int Mp = (M + MR - 1) / MR * MR;
  for (int pc = 0; pc < K; pc += KC) {
    const int kc = K - pc < KC ? K - pc : KC;
    const int *kOff = q->kOff + pc;
    for (int ic = 0; ic < M; ic += MC) {
      const int mc = M - ic < MC ? M - ic : MC;
      const float *Ablk = packedA + (size_t)pc * Mp + (size_t)ic * kc;
      for (int s = 0; s < q->nStrips; s++) {
        const float *s0 = xq + q->stripSrc[2 * s], *s1 = xq + q->stripSrc[2 * s + 1];
        const int d0 = q->stripDst[2 * s], d1 = q->stripDst[2 * s + 1];
        const int *cols = d0 >= 0 ? 0 : q->stripCols + (size_t)(-1 - d0) * NR;
        for (int ir = 0; ir < mc; ir += MR) {
          const int mr = mc - ir < MR ? mc - ir : MR;
          const float *Ap = Ablk + (size_t)ir * kc;
          float *Crow = out + (size_t)(ic + ir) * OHW;
          if (d0 >= 0 && mr == MR) {
            micro_kernel_conv2(kc, Ap, s0, s1, kOff, Crow, d0, d1, OHW);
          } else {
            for (int t = 0; t < MR * NR; t++) tile[t] = 0.0f;
            micro_kernel_conv2(kc, Ap, s0, s1, kOff, tile, 0, 4, NR);
            for (int i = 0; i < mr; i++)
              for (int t = 0; t < NR; t++) {
                const int col = cols ? cols[t] : (t < 4 ? d0 + t : d1 + t - 4);
                if (col >= 0) Crow[(size_t)i * OHW + col] += tile[i * NR + t];
              }
          }
        }
      }
    }
  }
}

/* Weights of each group [Og, CK] packed once per call into MR-row strips per KC block. */
static float *prepack_weights(const float *w, int groups, int Og, int CK) {
  const int Mp = (Og + MR - 1) / MR * MR;
  float *p = (float *)salloc((u32)groups * Mp * CK * 4);
  if (!p) return 0;
  for (int gi = 0; gi < groups; gi++) {
    const float *wg = w + (size_t)gi * Og * CK;
    float *pg = p + (size_t)gi * Mp * CK;
    for (int pc = 0; pc < CK; pc += KC) {
      const int kc = CK - pc < KC ? CK - pc : KC;
      pack_a(wg, CK, 1, 0, Og, pc, kc, pg + (size_t)pc * Mp);
    }
  }
  return p;
}

/* ---- parallel drivers ----
 * A convolution is prepared once per call into a job (arena-allocated: it outlives the export that
 * creates it) whose work is a range of units: images for the forward pass and the input gradient
 * (every image is computed the same way whichever thread runs it), partial sums over fixed image
 * ranges for the filter gradient (summed in a fixed order at the end), output channels for the
 * depthwise filter gradient. mp_job_start() runs units [u0, u1) asynchronously on the workers and
 * returns; mp_join() has the caller help and wait. The JS side uses this to copy the next part's
 * inputs and the previous part's outputs while the workers compute.
 */

#ifndef CONV_CHUNKS_PER_THREAD
#define CONV_CHUNKS_PER_THREAD 8
#endif

enum { JOB_FWD = 1, JOB_BWD_INPUT = 2, JOB_BWD_FILTER = 3, JOB_DW_FILTER = 4 };

typedef struct {
  int kind;
  int units;     /* work units of the whole call */
  int u0, u1;    /* units of the running part */
  int nChunks;   /* chunks of the running part */
  int perThread; /* chunks per thread for chunks_for */
  double unitCost;
  ChunkFn fn;
  int err;
  int N;         /* images */
  ConvGeom g;    /* own copy: the job outlives the caller's geometry */
} JobHead;

/* Units [*lo, *hi) of chunk i of the running part. */
INLINE void job_chunk(const JobHead *h, int i, int *lo, int *hi) {
  chunk_range(h->u1 - h->u0, h->nChunks, i, lo, hi);
  *lo += h->u0;
  *hi += h->u0;
}

static void job_start(JobHead *h, int u0, int u1) {
  if (u0 < 0) u0 = 0;
  if (u1 > h->units) u1 = h->units;
  if (u0 >= u1) return;
  h->u0 = u0;
  h->u1 = u1;
  h->nChunks = h->perThread > 0 ? chunks_for(u1 - u0, h->unitCost, h->perThread) : u1 - u0;
  par_start(h->fn, h, h->nChunks);
}

static int job_join(JobHead *h) {
  const int rc = par_join();
  return rc ? rc : h->err ? -1 : 0;
}

static void *job_alloc(u32 bytes, int kind, const ConvGeom *g) {
  JobHead *h = (JobHead *)salloc(bytes);
  if (!h) return 0;
  zero_bytes(h, bytes);
  h->kind = kind;
  h->g = *g;
  h->N = g->N;
  return h;
}

/* ---- Winograd F(2x2, 3x3) for 3x3, stride 1, dilation 1, groups 1 ----
 * Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A per 2x2 output tile d (4x4 input patch, zeros outside the image):
 * 16 multiplies per tile and input/output channel pair instead of 36. The weights are transformed
 * once per call into U[ξ][O/4 strips][C][4] (ξ = 4*i + j, rows padded to a multiple of 4 with zeros);
 * per image and block of tile rows, the input tiles into V[ξ][strip of 8 tiles][C][8] (the packed-B
 * layout of the micro-kernel), then M[ξ] = U[ξ]·V[ξ] (16 GEMMs over the full C, stored, not
 * accumulated) and the inverse transform writes the output, clipped at odd edges. Tile columns are
 * padded to a multiple of 4 (TWp) so 4 horizontally adjacent tiles are transformed with f32x4 and
 * stay inside one strip. Each image's arithmetic is fixed by the geometry: results do not depend on
 * the thread that runs it.
 */
#ifndef WINO_BLOCK_FLOATS
#define WINO_BLOCK_FLOATS 8192 /* V block size target (floats): 16 * max(C, O) * tiles */
#endif
/* ξ-plane strides of V and M skewed by one cache line: at the power-of-two strides of the ResNet
   shapes (2 KB) the 16 planes written by a transform fall into the same few L1 sets. */
#define WINO_SKEW 16
#ifndef WINO_MIN_TILES
#define WINO_MIN_TILES 32
#endif
#ifndef WINO_MIN_C
#define WINO_MIN_C 8
#endif

INLINE int wino_applies(const ConvGeom *g) {
  return g->KH == 3 && g->KW == 3 && g->strideH == 1 && g->strideW == 1 && g->dilationH == 1 && g->dilationW == 1 &&
         g->groups == 1 && g->padH >= 0 && g->padW >= 0 && g->OH == g->H + 2 * g->padH - 2 &&
         g->OW == g->W + 2 * g->padW - 2 && g->OH > 0 && g->OW > 0 && g->C >= WINO_MIN_C && g->O >= WINO_MIN_C;
}

typedef struct {
  int TH, TW, TWp, Wp, rows, Op; /* tile rows/cols, cols padded to 4, pad-plane width, tile rows per block, O padded to 4 */
  int plane, vFloats, mFloats;   /* scratch floats: pad plane, V block, M block */
  int pair; /* TW == 2 (3- or 4-wide outputs): two images share each group of 4 tile columns */
} WinoGeom;

static void wino_setup(const ConvGeom *g, WinoGeom *w) {
  w->TH = (g->OH + 1) / 2;
  w->TW = (g->OW + 1) / 2;
  w->TWp = (w->TW + 3) & ~3;
  /* Half of each 4-tile group would be padding: put a second image's two tiles there instead (each
     pad-plane row holds both images' 6-column segments; every tile's arithmetic is unchanged). */
  w->pair = w->TW == 2;
  w->Wp = 2 * w->TWp + 4;
  w->Op = (g->O + 3) & ~3;
  const int big = g->C > w->Op ? g->C : w->Op;
  int rows = WINO_BLOCK_FLOATS / (16 * big * w->TWp);
  const int minRows = (WINO_MIN_TILES + w->TWp - 1) / w->TWp; /* keep the GEMMs at least this wide */
  if (rows < minRows) rows = minRows;
  if (rows > w->TH) rows = w->TH;
  w->rows = rows;
  const int ntp = (rows * w->TWp + 7) & ~7;
  w->plane = ((2 * rows + 2) * w->Wp + 15) & ~15;
  w->vFloats = 16 * (g->C * ntp + WINO_SKEW);
  w->mFloats = 16 * (w->Op * ntp + WINO_SKEW);
}

/* U = G g Gᵀ for every (o, c), G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1], into U[ξ][o/4][c][o%4]. */
static float *wino_weights(const float *wt, const ConvGeom *g, const WinoGeom *w) {
  const int C = g->C, O = g->O, Op = w->Op;
  float *U = (float *)salloc((u32)16 * Op * C * 4);
  if (!U) return 0;
  zero_bytes(U, (u32)16 * Op * C * 4);
  for (int o = 0; o < O; o++)
    for (int c = 0; c < C; c++) {
      const float *k = wt + ((size_t)o * C + c) * 9;
      float t[4][3], u[4][4];
      for (int j = 0; j < 3; j++) {
        t[0][j] = k[j];
        t[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
        t[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
        t[3][j] = k[6 + j];
      }
      for (int i = 0; i < 4; i++) {
        u[i][0] = t[i][0];
        u[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        u[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        u[i][3] = t[i][2];
      }
      for (int xi = 0; xi < 16; xi++) U[(((size_t)xi * (Op / 4) + o / 4) * C + c) * 4 + (o & 3)] = u[xi >> 2][xi & 3];
    }
  return U;
}

/* C[MR x NR] = Ap strip · Bp strip over kc (stored, not accumulated). */
INLINE void micro_kernel_store(int kc, const float *Ap, const float *Bp, float *C, int ldc) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00;
  v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int k = 0; k < kc; k++) {
    v128_t b0 = wasm_v128_load(Bp), b1 = wasm_v128_load(Bp + 4);
    v128_t a;
    a = wasm_v128_load32_splat(Ap + 0); FMA(c00, a, b0); FMA(c01, a, b1);
    a = wasm_v128_load32_splat(Ap + 1); FMA(c10, a, b0); FMA(c11, a, b1);
    a = wasm_v128_load32_splat(Ap + 2); FMA(c20, a, b0); FMA(c21, a, b1);
    a = wasm_v128_load32_splat(Ap + 3); FMA(c30, a, b0); FMA(c31, a, b1);
    Ap += MR;
    Bp += NR;
  }
  wasm_v128_store(C, c00); wasm_v128_store(C + 4, c01); C += ldc;
  wasm_v128_store(C, c10); wasm_v128_store(C + 4, c11); C += ldc;
  wasm_v128_store(C, c20); wasm_v128_store(C + 4, c21); C += ldc;
  wasm_v128_store(C, c30); wasm_v128_store(C + 4, c31);
}

/* Row transform of one 4x4 patch row for 4 adjacent tiles: r points at the first tile's column 0. */
INLINE void wino_in_row(const float *r, v128_t *t0, v128_t *t1, v128_t *t2, v128_t *t3) {
  const v128_t v0 = wasm_v128_load(r), v1 = wasm_v128_load(r + 4), v2 = wasm_v128_load(r + 8);
  const v128_t c0 = wasm_i32x4_shuffle(v0, v1, 0, 2, 4, 6), c1 = wasm_i32x4_shuffle(v0, v1, 1, 3, 5, 7);
  const v128_t c2 = wasm_i32x4_shuffle(c0, v2, 1, 2, 3, 4), c3 = wasm_i32x4_shuffle(c1, v2, 1, 2, 3, 5);
  *t0 = wasm_f32x4_sub(c0, c2);
  *t1 = wasm_f32x4_add(c1, c2);
  *t2 = wasm_f32x4_sub(c2, c1);
  *t3 = wasm_f32x4_sub(c1, c3);
}

/* wino_in_row for a paired row: two 6-column segments (one per image) of 2 tiles each, the 4 tiles
   starting at columns 0, 2, 6, 8. */
INLINE void wino_in_row_pair(const float *r, v128_t *t0, v128_t *t1, v128_t *t2, v128_t *t3) {
  const v128_t v0 = wasm_v128_load(r), v1 = wasm_v128_load(r + 4), v2 = wasm_v128_load(r + 8);
  const v128_t e0 = wasm_i32x4_shuffle(v0, v1, 0, 2, 6, 7), e1 = wasm_i32x4_shuffle(v0, v1, 1, 3, 7, 6);
  const v128_t e2 = wasm_i32x4_shuffle(v0, v1, 2, 4, 6, 7), e3 = wasm_i32x4_shuffle(v0, v1, 3, 5, 6, 7);
  const v128_t c0 = wasm_i32x4_shuffle(e0, v2, 0, 1, 2, 4), c1 = wasm_i32x4_shuffle(e1, v2, 0, 1, 2, 5);
  const v128_t c2 = wasm_i32x4_shuffle(e2, v2, 0, 1, 4, 6), c3 = wasm_i32x4_shuffle(e3, v2, 0, 1, 5, 7);
  *t0 = wasm_f32x4_sub(c0, c2);
  *t1 = wasm_f32x4_add(c1, c2);
  *t2 = wasm_f32x4_sub(c2, c1);
  *t3 = wasm_f32x4_sub(c1, c3);
}

/* The row transform of the mode in use (pair: r must point at the row's start, tx0 = 0). */
INLINE void wino_row(int pair, const float *r, v128_t *t0, v128_t *t1, v128_t *t2, v128_t *t3) {
  if (pair) wino_in_row_pair(r, t0, t1, t2, t3);
  else wino_in_row(r, t0, t1, t2, t3);
}

/* Fills pad-plane row `row` (Wp floats) with input row ih of plane xc, zero-padded; in pair mode
   segment 1 (from column 6) holds image 1's row (xc1; zeros when there is none). Forward and filter
   gradient alike. */
INLINE void wino_pad_row(const ConvGeom *g, int Wp, int pair, const float *xc, const float *xc1, int ih, float *row) {
  const int H = g->H, W = g->W, pW = g->padW;
  if (ih < 0 || ih >= H) {
    fill0(row, Wp);
    return;
  }
  if (!pair) {
    for (int j = 0; j < pW; j++) row[j] = 0.0f;
    copy_f32(row + pW, xc + (size_t)ih * W, W);
    for (int j = pW + W; j < Wp; j++) row[j] = 0.0f;
    return;
  }
  fill0(row, Wp);
  for (int j = 0; j < W; j++) row[pW + j] = xc[(size_t)ih * W + j];
  if (xc1)
    for (int j = 0; j < W; j++) row[6 + pW + j] = xc1[(size_t)ih * W + j];
}

/* Stores a 2 x 8 block of outputs (rows lo, hi: 8 columns from ow0) at p0 = out row oh, column ow0,
   clipped to OH x OW. */
INLINE void wino_store_2x8(float *p0, int OH, int OW, int oh, int ow0, v128_t lo0, v128_t hi0, v128_t lo1, v128_t hi1) {
  if (ow0 + 8 <= OW && oh + 2 <= OH) {
    wasm_v128_store(p0, lo0);
    wasm_v128_store(p0 + 4, hi0);
    wasm_v128_store(p0 + OW, lo1);
    wasm_v128_store(p0 + OW + 4, hi1);
    return;
  }
  float tmp[16] __attribute__((aligned(16)));
  wasm_v128_store(tmp, lo0);
  wasm_v128_store(tmp + 4, hi0);
  wasm_v128_store(tmp + 8, lo1);
  wasm_v128_store(tmp + 12, hi1);
  const int nw = OW - ow0 < 8 ? OW - ow0 : 8, nh = OH - oh < 2 ? OH - oh : 2;
  for (int a = 0; a < nh; a++)
    for (int b = 0; b < nw; b++) p0[(size_t)a * OW + b] = tmp[a * 8 + b];
}

/* The same for a 2 x 4 block (a paired image's 2 tiles: 4 columns). */
INLINE void wino_store_2x4(float *p0, int OH, int OW, int oh, v128_t lo, v128_t hi) {
  if (OW == 4 && oh + 2 <= OH) {
    wasm_v128_store(p0, lo);
    wasm_v128_store(p0 + 4, hi);
    return;
  }
  float tmp[8] __attribute__((aligned(16)));
  wasm_v128_store(tmp, lo);
  wasm_v128_store(tmp + 4, hi);
  const int nw = OW < 4 ? OW : 4, nh = OH - oh < 2 ? OH - oh : 2;
  for (int a = 0; a < nh; a++)
    for (int b = 0; b < nw; b++) p0[(size_t)a * OW + b] = tmp[a * 4 + b];
}

/* One image x[C, H, W] -> out[O, OH, OW] (in pair mode also x1 -> out1; those two may be null);
   buf holds plane + V + M floats. (One function with a run-time `pair`: a copy specialized per mode
   came out slower in V8, 16@32² forward 5.6 -> 7.3 ms.) */
static void wino_image(const ConvGeom *g, const WinoGeom *w, const float *U, const float *x, float *out, const float *x1,
                       float *out1, float *buf) {
  const int C = g->C, O = g->O, H = g->H, W = g->W, OH = g->OH, OW = g->OW, pH = g->padH;
  const int TH = w->TH, TWp = w->TWp, Wp = w->Wp, Op = w->Op, pair = w->pair;
  float *pl = buf, *V = buf + w->plane, *M = V + w->vFloats;
  for (int ty0 = 0; ty0 < TH; ty0 += w->rows) {
    const int rows = TH - ty0 < w->rows ? TH - ty0 : w->rows;
    const int nt = rows * TWp, ntp = (nt + 7) & ~7, nS = ntp / 8;
    const size_t vx = (size_t)nS * C * 8 + WINO_SKEW; /* V stride between ξ */
    /* input transform */
    for (int c = 0; c < C; c++) {
      const float *xc = x + (size_t)c * H * W, *xc1 = x1 ? x1 + (size_t)c * H * W : 0;
      for (int pr = 0; pr < 2 * rows + 2; pr++) wino_pad_row(g, Wp, pair, xc, xc1, 2 * ty0 + pr - pH, pl + (size_t)pr * Wp);
      for (int ty = 0; ty < rows; ty++) {
        const float *r0 = pl + (size_t)2 * ty * Wp;
        for (int tx0 = 0; tx0 < TWp; tx0 += 4) {
          v128_t a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3;
          wino_row(pair, r0 + 2 * tx0, &a0, &a1, &a2, &a3);
          wino_row(pair, r0 + Wp + 2 * tx0, &b0, &b1, &b2, &b3);
          wino_row(pair, r0 + 2 * Wp + 2 * tx0, &c0, &c1, &c2, &c3);
          wino_row(pair, r0 + 3 * Wp + 2 * tx0, &d0, &d1, &d2, &d3);
          const int t = ty * TWp + tx0;
          float *dst = V + ((size_t)(t >> 3) * C + c) * 8 + (t & 7);
          wasm_v128_store(dst + 0 * vx, wasm_f32x4_sub(a0, c0));
          wasm_v128_store(dst + 1 * vx, wasm_f32x4_sub(a1, c1));
          wasm_v128_store(dst + 2 * vx, wasm_f32x4_sub(a2, c2));
          wasm_v128_store(dst + 3 * vx, wasm_f32x4_sub(a3, c3));
          wasm_v128_store(dst + 4 * vx, wasm_f32x4_add(b0, c0));
          wasm_v128_store(dst + 5 * vx, wasm_f32x4_add(b1, c1));
          wasm_v128_store(dst + 6 * vx, wasm_f32x4_add(b2, c2));
          wasm_v128_store(dst + 7 * vx, wasm_f32x4_add(b3, c3));
          wasm_v128_store(dst + 8 * vx, wasm_f32x4_sub(c0, b0));
          wasm_v128_store(dst + 9 * vx, wasm_f32x4_sub(c1, b1));
          wasm_v128_store(dst + 10 * vx, wasm_f32x4_sub(c2, b2));
          wasm_v128_store(dst + 11 * vx, wasm_f32x4_sub(c3, b3));
          wasm_v128_store(dst + 12 * vx, wasm_f32x4_sub(b0, d0));
          wasm_v128_store(dst + 13 * vx, wasm_f32x4_sub(b1, d1));
          wasm_v128_store(dst + 14 * vx, wasm_f32x4_sub(b2, d2));
          wasm_v128_store(dst + 15 * vx, wasm_f32x4_sub(b3, d3));
        }
      }
      if (ntp > nt) /* nt is a multiple of 4: the last strip's upper half is padding */
        for (int xi = 0; xi < 16; xi++)
          wasm_v128_store(V + xi * vx + ((size_t)(nS - 1) * C + c) * 8 + 4, wasm_f32x4_splat(0));
    }
    /* M[ξ][o][t] = Σ_c U[ξ][o][c] V[ξ][c][t] */
    for (int xi = 0; xi < 16; xi++) {
      const float *Ux = U + (size_t)xi * Op * C, *Vx = V + xi * vx;
      float *Mx = M + (size_t)xi * ((size_t)Op * ntp + WINO_SKEW);
      for (int os = 0; os < Op / 4; os++)
        for (int s = 0; s < nS; s++)
          micro_kernel_store(C, Ux + (size_t)os * C * 4, Vx + (size_t)s * C * 8, Mx + (size_t)os * 4 * ntp + s * 8, ntp);
    }
    /* Y = Aᵀ M A, Aᵀ = [1 1 1 0; 0 1 -1 -1] */
    const size_t mx = (size_t)Op * ntp + WINO_SKEW;
    for (int o = 0; o < O; o++) {
      const float *Mo = M + (size_t)o * ntp;
      float *oo = out ? out + (size_t)o * OH * OW : 0, *oo1 = out1 ? out1 + (size_t)o * OH * OW : 0;
      for (int ty = 0; ty < rows; ty++) {
        const int oh = 2 * (ty0 + ty);
        for (int tx0 = 0; tx0 < TWp && (pair || 2 * tx0 < OW); tx0 += 4) {
          const float *m = Mo + ty * TWp + tx0;
          v128_t r0[4], r1[4];
          for (int jj = 0; jj < 4; jj++) {
            const v128_t m0 = wasm_v128_load(m + jj * mx), m1 = wasm_v128_load(m + (4 + jj) * mx);
            const v128_t m2 = wasm_v128_load(m + (8 + jj) * mx), m3 = wasm_v128_load(m + (12 + jj) * mx);
            r0[jj] = wasm_f32x4_add(wasm_f32x4_add(m0, m1), m2);
            r1[jj] = wasm_f32x4_sub(wasm_f32x4_sub(m1, m2), m3);
          }
          const v128_t y00 = wasm_f32x4_add(wasm_f32x4_add(r0[0], r0[1]), r0[2]);
          const v128_t y01 = wasm_f32x4_sub(wasm_f32x4_sub(r0[1], r0[2]), r0[3]);
          const v128_t y10 = wasm_f32x4_add(wasm_f32x4_add(r1[0], r1[1]), r1[2]);
          const v128_t y11 = wasm_f32x4_sub(wasm_f32x4_sub(r1[1], r1[2]), r1[3]);
          const v128_t lo0 = wasm_i32x4_shuffle(y00, y01, 0, 4, 1, 5), hi0 = wasm_i32x4_shuffle(y00, y01, 2, 6, 3, 7);
          const v128_t lo1 = wasm_i32x4_shuffle(y10, y11, 0, 4, 1, 5), hi1 = wasm_i32x4_shuffle(y10, y11, 2, 6, 3, 7);
          if (pair) { /* lanes 0-1: image 0's 4 columns (lo), lanes 2-3: image 1's (hi) */
            if (oo) wino_store_2x4(oo + (size_t)oh * OW, OH, OW, oh, lo0, lo1);
            if (oo1) wino_store_2x4(oo1 + (size_t)oh * OW, OH, OW, oh, hi0, hi1);
          } else {
            wino_store_2x8(oo + (size_t)oh * OW + 2 * tx0, OH, OW, oh, 2 * tx0, lo0, hi0, lo1, hi1);
          }
        }
      }
    }
  }
}

/* ---- forward ---- */

/* Sizes a convolution job derives from its geometry: Cg / Og input / output channels per group,
   CK = Cg·KH·KW (one filter row), OHW / HW the output / input plane sizes. */
typedef struct {
  int Cg, Og, CK, OHW, HW;
} ConvDims;

static ConvDims conv_dims(const ConvGeom *g) {
  ConvDims d;
  d.Cg = g->C / g->groups;
  d.Og = g->O / g->groups;
  d.CK = d.Cg * g->KH * g->KW;
  d.OHW = g->OH * g->OW;
  d.HW = g->H * g->W;
  return d;
}

typedef struct {
  JobHead h;
  const float *x, *w;
  float *out;
  ConvDims d;
  int pw, dw, wino;
  QGeom q;
  WinoGeom wg;
  const float *packedA; /* or the Winograd-transformed weights U */
  TWork tw[MAXT];
} FwdJob;

static void conv_fwd_chunk(void *vctx, int i, int tid) {
  FwdJob *j = (FwdJob *)vctx;
  const ConvGeom *g = &j->h.g;
  int n0, n1;
  job_chunk(&j->h, i, &n0, &n1);
  if (n0 >= n1) return;
  const int img = g->O * j->d.OHW;
  if (j->wino) { /* writes every output element */
    TWork *t = twork(j->tw, tid);
    if (!t) {
      j->h.err = 1;
      return;
    }
    const size_t imgX = (size_t)g->C * j->d.HW;
    for (int n = n0; n < n1; n += j->wg.pair ? 2 : 1) {
      const int two = j->wg.pair && n + 1 < n1; /* an odd last image runs with an empty partner */
      wino_image(g, &j->wg, j->packedA, j->x + n * imgX, j->out + (size_t)n * img, two ? j->x + (n + 1) * imgX : 0,
                 two ? j->out + (size_t)(n + 1) * img : 0, t->buf);
    }
    return;
  }
  fill0(j->out + (size_t)n0 * img, (n1 - n0) * img);
  if (j->dw) {
    depthwise_forward(j->x, j->w, j->out, g, n0, n1);
    return;
  }
  TWork *t = twork(j->tw, tid);
  if (!t) {
    j->h.err = 1;
    return;
  }
  const int Cg = j->d.Cg, Og = j->d.Og, CK = j->d.CK, OHW = j->d.OHW, HW = j->d.HW;
  const int Mp = (Og + MR - 1) / MR * MR;
  for (int n = n0; n < n1; n++) {
    for (int gi = 0; gi < g->groups; gi++) {
      const float *xg = j->x + (size_t)(n * g->C + gi * Cg) * HW;
      float *og = j->out + (size_t)(n * g->O + gi * Og) * OHW;
      if (j->pw) {
        gemm(Og, OHW, CK, j->w + (size_t)gi * Og * CK, CK, 1, xg, OHW, 1, og, OHW, &t->wk);
      } else {
        q_pack(xg, Cg, g, &j->q, t->buf);
        q_conv_image(&j->q, t->buf, j->packedA + (size_t)gi * Mp * CK, Og, CK, og, OHW);
      }
    }
  }
}

/* Prepares out = conv2d(x, w) (units: images); 0 when out of memory. */
static JobHead *conv_fwd_prepare(const float *x, const float *w, float *out, const ConvGeom *gIn) {
  FwdJob *j = (FwdJob *)job_alloc(sizeof(FwdJob), JOB_FWD, gIn);
  if (!j) return 0;
  const ConvGeom *g = &j->h.g;
  const ConvDims dm = conv_dims(g);
  const int Cg = dm.Cg, Og = dm.Og, CK = dm.CK, OHW = dm.OHW;
  j->x = x;
  j->w = w;
  j->out = out;
  j->d = dm;
  j->h.fn = conv_fwd_chunk;
  j->h.perThread = CONV_CHUNKS_PER_THREAD;
  j->h.unitCost = 2.0 * g->O * OHW * CK;
  j->h.units = g->N;
  if (g->N * g->O * OHW == 0) {
    j->h.units = 0;
    return &j->h;
  }
  if (CK == 0) {
    fill0(out, g->N * g->O * OHW);
    j->h.units = 0;
    return &j->h;
  }
  j->dw = is_depthwise(g);
  j->pw = !j->dw && is_pointwise(g);
  j->wino = !j->dw && !j->pw && wino_applies(g);
  if (j->wino) {
    wino_setup(g, &j->wg);
    j->packedA = wino_weights(w, g, &j->wg);
    if (!j->packedA) return 0;
    if (twork_prealloc(j->tw, (u32)(j->wg.plane + j->wg.vFloats + j->wg.mFloats) * 4, 0)) return 0;
    return &j->h;
  }
  if (!j->dw && !j->pw) {
    if (q_setup(g, Cg, &j->q, 1)) return 0;
    j->packedA = prepack_weights(w, g->groups, Og, CK);
    if (!j->packedA) return 0;
  }
  if (!j->dw) {
    if (twork_prealloc(j->tw, j->pw ? 0 : (u32)j->q.istride * 4, j->pw)) return 0;
    if (!j->pw)
      for (int t = 0; t < MAXT && j->tw[t].ready; t++) q_clear_slack(&j->q, j->tw[t].buf);
  }
  return &j->h;
}

/* ---- input gradient ---- */

typedef struct {
  JobHead h;
  const float *dy, *w;
  float *dx;
  ConvDims d;
  int pw, dw, chunk, nb;
  TWork tw[MAXT];
} BwdInJob;

static void conv_bwd_input_chunk(void *vctx, int i, int tid) {
  BwdInJob *j = (BwdInJob *)vctx;
  const ConvGeom *g = &j->h.g;
  int n0, n1;
  job_chunk(&j->h, i, &n0, &n1);
  if (n0 >= n1) return;
  const int Cg = j->d.Cg, Og = j->d.Og, CK = j->d.CK, OHW = j->d.OHW, HW = j->d.HW;
  fill0(j->dx + (size_t)n0 * g->C * HW, (n1 - n0) * g->C * HW);
  if (j->dw) {
    depthwise_backward_input(j->dy, j->w, j->dx, g, n0, n1);
    return;
  }
  /* small images: several per GEMM (dy gathered into [Og, nb*OHW]) so the weights are packed once per batch */
  const int nb = j->nb;
  TWork *t = twork(j->tw, tid);
  if (!t) {
    j->h.err = 1;
    return;
  }
  float *dcol = t->buf;
  if (nb > 1) {
    float *dyb = dcol + (size_t)CK * nb * OHW;
    for (int n = n0; n < n1; n += nb) {
      const int nbc = n1 - n < nb ? n1 - n : nb, ld = nbc * OHW;
      for (int gi = 0; gi < g->groups; gi++) {
        for (int o = 0; o < Og; o++)
          for (int b = 0; b < nbc; b++)
            copy_f32(dyb + (size_t)o * ld + b * OHW, j->dy + ((size_t)(n + b) * g->O + gi * Og + o) * OHW, OHW);
        fill0(dcol, CK * ld);
        gemm(CK, ld, Og, j->w + (size_t)gi * Og * CK, 1, CK, dyb, ld, 1, dcol, ld, &t->wk);
        for (int b = 0; b < nbc; b++)
          col2im_range(dcol + b * OHW, ld, Cg, g, j->dx + (size_t)((n + b) * g->C + gi * Cg) * HW, 0, OHW);
      }
    }
    return;
  }
  for (int n = n0; n < n1; n++) {
    for (int gi = 0; gi < g->groups; gi++) {
      float *dxg = j->dx + (size_t)(n * g->C + gi * Cg) * HW;
      const float *wg = j->w + (size_t)gi * Og * CK;
      const float *dyg = j->dy + (size_t)(n * g->O + gi * Og) * OHW;
      /* dcol[CK, p0:p1] = Wgᵀ · dy_g[:, p0:p1] ; Wg stored [Og, CK] */
      if (j->pw) {
        gemm(CK, OHW, Og, wg, 1, CK, dyg, OHW, 1, dxg, OHW, &t->wk);
        continue;
      }
      for (int p0 = 0; p0 < OHW; p0 += j->chunk) {
        const int p1 = p0 + j->chunk < OHW ? p0 + j->chunk : OHW, nc = p1 - p0;
        fill0(dcol, CK * nc);
        gemm(CK, nc, Og, wg, 1, CK, dyg + p0, OHW, 1, dcol, nc, &t->wk);
        col2im_range(dcol, nc, Cg, g, dxg, p0, p1);
      }
    }
  }
}

/* Prepares dx = conv2d input gradient (units: images); 0 when out of memory. */
static JobHead *conv_bwd_input_prepare(const float *dy, const float *w, float *dx, const ConvGeom *g) {
  const ConvDims dm = conv_dims(g);
  const int Cg = dm.Cg, Og = dm.Og, CK = dm.CK, OHW = dm.OHW, HW = dm.HW;
  if (!is_depthwise(g) && g->N * g->C * HW > 0 && CK > 0 && OHW > 0 && Og > 0) {
    /* Stride 1: dx = conv(dy, W'), W'[g*Cg + c, o, kh, kw] = W[g*Og + o, c, KH-1-kh, KW-1-kw],
       padding dilation*(K-1) - pad. Reuses the fast forward path (no col2im). */
    const int pH2 = g->dilationH * (g->KH - 1) - g->padH, pW2 = g->dilationW * (g->KW - 1) - g->padW;
    if (g->strideH == 1 && g->strideW == 1 && pH2 >= 0 && pW2 >= 0 && !is_pointwise(g) &&
        g->OH + 2 * pH2 - g->dilationH * (g->KH - 1) == g->H && g->OW + 2 * pW2 - g->dilationW * (g->KW - 1) == g->W) {
      const int KHW = g->KH * g->KW;
      float *w2 = (float *)salloc((u32)g->O * CK * 4);
      if (!w2) return 0;
      for (int gi = 0; gi < g->groups; gi++)
        for (int o = 0; o < Og; o++)
          for (int c = 0; c < Cg; c++) {
            const float *src = w + ((size_t)(gi * Og + o) * Cg + c) * KHW;
            float *dstw = w2 + ((size_t)(gi * Cg + c) * Og + o) * KHW;
            for (int t = 0; t < KHW; t++) dstw[t] = src[KHW - 1 - t];
          }
      ConvGeom g2 = *g;
      g2.C = g->O; g2.H = g->OH; g2.W = g->OW;
      g2.O = g->C; g2.OH = g->H; g2.OW = g->W;
      g2.padH = pH2; g2.padW = pW2;
      return conv_fwd_prepare(dy, w2, dx, &g2);
    }
  }
  BwdInJob *j = (BwdInJob *)job_alloc(sizeof(BwdInJob), JOB_BWD_INPUT, g);
  if (!j) return 0;
  j->dy = dy;
  j->w = w;
  j->dx = dx;
  j->d = dm;
  j->h.fn = conv_bwd_input_chunk;
  j->h.perThread = CONV_CHUNKS_PER_THREAD;
  j->h.unitCost = 2.0 * g->O * OHW * CK;
  j->h.units = g->N;
  if (g->N * g->C * HW == 0) {
    j->h.units = 0;
    return &j->h;
  }
  if (CK == 0 || OHW == 0 || Og == 0) {
    fill0(dx, g->N * g->C * HW);
    j->h.units = 0;
    return &j->h;
  }
  j->dw = is_depthwise(g);
  j->pw = is_pointwise(g);
  j->chunk = conv_chunk(CK, OHW);
  /* images per GEMM when one image is smaller than a column chunk */
  int full = CONV_CHUNK_FLOATS / CK;
  full -= full % NR;
  if (full < 64) full = 64;
  j->nb = j->pw || OHW >= full || OHW >= 128 ? 1 : full / OHW;
  if (!j->dw) {
    const int nb = j->nb;
    if (twork_prealloc(j->tw, j->pw ? 0 : (u32)(CK + (nb > 1 ? Og : 0)) * (nb > 1 ? nb * OHW : j->chunk) * 4, 1)) return 0;
  }
  return &j->h;
}

/* ---- filter gradient ---- */
/* ---- Winograd F(2x2, 3x3) filter gradient (3x3, stride 1, dilation 1, groups 1; as wino_applies) ----
 * The forward pass per 2x2 output tile is Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, so
 *   dW = Gᵀ [ Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ d B) ] G,
 * 16 multiply-adds per tile and (o, c) pair instead of 36. With A = S A'' and S = diag(1, 1, 1, -1)
 * the dy transform A'' dY A''ᵀ has no negations and the sign moves into P = S G (applied once at the
 * end). Per block of tiles (tile rows of one image, or several whole small images) the input tiles
 * are transformed into V[ξ][c][t] (as in the forward pass, 4 adjacent tiles per f32x4) and dy, first
 * transposed to channel-minor yT[pixel][o], into D[ξ][o/8][t][8]; then M[ξ][c][o] += Σ_t V·D is a
 * register-blocked GEMM with a long K (tiles). Each partial (fixed image range) accumulates its own
 * M; conv_bwd_filter_finish sums them in a fixed order and applies dW = Pᵀ M P.
 */
#ifndef WDW_BLOCK_TILES
#define WDW_BLOCK_TILES 64 /* tiles per block: the GEMM K */
#endif

typedef struct {
  int TH, TW, TWp, Wp, rows, nb; /* tile rows/cols, cols padded to 4, plane width, tile rows per block, images per block */
  int Cp, Op;                    /* C padded to 4 (rows of M), O padded to 8 (columns of M, lanes of yT) */
  int nt;                        /* most tiles in a block */
  int mx;                        /* M stride between ξ */
  int plane, vFloats, dFloats, yFloats;
  int pair; /* two tile columns: images paired in each 4-tile group, as in the forward pass */
} WdwGeom;

/* Tile slots of a block of nbc images with `rows` tile rows each. */
INLINE int wdw_tiles(const WdwGeom *w, int nbc, int rows) { return w->pair ? (nbc + 1) / 2 * rows * 4 : nbc * rows * w->TWp; }

/* Strides between the 16 ξ planes are skewed by one cache line: at power-of-two strides the 16
   streams of a transform would all map to the same L1 set (half the speed at 16 channels). */
#define WDW_SKEW 16

static void wdw_setup(const ConvGeom *g, WdwGeom *w) {
  w->TH = (g->OH + 1) / 2;
  w->TW = (g->OW + 1) / 2;
  w->TWp = (w->TW + 3) & ~3;
  w->Wp = 2 * w->TWp + 4;
  w->Cp = (g->C + 3) & ~3;
  w->Op = (g->O + 7) & ~7;
  int rows = WDW_BLOCK_TILES / w->TWp;
  if (rows < 1) rows = 1;
  w->nb = 1;
  w->pair = 0;
  if (rows >= w->TH) {
    rows = w->TH;
    w->pair = w->TW == 2; /* (whole images per block: the pairs are formed inside one) */
    w->nb = WDW_BLOCK_TILES / (w->TH * (w->pair ? 2 : w->TWp));
    if (w->nb < 1) w->nb = 1;
    if (w->nb > g->N) w->nb = g->N;
  }
  w->rows = rows;
  w->nt = wdw_tiles(w, w->nb, rows);
  w->plane = ((2 * rows + 2) * w->Wp + 15) & ~15;
  w->mx = w->Cp * w->Op + WDW_SKEW;
  w->vFloats = 16 * (g->C * w->nt + WDW_SKEW);
  w->dFloats = 16 * (w->Op * w->nt + WDW_SKEW);
  w->yFloats = 4 * w->nt * w->Op;
}

/* C[4 x 8] += Σ_k [a0[k], a1[k], a2[k], a3[k]]ᵀ · Bp[k][0..8) */
INLINE void micro_kernel_rows(int kc, const float *a0, const float *a1, const float *a2, const float *a3, const float *Bp,
                              float *C, int ldc) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00;
  v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int k = 0; k < kc; k++) {
    v128_t b0 = wasm_v128_load(Bp), b1 = wasm_v128_load(Bp + 4);
    v128_t a;
    a = wasm_v128_load32_splat(a0 + k); FMA(c00, a, b0); FMA(c01, a, b1);
    a = wasm_v128_load32_splat(a1 + k); FMA(c10, a, b0); FMA(c11, a, b1);
    a = wasm_v128_load32_splat(a2 + k); FMA(c20, a, b0); FMA(c21, a, b1);
    a = wasm_v128_load32_splat(a3 + k); FMA(c30, a, b0); FMA(c31, a, b1);
    Bp += NR;
  }
  add_tile_4x8(C, ldc, 0, 4, c00, c01, c10, c11, c20, c21, c30, c31);
}

/* dy rows [oh0, oh0 + nr) of one image, channel-minor: yT[r][ow][o] (row stride rs floats); rows past
   OH are zeroed; columns past OW and lanes past O are never written (zeroed once per buffer). */
static void wdw_transpose_dy(const float *dy, const ConvGeom *g, int Op, int oh0, int nr, float *yT, int rs) {
  const int O = g->O, OH = g->OH, OW = g->OW, OHW = OH * OW, O4 = O & ~3, OW4 = OW & ~3;
  for (int r = 0; r < nr; r++) {
    const int oh = oh0 + r;
    float *dst = yT + (size_t)r * rs;
    if (oh >= OH) {
      fill0(dst, rs);
      continue;
    }
    for (int o = 0; o < O4; o += 4) {
      const float *s0 = dy + (size_t)o * OHW + (size_t)oh * OW, *s1 = s0 + OHW, *s2 = s1 + OHW, *s3 = s2 + OHW;
      int ow = 0;
      for (; ow < OW4; ow += 4) {
        const v128_t a0 = wasm_v128_load(s0 + ow), a1 = wasm_v128_load(s1 + ow);
        const v128_t a2 = wasm_v128_load(s2 + ow), a3 = wasm_v128_load(s3 + ow);
        const v128_t t0 = wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7);
        const v128_t t2 = wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7);
        float *d = dst + (size_t)ow * Op + o;
        wasm_v128_store(d, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
        wasm_v128_store(d + Op, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
        wasm_v128_store(d + 2 * Op, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
        wasm_v128_store(d + 3 * Op, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
      }
      for (; ow < OW; ow++) {
        float *d = dst + (size_t)ow * Op + o;
        d[0] = s0[ow]; d[1] = s1[ow]; d[2] = s2[ow]; d[3] = s3[ow];
      }
    }
    for (int o = O4; o < O; o++) {
      const float *s = dy + (size_t)o * OHW + (size_t)oh * OW;
      for (int ow = 0; ow < OW; ow++) dst[(size_t)ow * Op + o] = s[ow];
    }
  }
}

#ifdef WDW_PROFILE
#define WDW_PART __attribute__((noinline)) static
#else
#define WDW_PART static
#endif

/* Input tiles of nbc images (x: first image), tile rows [ty0, ty0 + rows) -> V[ξ][c][t] (ξ stride vx). */
WDW_PART void wdw_input(const ConvGeom *g, const WdwGeom *w, const float *x, int nbc, int ty0, int rows, float *pl, float *V,
                        size_t vx) {
  const int C = g->C, H = g->H, W = g->W, pH = g->padH, TWp = w->TWp, Wp = w->Wp, HW = H * W, pair = w->pair;
  const int per = rows * TWp, nt = wdw_tiles(w, nbc, rows);
  /* pair mode: "image" b is the pair (2b, 2b + 1), its 4-tile groups two tiles of each */
  for (int b = 0; b < (pair ? (nbc + 1) / 2 : nbc); b++) {
    for (int c = 0; c < C; c++) {
      const float *xc = x + ((size_t)(pair ? 2 * b : b) * C + c) * HW;
      const float *xc1 = pair && 2 * b + 1 < nbc ? xc + (size_t)C * HW : 0;
      for (int pr = 0; pr < 2 * rows + 2; pr++) wino_pad_row(g, Wp, pair, xc, xc1, 2 * ty0 + pr - pH, pl + (size_t)pr * Wp);
      /* tile row ty uses padded rows 2ty..2ty+3: walking down a column of tiles, the row
         transforms of rows 2ty+2 and 2ty+3 are those of the next tile row's first two */
      float *vc = V + (size_t)c * nt + (size_t)b * per;
      for (int tx0 = 0; tx0 < TWp; tx0 += 4) {
        const float *r = pl + 2 * tx0;
        v128_t a0, a1, a2, a3, b0, b1, b2, b3;
        wino_row(pair, r, &a0, &a1, &a2, &a3);
        wino_row(pair, r + Wp, &b0, &b1, &b2, &b3);
        for (int ty = 0; ty < rows; ty++) {
          const float *r2 = r + (size_t)(2 * ty + 2) * Wp;
          float *dst = vc + ty * TWp + tx0;
          v128_t c0, c1, c2, c3, d0, d1, d2, d3;
          wino_row(pair, r2, &c0, &c1, &c2, &c3);
          wasm_v128_store(dst + 0 * vx, wasm_f32x4_sub(a0, c0));
          wasm_v128_store(dst + 1 * vx, wasm_f32x4_sub(a1, c1));
          wasm_v128_store(dst + 2 * vx, wasm_f32x4_sub(a2, c2));
          wasm_v128_store(dst + 3 * vx, wasm_f32x4_sub(a3, c3));
          wasm_v128_store(dst + 4 * vx, wasm_f32x4_add(b0, c0));
          wasm_v128_store(dst + 5 * vx, wasm_f32x4_add(b1, c1));
          wasm_v128_store(dst + 6 * vx, wasm_f32x4_add(b2, c2));
          wasm_v128_store(dst + 7 * vx, wasm_f32x4_add(b3, c3));
          wasm_v128_store(dst + 8 * vx, wasm_f32x4_sub(c0, b0));
          wasm_v128_store(dst + 9 * vx, wasm_f32x4_sub(c1, b1));
          wasm_v128_store(dst + 10 * vx, wasm_f32x4_sub(c2, b2));
          wasm_v128_store(dst + 11 * vx, wasm_f32x4_sub(c3, b3));
          wino_row(pair, r2 + Wp, &d0, &d1, &d2, &d3);
          wasm_v128_store(dst + 12 * vx, wasm_f32x4_sub(b0, d0));
          wasm_v128_store(dst + 13 * vx, wasm_f32x4_sub(b1, d1));
          wasm_v128_store(dst + 14 * vx, wasm_f32x4_sub(b2, d2));
          wasm_v128_store(dst + 15 * vx, wasm_f32x4_sub(b3, d3));
          a0 = c0; a1 = c1; a2 = c2; a3 = c3;
          b0 = d0; b1 = d1; b2 = d2; b3 = d3;
        }
      }
    }
  }
}

/* dy of the same tiles -> D[ξ][o/8][t][o%8] = A'' dY_t A''ᵀ, A'' = [1 0; 1 1; 1 -1; 0 1] (ξ stride dx). */
WDW_PART void wdw_dy(const ConvGeom *g, const WdwGeom *w, const float *dy, int nbc, int ty0, int rows, float *yT, float *D,
                     size_t dx) {
  const int TWp = w->TWp, Op = w->Op, OHW = g->OH * g->OW, pair = w->pair;
  const int per = rows * TWp, nt = wdw_tiles(w, nbc, rows);
  const int rs = 2 * TWp * Op; /* yT row stride */
  if (pair && (nbc & 1)) /* the empty partner's slots: V is 0 there, and so must D be (0 · NaN garbage) */
    for (int xi = 0; xi < 16; xi++)
      for (int s = 0; s < Op / 8; s++)
        for (int ty = 0; ty < rows; ty++) fill0(D + xi * dx + ((size_t)s * nt + (nbc / 2) * per + ty * 4 + 2) * 8, 16);
  for (int b = 0; b < nbc; b++) {
    wdw_transpose_dy(dy + (size_t)b * g->O * OHW, g, Op, 2 * ty0, 2 * rows, yT, rs);
    for (int ty = 0; ty < rows; ty++) {
      const float *yr = yT + (size_t)2 * ty * rs;
      for (int tx = 0; tx < (pair ? 2 : TWp); tx++) {
        const float *p = yr + (size_t)2 * tx * Op;
        const int t = pair ? (b >> 1) * per + ty * 4 + (b & 1) * 2 + tx : b * per + ty * TWp + tx;
        for (int o = 0; o < Op; o += 4) {
          const v128_t y00 = wasm_v128_load(p + o), y01 = wasm_v128_load(p + Op + o);
          const v128_t y10 = wasm_v128_load(p + rs + o), y11 = wasm_v128_load(p + rs + Op + o);
          const v128_t s0 = wasm_f32x4_add(y00, y10), s1 = wasm_f32x4_add(y01, y11);
          const v128_t e0 = wasm_f32x4_sub(y00, y10), e1 = wasm_f32x4_sub(y01, y11);
          float *d = D + ((size_t)(o >> 3) * nt + t) * 8 + (o & 7);
#define ROWT(i, a, bb)                                                  \
  do {                                                                  \
    wasm_v128_store(d + (4 * (i) + 0) * dx, a);                         \
    wasm_v128_store(d + (4 * (i) + 1) * dx, wasm_f32x4_add(a, bb));     \
    wasm_v128_store(d + (4 * (i) + 2) * dx, wasm_f32x4_sub(a, bb));     \
    wasm_v128_store(d + (4 * (i) + 3) * dx, bb);                        \
  } while (0)
          ROWT(0, y00, y01);
          ROWT(1, s0, s1);
          ROWT(2, e0, e1);
          ROWT(3, y10, y11);
#undef ROWT
        }
      }
    }
  }
}

/* D of one tile (4 output channels) from its 2x2 dy pixels; d points at D[ξ=0][o/8][t][o%8]. */
INLINE void wdw_dy_tile(float *d, size_t dx, v128_t y00, v128_t y01, v128_t y10, v128_t y11) {
  const v128_t s0 = wasm_f32x4_add(y00, y10), s1 = wasm_f32x4_add(y01, y11);
  const v128_t e0 = wasm_f32x4_sub(y00, y10), e1 = wasm_f32x4_sub(y01, y11);
#define ROWT(i, a, bb)                                                  \
  do {                                                                  \
    wasm_v128_store(d + (4 * (i) + 0) * dx, a);                         \
    wasm_v128_store(d + (4 * (i) + 1) * dx, wasm_f32x4_add(a, bb));     \
    wasm_v128_store(d + (4 * (i) + 2) * dx, wasm_f32x4_sub(a, bb));     \
    wasm_v128_store(d + (4 * (i) + 3) * dx, bb);                        \
  } while (0)
  ROWT(0, y00, y01);
  ROWT(1, s0, s1);
  ROWT(2, e0, e1);
  ROWT(3, y10, y11);
#undef ROWT
}

/* 4x4 transpose: rows r0..r3 (4 channels x 4 pixels) -> p0..p3 (4 pixels x 4 channels) */
#define TRANSPOSE4(r0, r1, r2, r3, p0, p1, p2, p3)                                                       \
  do {                                                                                                  \
    const v128_t t0_ = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1_ = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7); \
    const v128_t t2_ = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3_ = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7); \
    p0 = wasm_i32x4_shuffle(t0_, t2_, 0, 1, 4, 5);                                                      \
    p1 = wasm_i32x4_shuffle(t0_, t2_, 2, 3, 6, 7);                                                      \
    p2 = wasm_i32x4_shuffle(t1_, t3_, 0, 1, 4, 5);                                                      \
    p3 = wasm_i32x4_shuffle(t1_, t3_, 2, 3, 6, 7);                                                      \
  } while (0)

/* wdw_dy when O % 4 == 0 and OW % 8 == 0 (no padding tiles): dy read in place, transposed in registers.
   zero: OW zero floats (the row below an odd last output row). */
WDW_PART void wdw_dy_direct(const ConvGeom *g, const WdwGeom *w, const float *dy, int nbc, int ty0, int rows,
                            const float *zero, float *D, size_t dx) {
  const int O = g->O, OH = g->OH, OW = g->OW, OHW = OH * OW, TWp = w->TWp;
  const int per = rows * TWp, nt = nbc * per;
  for (int b = 0; b < nbc; b++)
    for (int ty = 0; ty < rows; ty++) {
      const int oh = 2 * (ty0 + ty);
      for (int o = 0; o < O; o += 4) {
        const float *u0 = dy + ((size_t)(b * O + o) * OH + oh) * OW, *u1 = u0 + OHW, *u2 = u1 + OHW, *u3 = u2 + OHW;
        const int two = oh + 1 < OH;
        const float *l0 = two ? u0 + OW : zero, *l1 = two ? u1 + OW : zero, *l2 = two ? u2 + OW : zero, *l3 = two ? u3 + OW : zero;
        float *d = D + ((size_t)(o >> 3) * nt + b * per + ty * TWp) * 8 + (o & 7);
        for (int ow = 0; ow < OW; ow += 4, d += 16) { /* two tiles */
          v128_t p0, p1, p2, p3, q0, q1, q2, q3;
          TRANSPOSE4(wasm_v128_load(u0 + ow), wasm_v128_load(u1 + ow), wasm_v128_load(u2 + ow), wasm_v128_load(u3 + ow), p0, p1, p2, p3);
          TRANSPOSE4(wasm_v128_load(l0 + ow), wasm_v128_load(l1 + ow), wasm_v128_load(l2 + ow), wasm_v128_load(l3 + ow), q0, q1, q2, q3);
          wdw_dy_tile(d, dx, p0, p1, q0, q1);
          wdw_dy_tile(d + 8, dx, p2, p3, q2, q3);
        }
      }
    }
}

/* M[ξ][c][o] += Σ_t V[ξ][c][t] D[ξ][t][o] over nt tiles. */
WDW_PART void wdw_gemm(const ConvGeom *g, const WdwGeom *w, int nt, const float *V, size_t vx, const float *D, size_t dx,
                       float *M) {
  const int C = g->C, Op = w->Op, nS = Op / 8;
  for (int xi = 0; xi < 16; xi++) {
    const float *Vx = V + xi * vx, *Dx = D + xi * dx;
    float *Mx = M + (size_t)xi * w->mx;
    for (int c = 0; c < C; c += 4) {
      const int c1 = c + 1 < C ? c + 1 : C - 1, c2 = c + 2 < C ? c + 2 : C - 1, c3 = c + 3 < C ? c + 3 : C - 1;
      const float *a0 = Vx + (size_t)c * nt, *a1 = Vx + (size_t)c1 * nt, *a2 = Vx + (size_t)c2 * nt, *a3 = Vx + (size_t)c3 * nt;
      for (int s = 0; s < nS; s++) micro_kernel_rows(nt, a0, a1, a2, a3, Dx + (size_t)s * nt * 8, Mx + (size_t)c * Op + s * 8, Op);
    }
  }
}

/*
 * One block into M (16 x Cp x Op): nbc images from x / dy (image pointers), tile rows [ty0, ty0 + rows).
 * buf: plane, V, D, yT.
 */
static void wdw_block(const ConvGeom *g, const WdwGeom *w, const float *x, const float *dy, int nbc, int ty0, int rows,
                      float *M, float *buf) {
  const int nt = wdw_tiles(w, nbc, rows);
  float *pl = buf, *V = buf + w->plane, *D = V + w->vFloats, *yT = D + w->dFloats;
  const size_t vx = (size_t)g->C * nt + WDW_SKEW, dx = (size_t)w->Op * nt + WDW_SKEW; /* ξ strides */
  wdw_input(g, w, x, nbc, ty0, rows, pl, V, vx);
  if (g->O % 4 == 0 && g->OW % 8 == 0)
    wdw_dy_direct(g, w, dy, nbc, ty0, rows, yT, D, dx); /* yT: zeros, unused on this path */
  else
    wdw_dy(g, w, dy, nbc, ty0, rows, yT, D, dx);
  wdw_gemm(g, w, nt, V, vx, D, dx, M);
}

/* dw[o, c, :, :] = Pᵀ M[:, c, o] P, P = S G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 -1], for M summed over the batch. */
static void wdw_output(const float *M, const ConvGeom *g, int Op, int mx, float *dw, int c0, int c1) {
  const int C = g->C, O = g->O;
  const v128_t h = wasm_f32x4_splat(0.5f);
  for (int c = c0; c < c1; c++)
    for (int o = 0; o < O; o += 4) {
      const float *m = M + (size_t)c * Op + o;
      v128_t z[4][3];
      for (int i = 0; i < 4; i++) {
        const v128_t m0 = wasm_v128_load(m + (4 * i) * mx), m1 = wasm_v128_load(m + (4 * i + 1) * mx);
        const v128_t m2 = wasm_v128_load(m + (4 * i + 2) * mx), m3 = wasm_v128_load(m + (4 * i + 3) * mx);
        const v128_t s = wasm_f32x4_mul(h, wasm_f32x4_add(m1, m2));
        z[i][0] = wasm_f32x4_add(m0, s);
        z[i][1] = wasm_f32x4_mul(h, wasm_f32x4_sub(m1, m2));
        z[i][2] = wasm_f32x4_sub(s, m3);
      }
      float r[9][4] __attribute__((aligned(16)));
      for (int j = 0; j < 3; j++) {
        const v128_t s = wasm_f32x4_mul(h, wasm_f32x4_add(z[1][j], z[2][j]));
        wasm_v128_store(r[j], wasm_f32x4_add(z[0][j], s));
        wasm_v128_store(r[3 + j], wasm_f32x4_mul(h, wasm_f32x4_sub(z[1][j], z[2][j])));
        wasm_v128_store(r[6 + j], wasm_f32x4_sub(s, z[3][j]));
      }
      const int n = O - o < 4 ? O - o : 4;
      for (int l = 0; l < n; l++) {
        float *d = dw + ((size_t)(o + l) * C + c) * 9;
        for (int k = 0; k < 9; k++) d[k] = r[k][l];
      }
    }
}

#ifndef DW_MIN_PARTIALS
#define DW_MIN_PARTIALS 8
#endif
#ifndef DW_PARTIAL_BYTES
#define DW_PARTIAL_BYTES (64u << 20)
#endif

/* Number of batch partial sums: depends on the geometry (and only on the thread count above 4). */
static int dw_partials(int N, u32 partialBytes) {
  const int T = __atomic_load_n(&nthreads, SEQ);
  int G = 2 * T > DW_MIN_PARTIALS ? 2 * T : DW_MIN_PARTIALS;
  if (G > N) G = N;
  if (partialBytes > 0) {
    const u32 cap = DW_PARTIAL_BYTES / partialBytes;
    if ((u32)G > cap) G = cap < 1 ? 1 : (int)cap;
  }
  return G < 1 ? 1 : G;
}

typedef struct {
  JobHead h;
  const float *x, *dy;
  float *dw;
  float *partials; /* G x psz */
  int psz, G, pw, wino;
  ConvDims d;
  int CKp, OgP;
  const int *kOffP;
  WdwGeom wd;
  TWork tw[MAXT];
} BwdFilterJob;

static void pad_planes(const float *x, int Cg, const ConvGeom *g, float *xpad, int Hp, int Wp) {
  const int H = g->H, W = g->W, pH = g->padH, pW = g->padW;
  for (int c = 0; c < Cg; c++) {
    const float *xc = x + (size_t)c * H * W;
    float *pc = xpad + (size_t)c * Hp * Wp;
    fill0(pc, pH * Wp);
    for (int ih = 0; ih < H; ih++) {
      float *row = pc + (size_t)(pH + ih) * Wp;
      for (int j = 0; j < pW; j++) row[j] = 0.0f;
      copy_f32(row + pW, xc + (size_t)ih * W, W);
      for (int j = pW + W; j < Wp; j++) row[j] = 0.0f;
    }
    fill0(pc + (size_t)(pH + H) * Wp, (Hp - pH - H) * Wp);
  }
}
INLINE void micro_kernel_dw(int kc, int oh, int ow, const float *r0, const float *r1, const float *r2, const float *r3,
                            int OW, int rowStep, int sW, const float *Bp, float *C, int ldc) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00;
  v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  int k = 0;
  while (k < kc) {
    int run = OW - ow;
    if (run > kc - k) run = kc - k;
    const size_t off = (size_t)oh * rowStep + (size_t)ow * sW;
    const float *q0 = r0 + off, *q1 = r1 + off, *q2 = r2 + off, *q3 = r3 + off;
    if (sW == 1) {
      for (int t = 0; t < run; t++) {
        v128_t b0 = wasm_v128_load(Bp), b1 = wasm_v128_load(Bp + 4);
        v128_t a;
        a = wasm_v128_load32_splat(q0 + t); FMA(c00, a, b0); FMA(c01, a, b1);
        a = wasm_v128_load32_splat(q1 + t); FMA(c10, a, b0); FMA(c11, a, b1);
        a = wasm_v128_load32_splat(q2 + t); FMA(c20, a, b0); FMA(c21, a, b1);
        a = wasm_v128_load32_splat(q3 + t); FMA(c30, a, b0); FMA(c31, a, b1);
        Bp += NR;
      }
    } else {
      for (int t = 0; t < run; t++) {
        const int u = t * sW;
        v128_t b0 = wasm_v128_load(Bp), b1 = wasm_v128_load(Bp + 4);
        v128_t a;
        a = wasm_v128_load32_splat(q0 + u); FMA(c00, a, b0); FMA(c01, a, b1);
        a = wasm_v128_load32_splat(q1 + u); FMA(c10, a, b0); FMA(c11, a, b1);
        a = wasm_v128_load32_splat(q2 + u); FMA(c20, a, b0); FMA(c21, a, b1);
        a = wasm_v128_load32_splat(q3 + u); FMA(c30, a, b0); FMA(c31, a, b1);
        Bp += NR;
      }
    }
    k += run;
    oh++;
    ow = 0;
  }
  add_tile_4x8(C, ldc, 0, 4, c00, c01, c10, c11, c20, c21, c30, c31);
}

/* Chunk ci of a filter-gradient job: zeroes its partial (*part), sets its images [*n0, *n1) and
   returns the thread's workspace; 0 when the chunk has no images or (j->h.err set) no memory. */
static TWork *dw_chunk_begin(BwdFilterJob *j, int ci, int tid, float **part, int *n0, int *n1) {
  const int i = j->h.u0 + ci; /* one partial per chunk */
  *part = j->partials + (size_t)i * j->psz;
  fill0(*part, j->psz);
  chunk_range(j->h.g.N, j->G, i, n0, n1);
  if (*n0 >= *n1) return 0;
  TWork *t = twork(j->tw, tid);
  if (!t) j->h.err = 1;
  return t;
}

/* Filter gradient (one partial sum): im2col rows read in place from zero-padded planes. */
static void conv_bwd_filter_pad_chunk(void *vctx, int ci, int tid) {
  BwdFilterJob *j = (BwdFilterJob *)vctx;
  const ConvGeom *g = &j->h.g;
  float *part;
  int n0, n1;
  TWork *t = dw_chunk_begin(j, ci, tid, &part, &n0, &n1);
  if (!t) return;
  const int Hp = g->H + 2 * g->padH, Wp = g->W + 2 * g->padW;
  float *xpad = t->buf;
  const int Cg = j->d.Cg, Og = j->d.Og, CK = j->d.CK, OHW = j->d.OHW, HW = j->d.HW, OW = g->OW, OgP = j->OgP;
  const int rowStep = g->strideH * Wp, sW = g->strideW;
  const int *kOffP = j->kOffP;
  for (int n = n0; n < n1; n++) {
    for (int gi = 0; gi < g->groups; gi++) {
      float *dwt = part + (size_t)gi * j->CKp * OgP;
      const float *xg = j->x + (size_t)(n * g->C + gi * Cg) * HW;
      const float *dyg = j->dy + (size_t)(n * g->O + gi * Og) * OHW;
      pad_planes(xg, Cg, g, xpad, Hp, Wp);
      for (int jc = 0; jc < Og; jc += NC) {
        const int nc = Og - jc < NC ? Og - jc : NC;
        for (int pc = 0; pc < OHW; pc += KC) {
          const int kc = OHW - pc < KC ? OHW - pc : KC;
          /* B(p, o) = dy[o, p]: stored transposed (row stride 1, column stride OHW) */
          pack_b(dyg, 1, OHW, pc, kc, jc, nc, t->wk.packB);
          const int oh0 = pc / OW, ow0 = pc - oh0 * OW;
          for (int r = 0; r < CK; r += MR) {
            const int i1 = r + 1 < CK ? r + 1 : CK - 1, i2 = r + 2 < CK ? r + 2 : CK - 1, i3 = r + 3 < CK ? r + 3 : CK - 1;
            const float *r0 = xpad + kOffP[r], *r1 = xpad + kOffP[i1], *r2 = xpad + kOffP[i2], *r3 = xpad + kOffP[i3];
            for (int jr = 0; jr < nc; jr += NR)
              micro_kernel_dw(kc, oh0, ow0, r0, r1, r2, r3, OW, rowStep, sW, t->wk.packB + (size_t)jr * kc,
                              dwt + (size_t)r * OgP + jc + jr, OgP);
          }
        }
      }
    }
  }
}

static void conv_bwd_filter_pointwise_chunk(void *vctx, int ci, int tid) {
  BwdFilterJob *j = (BwdFilterJob *)vctx;
  const ConvGeom *g = &j->h.g;
  float *part;
  int n0, n1;
  TWork *t = dw_chunk_begin(j, ci, tid, &part, &n0, &n1);
  if (!t) return;
  const int Cg = j->d.Cg, Og = j->d.Og, CK = j->d.CK, OHW = j->d.OHW, HW = j->d.HW;
  for (int n = n0; n < n1; n++)
    for (int gi = 0; gi < g->groups; gi++)
      /* pointwise: dw_g[Og, C_g] += dy_g[Og, HW] · x_gᵀ */
      gemm(Og, CK, OHW, j->dy + (size_t)(n * g->O + gi * Og) * OHW, OHW, 1, j->x + (size_t)(n * g->C + gi * Cg) * HW, 1,
           OHW, part + (size_t)gi * Og * CK, CK, &t->wk);
}

static void conv_bwd_filter_wino_chunk(void *vctx, int ci, int tid) {
  BwdFilterJob *j = (BwdFilterJob *)vctx;
  const ConvGeom *g = &j->h.g;
  float *part;
  int n0, n1;
  TWork *t = dw_chunk_begin(j, ci, tid, &part, &n0, &n1);
  if (!t) return;
  const WdwGeom *w = &j->wd;
  const size_t imgX = (size_t)g->C * j->d.HW, imgY = (size_t)g->O * j->d.OHW;
  for (int n = n0; n < n1;) {
    if (w->rows < w->TH) {
      for (int ty0 = 0; ty0 < w->TH; ty0 += w->rows)
        wdw_block(g, w, j->x + n * imgX, j->dy + n * imgY, 1, ty0, w->TH - ty0 < w->rows ? w->TH - ty0 : w->rows, part,
                  t->buf);
      n++;
    } else {
      const int nbc = n1 - n < w->nb ? n1 - n : w->nb;
      wdw_block(g, w, j->x + n * imgX, j->dy + n * imgY, nbc, 0, w->TH, part, t->buf);
      n += nbc;
    }
  }
}

typedef struct {
  JobHead h;
  const float *x, *dy;
  float *dw;
} DepthwiseFilterJob;

static void conv_bwd_filter_depthwise_chunk(void *vctx, int i, int tid) {
  DepthwiseFilterJob *j = (DepthwiseFilterJob *)vctx;
  int o0, o1;
  job_chunk(&j->h, i, &o0, &o1);
  depthwise_backward_filter(j->x, j->dy, j->dw, &j->h.g, o0, o1);
}

/* dst[0..n) += src[0..n) */
INLINE void add_into(float *dst, const float *src, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_f32x4_add(wasm_v128_load(dst + i), wasm_v128_load(src + i)));
  for (; i < n; i++) dst[i] += src[i];
}

/* Prepares dw = conv2d filter gradient (units: partial sums, or output channels when depthwise;
   finish with conv_bwd_filter_finish); 0 when out of memory. */
static JobHead *conv_bwd_filter_prepare(const float *x, const float *dy, float *dw, const ConvGeom *g) {
  const ConvDims dm = conv_dims(g);
  const int Cg = dm.Cg, Og = dm.Og, CK = dm.CK, OHW = dm.OHW;
  if (is_depthwise(g) && g->N > 0 && CK > 0 && OHW > 0 && Og > 0) {
    DepthwiseFilterJob *d = (DepthwiseFilterJob *)job_alloc(sizeof(DepthwiseFilterJob), JOB_DW_FILTER, g);
    if (!d) return 0;
    d->x = x;
    d->dy = dy;
    d->dw = dw;
    d->h.fn = conv_bwd_filter_depthwise_chunk;
    d->h.perThread = 4;
    d->h.unitCost = 2.0 * g->N * OHW * CK;
    d->h.units = g->O;
    return &d->h;
  }
  BwdFilterJob *j = (BwdFilterJob *)job_alloc(sizeof(BwdFilterJob), JOB_BWD_FILTER, g);
  if (!j) return 0;
  j->x = x;
  j->dy = dy;
  j->dw = dw;
  if (g->N == 0 || CK == 0 || OHW == 0 || Og == 0) {
    j->h.units = 0;
    return &j->h;
  }
  j->d = dm;
  j->pw = is_pointwise(g);
  j->wino = !j->pw && wino_applies(g);
  if (j->pw) {
    j->psz = g->O * CK;
  } else if (j->wino) {
    wdw_setup(g, &j->wd);
    j->psz = 16 * j->wd.mx;
  } else {
    const int Hp = g->H + 2 * g->padH, Wp = g->W + 2 * g->padW;
    j->CKp = (CK + MR - 1) / MR * MR;
    j->OgP = (Og + NR - 1) / NR * NR;
    j->psz = g->groups * j->CKp * j->OgP;
    int *kOffP = (int *)salloc((u32)CK * 4);
    if (!kOffP) return 0;
    int k = 0;
    for (int c = 0; c < Cg; c++)
      for (int kh = 0; kh < g->KH; kh++)
        for (int kw = 0; kw < g->KW; kw++, k++) kOffP[k] = c * Hp * Wp + kh * g->dilationH * Wp + kw * g->dilationW;
    j->kOffP = kOffP;
  }
  j->G = dw_partials(g->N, (u32)j->psz * 4);
  j->partials = (float *)salloc((u32)j->G * j->psz * 4);
  if (!j->partials) return 0;
  if (j->wino) {
    const WdwGeom *w = &j->wd;
    const int off = w->plane + w->vFloats + w->dFloats;
    if (twork_prealloc(j->tw, (u32)(off + w->yFloats) * 4, 0)) return 0;
    /* columns past OW and lanes past O of the transposed dy stay zero */
    for (int t = 0; t < MAXT && j->tw[t].ready; t++) fill0(j->tw[t].buf + off, w->yFloats);
    j->h.fn = conv_bwd_filter_wino_chunk;
    j->h.perThread = 0;
    j->h.units = j->G;
    return &j->h;
  }
  if (twork_prealloc(j->tw, j->pw ? 0 : (u32)Cg * (g->H + 2 * g->padH) * (g->W + 2 * g->padW) * 4 + 64, 1)) return 0;
  j->h.fn = j->pw ? conv_bwd_filter_pointwise_chunk : conv_bwd_filter_pad_chunk;
  j->h.perThread = 0; /* one chunk per partial */
  j->h.units = j->G;
  return &j->h;
}

typedef struct {
  BwdFilterJob *j;
  int nChunks;
} WdwFinish;

/* Input channels [c0, c1): M rows summed over the partials (in partial order), then dW = Pᵀ M P. */
static void wdw_finish_chunk(void *vctx, int i, int tid) {
  const WdwFinish *f = (const WdwFinish *)vctx;
  BwdFilterJob *j = f->j;
  const ConvGeom *g = &j->h.g;
  const int Op = j->wd.Op, mx = j->wd.mx;
  int c0, c1;
  chunk_range(g->C, f->nChunks, i, &c0, &c1);
  if (c0 >= c1) return;
  for (int xi = 0; xi < 16; xi++) {
    float *m = j->partials + (size_t)xi * mx + (size_t)c0 * Op;
    for (int p = 1; p < j->G; p++) add_into(m, m + (size_t)p * j->psz, (c1 - c0) * Op);
  }
  wdw_output(j->partials, g, Op, mx, j->dw, c0, c1);
}

/* Sums the partials in a fixed order into dw (after every unit has run). */
static void conv_bwd_filter_finish(JobHead *h) {
  if (h->kind != JOB_BWD_FILTER) return;
  BwdFilterJob *j = (BwdFilterJob *)h;
  const ConvGeom *g = &h->g;
  const int CK = (g->C / g->groups) * g->KH * g->KW, Og = g->O / g->groups;
  if (h->units == 0) {
    fill0(j->dw, g->O * CK);
    return;
  }
  if (j->wino) { /* every element is summed in the same order whatever the chunks */
    WdwFinish f;
    f.j = j;
    f.nChunks = chunks_for(g->C, 16.0 * j->wd.Op * j->G, 2);
    par_for(wdw_finish_chunk, &f, f.nChunks);
    return;
  }
  for (int c = 1; c < j->G; c++) add_into(j->partials, j->partials + (size_t)c * j->psz, j->psz);
  if (j->pw) {
    copy_f32(j->dw, j->partials, g->O * CK);
    return;
  }
  for (int gi = 0; gi < g->groups; gi++) {
    const float *dwt = j->partials + (size_t)gi * j->CKp * j->OgP;
    float *dwg = j->dw + (size_t)gi * Og * CK;
    for (int o = 0; o < Og; o++)
      for (int kk = 0; kk < CK; kk++) dwg[(size_t)o * CK + kk] = dwt[(size_t)kk * j->OgP + o];
  }
}

/* ---- exports ---- */

/* Leading images a part that ends at unit u1 needs (inputs copied before it starts). */
EXPORT(mp_job_images) int mp_job_images(const JobHead *h, int u1) {
  if (u1 <= 0) return 0;
  if (u1 > h->units) u1 = h->units;
  switch (h->kind) {
    case JOB_BWD_FILTER: {
      const BwdFilterJob *j = (const BwdFilterJob *)h;
      int lo, hi;
      chunk_range(h->N, j->G, u1 - 1, &lo, &hi);
      return hi;
    }
    case JOB_DW_FILTER:
      return h->N;
    default:
      return u1;
  }
}

EXPORT(mp_job_units) int mp_job_units(const JobHead *h) { return h->units; }

/** Starts units [u0, u1) of a prepared job (asynchronously when there are workers). */
EXPORT(mp_job_start) void mp_job_start(JobHead *h, int u0, int u1) { job_start(h, u0, u1); }

/** Finishes the started part: the caller helps, then waits. 0, -1 (out of memory) or -2 (worker crashed). */
EXPORT(mp_job_join) int mp_job_join(JobHead *h) { return job_join(h); }

/** Completes a filter-gradient job (fixed-order sum of its partials into dw). */
EXPORT(mp_job_finish) void mp_job_finish(JobHead *h) { conv_bwd_filter_finish(h); }

EXPORT(mp_conv2d_prepare) JobHead *mp_conv2d_prepare(const float *x, const float *w, float *out, const ConvGeom *g) {
  return conv_fwd_prepare(x, w, out, g);
}
EXPORT(mp_conv2d_backward_input_prepare)
JobHead *mp_conv2d_backward_input_prepare(const float *dy, const float *w, float *dx, const ConvGeom *g) {
  return conv_bwd_input_prepare(dy, w, dx, g);
}
EXPORT(mp_conv2d_backward_filter_prepare)
JobHead *mp_conv2d_backward_filter_prepare(const float *x, const float *dy, float *dw, const ConvGeom *g) {
  return conv_bwd_filter_prepare(x, dy, dw, g);
}

/* Whole-call entry points: scratch allocated by a kernel is released when it returns. */
static int run_job(JobHead *h) {
  if (!h) return -1;
  job_start(h, 0, h->units);
  const int rc = job_join(h);
  if (rc == 0) conv_bwd_filter_finish(h);
  return rc;
}

EXPORT(mp_matmul)
int mp_matmul(const float *a, const float *b, float *c, int M, int K, int N, int transA, int transB, int accumulate) {
  u32 mark = heap_top;
  int rc = matmul_impl(a, b, c, M, K, N, transA, transB, accumulate);
  heap_top = mark;
  return rc;
}

EXPORT(mp_conv2d) int mp_conv2d(const float *x, const float *w, float *out, const ConvGeom *g) {
  u32 mark = heap_top;
  int rc = run_job(conv_fwd_prepare(x, w, out, g));
  heap_top = mark;
  return rc;
}

EXPORT(mp_conv2d_backward_input) int mp_conv2d_backward_input(const float *dy, const float *w, float *dx, const ConvGeom *g) {
  u32 mark = heap_top;
  int rc = run_job(conv_bwd_input_prepare(dy, w, dx, g));
  heap_top = mark;
  return rc;
}

EXPORT(mp_conv2d_backward_filter) int mp_conv2d_backward_filter(const float *x, const float *dy, float *dw, const ConvGeom *g) {
  u32 mark = heap_top;
  int rc = run_job(conv_bwd_filter_prepare(x, dy, dw, g));
  heap_top = mark;
  return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* pooling                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  int N, C, H, W, OH, OW, KH, KW, strideH, strideW, padH, padW;
} PoolGeom;

/* Output columns [lo, hi) whose window lies entirely inside the input width. */
INLINE void pool_interior(const PoolGeom *g, int *lo, int *hi) {
  int l = (g->padW + g->strideW - 1) / g->strideW;
  int h = g->W - g->KW + g->padW < 0 ? 0 : (g->W - g->KW + g->padW) / g->strideW + 1;
  if (h > g->OW) h = g->OW;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* x[base + l*sW] for l = 0..3 */
INLINE v128_t gather4(const float *base, int sW) {
  if (sW == 1) return wasm_v128_load(base);
  if (sW == 2) return wasm_i32x4_shuffle(wasm_v128_load(base), wasm_v128_load(base + 4), 0, 2, 4, 6);
  return wasm_f32x4_make(base[0], base[sW], base[2 * sW], base[3 * sW]);
}

static void max_pool_range(const float *x, float *out, int *argmax, const PoolGeom *g, int p0, int p1) {
  const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, HW = H * W, OHW = OH * OW;
  const int sW = g->strideW;
  int ilo, ihi;
  pool_interior(g, &ilo, &ihi);
  for (int p = p0; p < p1; p++) {
    const float *xp = x + (size_t)p * HW;
    float *op = out + (size_t)p * OHW;
    int *ap = argmax + (size_t)p * OHW;
    for (int oh = 0; oh < OH; oh++) {
      int hs = oh * g->strideH - g->padH;
      int h0 = hs > 0 ? hs : 0, h1 = hs + g->KH < H ? hs + g->KH : H;
      int ow = 0;
      for (;;) {
        /* SIMD over 4 output columns whose windows are fully inside the width */
        if (ow >= ilo && ow + 4 <= ihi && h0 < h1) {
          const int ws = ow * sW - g->padW;
          v128_t best = wasm_f32x4_splat(-__builtin_inff());
          const v128_t step = wasm_i32x4_make(0, sW, 2 * sW, 3 * sW);
          v128_t bi = wasm_i32x4_add(wasm_i32x4_splat(h0 * W + ws), step);
          for (int ih = h0; ih < h1; ih++) {
            const float *r = xp + (size_t)ih * W + ws;
            for (int kw = 0; kw < g->KW; kw++) {
              const v128_t v = gather4(r + kw, sW);
              const v128_t take = wasm_v128_or(wasm_f32x4_gt(v, best), wasm_f32x4_ne(v, v));
              const v128_t idx = wasm_i32x4_add(wasm_i32x4_splat(ih * W + ws + kw), step);
              best = wasm_v128_bitselect(v, best, take);
              bi = wasm_v128_bitselect(idx, bi, take);
            }
          }
          wasm_v128_store(op + oh * OW + ow, best);
          wasm_v128_store(ap + oh * OW + ow, bi);
          ow += 4;
          continue;
        }
        if (ow >= OW) break;
        int ws = ow * sW - g->padW;
        int w0 = ws > 0 ? ws : 0, w1 = ws + g->KW < W ? ws + g->KW : W;
        float best = -__builtin_inff();
        int bi = (h0 < h1 && w0 < w1) ? h0 * W + w0 : -1;
        for (int ih = h0; ih < h1; ih++) {
          const float *r = xp + (size_t)ih * W;
          for (int iw = w0; iw < w1; iw++) {
            float v = r[iw];
            if (v > best || v != v) {
              best = v;
              bi = ih * W + iw;
            }
          }
        }
        op[oh * OW + ow] = best;
        ap[oh * OW + ow] = bi;
        ow++;
      }
    }
  }
}

static void max_pool_backward_range(const float *dy, const int *argmax, float *dx, const PoolGeom *g, int p0, int p1) {
  const int HW = g->H * g->W, OHW = g->OH * g->OW;
  fill0(dx + (size_t)p0 * HW, (p1 - p0) * HW);
  for (int p = p0; p < p1; p++) {
    float *dxp = dx + (size_t)p * HW;
    const float *dyp = dy + (size_t)p * OHW;
    const int *ap = argmax + (size_t)p * OHW;
    for (int i = 0; i < OHW; i++) {
      int a = ap[i];
      if (a >= 0) dxp[a] += dyp[i];
    }
  }
}

static void avg_pool_range(const float *x, float *out, const PoolGeom *g, int p0, int p1) {
  const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, HW = H * W, OHW = OH * OW;
  const int sW = g->strideW;
  int ilo, ihi;
  pool_interior(g, &ilo, &ihi);
  for (int p = p0; p < p1; p++) {
    const float *xp = x + (size_t)p * HW;
    float *op = out + (size_t)p * OHW;
    for (int oh = 0; oh < OH; oh++) {
      int hs = oh * g->strideH - g->padH;
      int he = hs + g->KH < H + g->padH ? hs + g->KH : H + g->padH;
      int h0 = hs > 0 ? hs : 0, h1 = he < H ? he : H;
      int ow = 0;
      for (;;) {
        if (ow >= ilo && ow + 4 <= ihi) {
          /* interior columns: window width is KW for all 4 lanes */
          const int ws = ow * sW - g->padW;
          v128_t acc = wasm_f32x4_splat(0);
          for (int ih = h0; ih < h1; ih++) {
            const float *r = xp + (size_t)ih * W + ws;
            for (int kw = 0; kw < g->KW; kw++) acc = wasm_f32x4_add(acc, gather4(r + kw, sW));
          }
          wasm_v128_store(op + oh * OW + ow, wasm_f32x4_div(acc, wasm_f32x4_splat((float)((he - hs) * g->KW))));
          ow += 4;
          continue;
        }
        if (ow >= OW) break;
        int ws = ow * sW - g->padW;
        int we = ws + g->KW < W + g->padW ? ws + g->KW : W + g->padW;
        int w0 = ws > 0 ? ws : 0, w1 = we < W ? we : W;
        float s = 0.0f;
        for (int ih = h0; ih < h1; ih++) {
          const float *r = xp + (size_t)ih * W;
          for (int iw = w0; iw < w1; iw++) s += r[iw];
        }
        op[oh * OW + ow] = s / (float)((he - hs) * (we - ws));
        ow++;
      }
    }
  }
}

static void avg_pool_backward_range(const float *dy, float *dx, const PoolGeom *g, int p0, int p1) {
  const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, HW = H * W, OHW = OH * OW;

  fill0(dx + (size_t)p0 * HW, (p1 - p0) * HW);
  for (int p = p0; p < p1; p++) {
    float *dxp = dx + (size_t)p * HW;
    const float *dyp = dy + (size_t)p * OHW;
    for (int oh = 0; oh < OH; oh++) {
      int hs = oh * g->strideH - g->padH;
      int he = hs + g->KH < H + g->padH ? hs + g->KH : H + g->padH;
      int h0 = hs > 0 ? hs : 0, h1 = he < H ? he : H;
      for (int ow = 0; ow < OW; ow++) {
        int ws = ow * g->strideW - g->padW;
        int we = ws + g->KW < W + g->padW ? ws + g->KW : W + g->padW;
        int w0 = ws > 0 ? ws : 0, w1 = we < W ? we : W;
        float v = dyp[oh * OW + ow] / (float)((he - hs) * (we - ws));
        for (int ih = h0; ih < h1; ih++) {
          float *r = dxp + (size_t)ih * W;
          for (int iw = w0; iw < w1; iw++) r[iw] += v;
        }
      }
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* per-channel kernels (batch norm); reductions accumulate in f64x2                            */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  const float *x, *dy;
  float *out, *dx;
  int *argmax;
  const int *argmaxIn;
  const PoolGeom *g;
  int nChunks, P;
} PoolJob;

static void max_pool_chunk(void *vctx, int i, int tid) {
  PoolJob *j = (PoolJob *)vctx;
  int p0, p1;
  chunk_range(j->P, j->nChunks, i, &p0, &p1);
  max_pool_range(j->x, j->out, j->argmax, j->g, p0, p1);
}
static void max_pool_backward_chunk(void *vctx, int i, int tid) {
  PoolJob *j = (PoolJob *)vctx;
  int p0, p1;
  chunk_range(j->P, j->nChunks, i, &p0, &p1);
  max_pool_backward_range(j->dy, j->argmaxIn, j->dx, j->g, p0, p1);
}
static void avg_pool_chunk(void *vctx, int i, int tid) {
  PoolJob *j = (PoolJob *)vctx;
  int p0, p1;
  chunk_range(j->P, j->nChunks, i, &p0, &p1);
  avg_pool_range(j->x, j->out, j->g, p0, p1);
}
static void avg_pool_backward_chunk(void *vctx, int i, int tid) {
  PoolJob *j = (PoolJob *)vctx;
  int p0, p1;
  chunk_range(j->P, j->nChunks, i, &p0, &p1);
  avg_pool_backward_range(j->dy, j->dx, j->g, p0, p1);
}

static void pool_job(PoolJob *j, const PoolGeom *g) {
  j->g = g;
  j->P = g->N * g->C;
  j->nChunks = chunks_for(j->P, 2.0 * (g->H * g->W + g->OH * g->OW * g->KH * g->KW), 8);
}

EXPORT(mp_max_pool2d) void mp_max_pool2d(const float *x, float *out, int *argmax, const PoolGeom *g) {
  PoolJob j;
  pool_job(&j, g);
  j.x = x;
  j.out = out;
  j.argmax = argmax;
  par_for(max_pool_chunk, &j, j.nChunks);
}

EXPORT(mp_max_pool2d_backward) void mp_max_pool2d_backward(const float *dy, const int *argmax, float *dx, const PoolGeom *g) {
  PoolJob j;
  pool_job(&j, g);
  j.dy = dy;
  j.argmaxIn = argmax;
  j.dx = dx;
  par_for(max_pool_backward_chunk, &j, j.nChunks);
}

EXPORT(mp_avg_pool2d) void mp_avg_pool2d(const float *x, float *out, const PoolGeom *g) {
  PoolJob j;
  pool_job(&j, g);
  j.x = x;
  j.out = out;
  par_for(avg_pool_chunk, &j, j.nChunks);
}

EXPORT(mp_avg_pool2d_backward) void mp_avg_pool2d_backward(const float *dy, float *dx, const PoolGeom *g) {
  PoolJob j;
  pool_job(&j, g);
  j.dy = dy;
  j.dx = dx;
  par_for(avg_pool_backward_chunk, &j, j.nChunks);
}

/* ------------------------------------------------------------------------------------------ */
/* per-channel kernels (batch norm); reductions accumulate in f64x2                            */
/* ------------------------------------------------------------------------------------------ */

INLINE v128_t promote_hi(v128_t v) { return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3)); }

/* Σ x[i] over n floats, in double. */
static double sum_f64(const float *x, int n) {
  v128_t s0 = wasm_f64x2_splat(0), s1 = s0;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(v));
    s1 = wasm_f64x2_add(s1, promote_hi(v));
  }
  s0 = wasm_f64x2_add(s0, s1);
  double s = wasm_f64x2_extract_lane(s0, 0) + wasm_f64x2_extract_lane(s0, 1);
  for (; i < n; i++) s += (double)x[i];
  return s;
}

/* Σ (x[i]-m)² over n floats, in double. */
static double sqdev_f64(const float *x, int n, double m) {
  v128_t mv = wasm_f64x2_splat(m);
  v128_t s0 = wasm_f64x2_splat(0), s1 = s0;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t d0 = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(v), mv);
    v128_t d1 = wasm_f64x2_sub(promote_hi(v), mv);
    s0 = wasm_f64x2_add(s0, wasm_f64x2_mul(d0, d0));
    s1 = wasm_f64x2_add(s1, wasm_f64x2_mul(d1, d1));
  }
  s0 = wasm_f64x2_add(s0, s1);
  double s = wasm_f64x2_extract_lane(s0, 0) + wasm_f64x2_extract_lane(s0, 1);
  for (; i < n; i++) {
    double d = (double)x[i] - m;
    s += d * d;
  }
  return s;
}

typedef struct {
  const float *x, *dy, *mean, *scale, *shift, *invstd, *k1;
  float *out, *variance, *meanOut, *sumDy, *sumDyXhat;
  int N, C, HW, nChunks;
} ChanJob;

static void channel_moments_chunk(void *vctx, int i, int tid) {
  ChanJob *j = (ChanJob *)vctx;
  int c0, c1;
  chunk_range(j->C, j->nChunks, i, &c0, &c1);
  const int N = j->N, C = j->C, HW = j->HW;
  const double cnt = (double)N * HW;
  for (int c = c0; c < c1; c++) {
    double s = 0;
    for (int n = 0; n < N; n++) s += sum_f64(j->x + ((size_t)n * C + c) * HW, HW);
    double m = cnt > 0 ? s / cnt : 0;
    double v = 0;
    for (int n = 0; n < N; n++) v += sqdev_f64(j->x + ((size_t)n * C + c) * HW, HW, m);
    j->meanOut[c] = (float)m;
    j->variance[c] = cnt > 0 ? (float)(v / cnt) : 0.0f;
  }
}

EXPORT(mp_channel_moments) void mp_channel_moments(const float *x, float *mean, float *variance, int N, int C, int HW) {
  ChanJob j;
  j.x = x;
  j.meanOut = mean;
  j.variance = variance;
  j.N = N;
  j.C = C;
  j.HW = HW;
  j.nChunks = chunks_for(C, 4.0 * N * HW, 4);
  par_for(channel_moments_chunk, &j, j.nChunks);
}

/* out = (x - mean[c]) * scale[c] + shift[c] (+ k1[c] * dy when k1 is set), planes [p0, p1) */
static void channel_affine_range(const ChanJob *j, int p0, int p1) {
  const int C = j->C, HW = j->HW;
  for (int p = p0; p < p1; p++) {
    const int c = p % C;
    const size_t o = (size_t)p * HW;
    const float m = j->mean[c], s = j->scale[c], b = j->shift[c];
    const v128_t mv = wasm_f32x4_splat(m), sv = wasm_f32x4_splat(s), bv = wasm_f32x4_splat(b);
    const float *xp = j->x + o;
    float *op = j->out + o;
    int i = 0;
    if (j->k1) {
      const float k = j->k1[c];
      const v128_t kv = wasm_f32x4_splat(k);
      const float *dp = j->dy + o;
      for (; i + 4 <= HW; i += 4) {
        const v128_t t = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xp + i), mv), sv), bv);
        wasm_v128_store(op + i, wasm_f32x4_add(t, wasm_f32x4_mul(kv, wasm_v128_load(dp + i))));
      }
      for (; i < HW; i++) op[i] = ((xp[i] - m) * s + b) + k * dp[i];
    } else {
      for (; i + 4 <= HW; i += 4)
        wasm_v128_store(op + i, wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xp + i), mv), sv), bv));
      for (; i < HW; i++) op[i] = (xp[i] - m) * s + b;
    }
  }
}

static void channel_affine_chunk(void *vctx, int i, int tid) {
  ChanJob *j = (ChanJob *)vctx;
  int p0, p1;
  chunk_range(j->N * j->C, j->nChunks, i, &p0, &p1);
  channel_affine_range(j, p0, p1);
}

EXPORT(mp_channel_affine)
void mp_channel_affine(const float *x, const float *mean, const float *scale, const float *shift, float *out, int N, int C,
                       int HW) {
  ChanJob j;
  j.x = x;
  j.mean = mean;
  j.scale = scale;
  j.shift = shift;
  j.out = out;
  j.k1 = 0;
  j.dy = 0;
  j.N = N;
  j.C = C;
  j.HW = HW;
  j.nChunks = chunks_for(N * C, 3.0 * HW, 8);
  par_for(channel_affine_chunk, &j, j.nChunks);
}

/**
 * Batch-norm input gradient (training mode), fused:
 * dx = (x - mean[c]) * k2[c] + k3[c] + k1[c] * dy.
 */
EXPORT(mp_bn_backward_input)
void mp_bn_backward_input(const float *dy, const float *x, const float *mean, const float *k1, const float *k2,
                          const float *k3, float *dx, int N, int C, int HW) {
  ChanJob j;
  j.x = x;
  j.dy = dy;
  j.mean = mean;
  j.k1 = k1;
  j.scale = k2;
  j.shift = k3;
  j.out = dx;
  j.N = N;
  j.C = C;
  j.HW = HW;
  j.nChunks = chunks_for(N * C, 5.0 * HW, 8);
  par_for(channel_affine_chunk, &j, j.nChunks);
}

static void channel_backward_sums_chunk(void *vctx, int ci, int tid) {
  ChanJob *j = (ChanJob *)vctx;
  int c0, c1;
  chunk_range(j->C, j->nChunks, ci, &c0, &c1);
  const int N = j->N, C = j->C, HW = j->HW;
  for (int c = c0; c < c1; c++) {
    const double m = j->mean[c];
    const v128_t mv = wasm_f64x2_splat(m);
    v128_t s0 = wasm_f64x2_splat(0), s1 = s0, t0 = s0, t1 = s0;
    double s = 0, t = 0;
    for (int n = 0; n < N; n++) {
      const size_t o = ((size_t)n * C + c) * HW;
      const float *dp = j->dy + o, *xp = j->x + o;
      int i = 0;
      for (; i + 4 <= HW; i += 4) {
        v128_t d = wasm_v128_load(dp + i), xv = wasm_v128_load(xp + i);
        v128_t d0 = wasm_f64x2_promote_low_f32x4(d), d1 = promote_hi(d);
        v128_t x0 = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(xv), mv), x1 = wasm_f64x2_sub(promote_hi(xv), mv);
        s0 = wasm_f64x2_add(s0, d0);
        s1 = wasm_f64x2_add(s1, d1);
        t0 = wasm_f64x2_add(t0, wasm_f64x2_mul(d0, x0));
        t1 = wasm_f64x2_add(t1, wasm_f64x2_mul(d1, x1));
      }
      for (; i < HW; i++) {
        double d = dp[i];
        s += d;
        t += d * ((double)xp[i] - m);
      }
    }
    s0 = wasm_f64x2_add(s0, s1);
    t0 = wasm_f64x2_add(t0, t1);
    s += wasm_f64x2_extract_lane(s0, 0) + wasm_f64x2_extract_lane(s0, 1);
    t += wasm_f64x2_extract_lane(t0, 0) + wasm_f64x2_extract_lane(t0, 1);
    j->sumDy[c] = (float)s;
    j->sumDyXhat[c] = (float)(t * (double)j->invstd[c]);
  }
}

EXPORT(mp_channel_backward_sums)
void mp_channel_backward_sums(const float *dy, const float *x, const float *mean, const float *invstd, float *sumDy,
                              float *sumDyXhat, int N, int C, int HW) {
  ChanJob j;
  j.dy = dy;
  j.x = x;
  j.mean = mean;
  j.invstd = invstd;
  j.sumDy = sumDy;
  j.sumDyXhat = sumDyXhat;
  j.N = N;
  j.C = C;
  j.HW = HW;
  j.nChunks = chunks_for(C, 4.0 * N * HW, 4);
  par_for(channel_backward_sums_chunk, &j, j.nChunks);
}

/* ------------------------------------------------------------------------------------------ */
/* elementwise                                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  const float *a, *b;
  float *out;
  int n, nChunks, op;
} EwJob;

enum { EW_RELU = 0, EW_RELU_BACKWARD = 1, EW_ADD = 2 };

static void ew_chunk(void *vctx, int ci, int tid) {
  EwJob *j = (EwJob *)vctx;
  int lo, hi;
  chunk_range(j->n, j->nChunks, ci, &lo, &hi);
  const float *a = j->a, *b = j->b;
  float *o = j->out;
  const v128_t z = wasm_f32x4_splat(0);
  int i = lo;
  switch (j->op) {
    case EW_RELU: /* a > 0 ? a : 0 (NaN and -0 give +0) */
      for (; i + 4 <= hi; i += 4) {
        const v128_t v = wasm_v128_load(a + i);
        wasm_v128_store(o + i, wasm_v128_and(v, wasm_f32x4_gt(v, z)));
      }
      for (; i < hi; i++) o[i] = a[i] > 0 ? a[i] : 0.0f;
      break;
    case EW_RELU_BACKWARD: /* a (the relu output) > 0 ? b : 0 */
      for (; i + 4 <= hi; i += 4)
        wasm_v128_store(o + i, wasm_v128_and(wasm_v128_load(b + i), wasm_f32x4_gt(wasm_v128_load(a + i), z)));
      for (; i < hi; i++) o[i] = a[i] > 0 ? b[i] : 0.0f;
      break;
    default: /* EW_ADD */
      for (; i + 4 <= hi; i += 4) wasm_v128_store(o + i, wasm_f32x4_add(wasm_v128_load(a + i), wasm_v128_load(b + i)));
      for (; i < hi; i++) o[i] = a[i] + b[i];
      break;
  }
}

/** op 0: out = relu(a); op 1: out = a > 0 ? b : 0; op 2: out = a + b. n elements. */
EXPORT(mp_elementwise) void mp_elementwise(int op, const float *a, const float *b, float *out, int n) {
  EwJob j;
  j.a = a;
  j.b = b;
  j.out = out;
  j.n = n;
  j.op = op;
  j.nChunks = chunks_for(n, 8.0, 4);
  par_for(ew_chunk, &j, j.nChunks);
}
