/*
 * oneDNN convolutions (see dnnl_conv.h). Every primitive is created with "any" layouts so oneDNN
 * picks its fastest blocked formats (nChw16c, OIhw16i16o, ... on AVX-512); the caller's plain
 * NCHW / OIHW arrays are reordered into scratch buffers and back around each call, as PyTorch does
 * for ordinary (non-mkldnn) CPU tensors. Primitives and reorders are cached per (kind, geometry,
 * thread count) — a training loop sees the same few geometries every step — in a small table
 * evicted oldest-first. State is per calling thread (metaprune's pipeline trains zoo models in
 * worker threads, each converting its own convolutions): its own engine, stream, cache and one
 * scratch arena that holds the reordered tensors and oneDNN's scratchpad of the running call, so
 * memory stays at the largest single call rather than growing with the cache.
 *
 * OpenMP threads: oneDNN (Debian's libdnnl2 is an OpenMP build) uses omp_get_max_threads() of the
 * calling thread; the thread count is part of the cache key because oneDNN's kernels balance their
 * work for the count seen at creation.
 */
#define _POSIX_C_SOURCE 200809L /* posix_memalign under -std=c11 */
#include "dnnl_conv.h"

#ifndef MP_DNNL

int dnnl_conv(dnnl_conv_kind_t kind, const geom_t* g, const float* a, const float* b, float* out, int threads) {
  return 0;
}
int dnnl_conv_backward(const geom_t* g, const float* dy, const float* w, const float* x, float* dx, float* dw,
                       int threads) {
  return 0;
}
int dnnl_conv_compiled(void) { return 0; }
void dnnl_conv_enable(int on) {}
int dnnl_conv_enabled(void) { return 0; }

#else

#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SIZE 48
/* "auto": oneDNN picks Winograd where it pays (3x3 stride 1 with 32+ channels: forward and input
 * gradient ~1.7-2x the direct kernels' GFLOP/s here; error vs the reference 3e-7..5e-7 of max |y|,
 * like the wasm Winograd), the direct kernels elsewhere. */
#define CONV_ALG dnnl_convolution_auto
#define ALIGN 64

/* One tensor of a primitive: the caller's plain layout, oneDNN's layout, and the reorder between. */
typedef struct {
  int arg;                  /* DNNL_ARG_* of the convolution primitive */
  dnnl_memory_t user;       /* caller's array (handle set per call) */
  dnnl_memory_t inner;      /* oneDNN's layout (handle in the arena), NULL when it is the caller's */
  dnnl_primitive_t reorder; /* user -> inner for inputs, inner -> user for the output */
  size_t bytes;             /* arena bytes of `inner` */
} port_t;

typedef struct {
  int used, ok; /* ok = 0: oneDNN rejected this geometry (cached so the fallback is immediate) */
  dnnl_conv_kind_t kind;
  geom_t g;
  int threads;
  unsigned long stamp;
  dnnl_primitive_t prim;
  port_t port[3];        /* a, b, out in dnnl_conv's argument order */
  dnnl_memory_t scratch; /* oneDNN's scratchpad (handle in the arena), NULL when it needs none */
  size_t scratch_bytes;
} entry_t;

typedef struct {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  entry_t cache[CACHE_SIZE];
  unsigned long clock;
  char* arena;
  size_t arena_bytes;
} state_t;

static int enabled = 1;
static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;
static int state_key_ok = 0;

int dnnl_conv_compiled(void) { return 1; }
void dnnl_conv_enable(int on) { __atomic_store_n(&enabled, on ? 1 : 0, __ATOMIC_RELAXED); }
int dnnl_conv_enabled(void) { return __atomic_load_n(&enabled, __ATOMIC_RELAXED); }

#define TRY(call)                          \
  do {                                     \
    if ((call) != dnnl_success) goto fail; \
  } while (0)

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

static void act_md(dnnl_memory_desc_t* md, int N, int C, int H, int W, dnnl_format_tag_t tag) {
  const dnnl_dims_t d = {N, C, H, W};
  dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, tag);
}

static void wei_md(dnnl_memory_desc_t* md, const geom_t* g, int any) {
  if (g->G == 1) {
    const dnnl_dims_t d = {g->O, g->C, g->KH, g->KW};
    dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, any ? dnnl_format_tag_any : dnnl_oihw);
  } else {
    const dnnl_dims_t d = {g->G, g->O / g->G, g->C / g->G, g->KH, g->KW};
    dnnl_memory_desc_init_by_tag(md, 5, d, dnnl_f32, any ? dnnl_format_tag_any : dnnl_goihw);
  }
}

/* Fills the convolution descriptor of `kind` for geometry g with "any" layouts. */
static dnnl_status_t conv_desc(dnnl_convolution_desc_t* cd, dnnl_conv_kind_t kind, const geom_t* g) {
  dnnl_memory_desc_t x, w, y;
  act_md(&x, g->N, g->C, g->H, g->W, dnnl_format_tag_any);
  act_md(&y, g->N, g->O, g->OH, g->OW, dnnl_format_tag_any);
  wei_md(&w, g, 1);
  const dnnl_dims_t strides = {g->sH, g->sW}, dil = {g->dH - 1, g->dW - 1}, pl = {g->pH, g->pW};
  /* right padding that makes oneDNN's output size equal OH, OW */
  const dnnl_dims_t pr = {(g->OH - 1) * g->sH + (g->KH - 1) * g->dH + 1 - g->H - g->pH,
                          (g->OW - 1) * g->sW + (g->KW - 1) * g->dW + 1 - g->W - g->pW};
  if (pr[0] < 0 || pr[1] < 0) return dnnl_unimplemented;
  switch (kind) {
    case DNNL_FWD:
      return dnnl_dilated_convolution_forward_desc_init(cd, dnnl_forward_training, CONV_ALG, &x, &w, NULL,
                                                        &y, strides, dil, pl, pr);
    case DNNL_BWD_DATA:
      return dnnl_dilated_convolution_backward_data_desc_init(cd, CONV_ALG, &x, &w, &y, strides, dil, pl,
                                                              pr);
    default:
      return dnnl_dilated_convolution_backward_weights_desc_init(cd, CONV_ALG, &x, &w, NULL, &y, strides,
                                                                 dil, pl, pr);
  }
}

/* Sets up port p: the caller's layout `user_md`, oneDNN's `inner_md`; input = reorder user -> inner. */
static int port_init(state_t* st, port_t* p, int arg, const dnnl_memory_desc_t* user_md,
                     const dnnl_memory_desc_t* inner_md, int input) {
  dnnl_primitive_desc_t rpd = NULL;
  p->arg = arg;
  TRY(dnnl_memory_create(&p->user, user_md, st->engine, DNNL_MEMORY_NONE));
  if (dnnl_memory_desc_equal(user_md, inner_md)) return 1;
  TRY(dnnl_memory_create(&p->inner, inner_md, st->engine, DNNL_MEMORY_NONE));
  p->bytes = round_up(dnnl_memory_desc_get_size(inner_md));
  TRY(input ? dnnl_reorder_primitive_desc_create(&rpd, user_md, st->engine, inner_md, st->engine, NULL)
            : dnnl_reorder_primitive_desc_create(&rpd, inner_md, st->engine, user_md, st->engine, NULL));
  TRY(dnnl_primitive_create(&p->reorder, rpd));
  dnnl_primitive_desc_destroy(rpd);
  return 1;
fail:
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  return 0;
}

static void entry_free(entry_t* e) {
  if (e->prim) dnnl_primitive_destroy(e->prim);
  if (e->scratch) dnnl_memory_destroy(e->scratch);
  for (int i = 0; i < 3; i++) {
    port_t* p = &e->port[i];
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
    if (p->inner) dnnl_memory_destroy(p->inner);
    if (p->user) dnnl_memory_destroy(p->user);
  }
  memset(e, 0, sizeof *e);
}

/* Creates the primitive and ports of e (kind, g set); e->ok = 0 when oneDNN cannot. */
static void entry_build(state_t* st, entry_t* e) {
  const geom_t* g = &e->g;
  dnnl_convolution_desc_t cd, fd;
  dnnl_primitive_desc_t pd = NULL, hint = NULL;
  dnnl_primitive_attr_t attr = NULL;
  e->ok = 0;
  TRY(dnnl_primitive_attr_create(&attr));
  TRY(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  TRY(conv_desc(&cd, e->kind, g));
  if (e->kind != DNNL_FWD) {
    TRY(conv_desc(&fd, DNNL_FWD, g));
    TRY(dnnl_primitive_desc_create(&hint, &fd, NULL, st->engine, NULL));
  }
  TRY(dnnl_primitive_desc_create(&pd, &cd, attr, st->engine, hint));
  TRY(dnnl_primitive_create(&e->prim, pd));
  const dnnl_memory_desc_t* sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  if (sp != NULL && dnnl_memory_desc_get_size(sp) > 0) {
    TRY(dnnl_memory_create(&e->scratch, sp, st->engine, DNNL_MEMORY_NONE));
    e->scratch_bytes = round_up(dnnl_memory_desc_get_size(sp));
  }

  dnnl_memory_desc_t x, w, y;
  act_md(&x, g->N, g->C, g->H, g->W, dnnl_nchw);
  act_md(&y, g->N, g->O, g->OH, g->OW, dnnl_nchw);
  wei_md(&w, g, 0);
#define Q(what) dnnl_primitive_desc_query_md(pd, what, 0)
  int ok;
  switch (e->kind) {
    case DNNL_FWD:
      ok = port_init(st, &e->port[0], DNNL_ARG_SRC, &x, Q(dnnl_query_src_md), 1) &&
           port_init(st, &e->port[1], DNNL_ARG_WEIGHTS, &w, Q(dnnl_query_weights_md), 1) &&
           port_init(st, &e->port[2], DNNL_ARG_DST, &y, Q(dnnl_query_dst_md), 0);
      break;
    case DNNL_BWD_DATA:
      ok = port_init(st, &e->port[0], DNNL_ARG_DIFF_DST, &y, Q(dnnl_query_diff_dst_md), 1) &&
           port_init(st, &e->port[1], DNNL_ARG_WEIGHTS, &w, Q(dnnl_query_weights_md), 1) &&
           port_init(st, &e->port[2], DNNL_ARG_DIFF_SRC, &x, Q(dnnl_query_diff_src_md), 0);
      break;
    default:
      ok = port_init(st, &e->port[0], DNNL_ARG_SRC, &x, Q(dnnl_query_src_md), 1) &&
           port_init(st, &e->port[1], DNNL_ARG_DIFF_DST, &y, Q(dnnl_query_diff_dst_md), 1) &&
           port_init(st, &e->port[2], DNNL_ARG_DIFF_WEIGHTS, &w, Q(dnnl_query_diff_weights_md), 0);
  }
#undef Q
  if (!ok) goto fail;
  e->ok = 1;
fail:
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (hint) dnnl_primitive_desc_destroy(hint);
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (!e->ok) {
    /* keep only the key: later calls with this geometry fall back at once */
    entry_t key = {.used = 1, .kind = e->kind, .g = e->g, .threads = e->threads, .stamp = e->stamp};
    entry_free(e);
    *e = key;
  }
}

static entry_t* lookup(state_t* st, dnnl_conv_kind_t kind, const geom_t* g, int threads) {
  entry_t* victim = &st->cache[0];
  for (int i = 0; i < CACHE_SIZE; i++) {
    entry_t* e = &st->cache[i];
    if (e->used && e->kind == kind && e->threads == threads && memcmp(&e->g, g, sizeof *g) == 0) {
      e->stamp = ++st->clock;
      return e;
    }
    if (!e->used || (victim->used && e->stamp < victim->stamp)) victim = e;
  }
  entry_free(victim);
  victim->used = 1;
  victim->kind = kind;
  victim->g = *g;
  victim->threads = threads;
  victim->stamp = ++st->clock;
  entry_build(st, victim);
  return victim;
}

/* Arena bytes e needs: its reordered tensors and its scratchpad. */
static size_t entry_bytes(const entry_t* e) {
  size_t need = e->scratch_bytes;
  for (int i = 0; i < 3; i++) need += e->port[i].bytes;
  return need;
}

static int grow_arena(state_t* st, size_t need) {
  if (need <= st->arena_bytes) return 1;
  free(st->arena);
  st->arena = NULL;
  st->arena_bytes = 0;
  void* p = NULL;
  if (posix_memalign(&p, ALIGN, need) != 0) return 0;
  st->arena = p;
  st->arena_bytes = need;
  return 1;
}

/* Points e's reordered tensors and scratchpad into the arena at `at` (entry_bytes(e) bytes). */
static int bind(entry_t* e, char* at) {
  for (int i = 0; i < 3; i++) {
    port_t* p = &e->port[i];
    if (p->inner == NULL) continue;
    if (dnnl_memory_set_data_handle(p->inner, at) != dnnl_success) return 0;
    at += p->bytes;
  }
  return e->scratch == NULL || dnnl_memory_set_data_handle(e->scratch, at) == dnnl_success;
}

static int run(state_t* st, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t* args) {
  return dnnl_primitive_execute(prim, st->stream, nargs, args) == dnnl_success;
}

/* Submits e on ptr = {a, b, out} (bound); inputs whose bit is set in `ready` are already reordered. */
static int submit(state_t* st, entry_t* e, void* const ptr[3], int ready) {
  dnnl_exec_arg_t args[4];
  int nargs = 3;
  for (int i = 0; i < 3; i++) {
    port_t* p = &e->port[i];
    if (dnnl_memory_set_data_handle(p->user, ptr[i]) != dnnl_success) return 0;
    args[i] = (dnnl_exec_arg_t){p->arg, p->inner ? p->inner : p->user};
    if (i < 2 && p->reorder && !(ready & (1 << i))) {
      const dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, p->user}, {DNNL_ARG_TO, p->inner}};
      if (!run(st, p->reorder, 2, r)) return 0;
    }
  }
  if (e->scratch) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->scratch};
  if (!run(st, e->prim, nargs, args)) return 0;
  port_t* o = &e->port[2];
  if (o->reorder) {
    const dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, o->inner}, {DNNL_ARG_TO, o->user}};
    if (!run(st, o->reorder, 2, r)) return 0;
  }
  return 1;
}

static int execute(state_t* st, entry_t* e, const float* a, const float* b, float* out) {
  void* const ptr[3] = {(void*)a, (void*)b, out};
  return grow_arena(st, entry_bytes(e)) && bind(e, st->arena) && submit(st, e, ptr, 0) &&
         dnnl_stream_wait(st->stream) == dnnl_success;
}

/* Whether two ports hold their tensor in the same oneDNN layout (so one reorder can serve both). */
static int same_inner(const port_t* p, const port_t* q) {
  const dnnl_memory_desc_t *a = NULL, *b = NULL;
  return p->inner && q->inner && dnnl_memory_get_memory_desc(p->inner, &a) == dnnl_success &&
         dnnl_memory_get_memory_desc(q->inner, &b) == dnnl_success && dnnl_memory_desc_equal(a, b);
}

static void state_free(void* p) {
  state_t* st = p;
  for (int i = 0; i < CACHE_SIZE; i++) entry_free(&st->cache[i]);
  if (st->stream) dnnl_stream_destroy(st->stream);
  if (st->engine) dnnl_engine_destroy(st->engine);
  free(st->arena);
  free(st);
}

static void make_key(void) { state_key_ok = pthread_key_create(&state_key, state_free) == 0; }

/* This thread's state (created on first use); NULL when oneDNN has no CPU engine. */
static state_t* thread_state(void) {
  pthread_once(&state_once, make_key);
  if (!state_key_ok) return NULL;
  state_t* st = pthread_getspecific(state_key);
  if (st != NULL) return st;
  st = calloc(1, sizeof *st);
  if (st == NULL) return NULL;
  if (dnnl_engine_create(&st->engine, dnnl_cpu, 0) != dnnl_success ||
      dnnl_stream_create(&st->stream, st->engine, dnnl_stream_default_flags) != dnnl_success ||
      pthread_setspecific(state_key, st) != 0) {
    state_free(st);
    return NULL;
  }
  return st;
}

int dnnl_conv(dnnl_conv_kind_t kind, const geom_t* g, const float* a, const float* b, float* out, int threads) {
  if (!dnnl_conv_enabled()) return 0;
  state_t* st = thread_state();
  if (st == NULL) return 0;
  omp_set_num_threads(threads);
  entry_t* e = lookup(st, kind, g, threads);
  return e->ok && execute(st, e, a, b, out);
}

int dnnl_conv_backward(const geom_t* g, const float* dy, const float* w, const float* x, float* dx, float* dw,
                       int threads) {
  if (!dnnl_conv_enabled()) return 0;
  state_t* st = thread_state();
  if (st == NULL) return 0;
  omp_set_num_threads(threads);
  entry_t* ed = lookup(st, DNNL_BWD_DATA, g, threads);
  entry_t* ew = lookup(st, DNNL_BWD_WEIGHTS, g, threads);
  /* (the second lookup cannot evict the first: it was just stamped the most recent) */
  if (!ed->ok || !ew->ok) return 0;
  const size_t nd = entry_bytes(ed);
  if (!grow_arena(st, nd + entry_bytes(ew)) || !bind(ed, st->arena) || !bind(ew, st->arena + nd)) return 0;
  /* dy in oneDNN's layout once for both gradients, when both primitives want the same layout */
  const int share = same_inner(&ed->port[0], &ew->port[1]);
  if (share) {
    void* h = NULL;
    if (dnnl_memory_get_data_handle(ed->port[0].inner, &h) != dnnl_success ||
        dnnl_memory_set_data_handle(ew->port[1].inner, h) != dnnl_success)
      return 0;
  }
  void* const pd[3] = {(void*)dy, (void*)w, dx};
  void* const pw[3] = {(void*)x, (void*)dy, dw};
  return submit(st, ed, pd, 0) && submit(st, ew, pw, share ? 2 : 0) && dnnl_stream_wait(st->stream) == dnnl_success;
}

#endif
