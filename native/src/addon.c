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
 */
#include <node_api.h>
#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDON_VERSION "0.1.0"

/* Floats of im2col scratch per batch (2 MiB): enough images per GEMM for the small 8x8 maps, while the
 * column matrix stays cache-resident (measured: 32 MiB batches ran the 16@32² convs ~35% slower). */
#ifndef COL_BUDGET
#define COL_BUDGET ((size_t)512 << 10)
#endif

typedef struct {
  int N, C, H, W, O, KH, KW, OH, OW, sH, sW, pH, pW, dH, dW, G;
} geom_t;

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

/* Images per batch so that `per_image` scratch floats per image stay within COL_BUDGET. */
static int batch_images(const geom_t* g, size_t per_image) {
  size_t nb = per_image == 0 ? (size_t)g->N : COL_BUDGET / per_image;
  if (nb < 1) nb = 1;
  if (nb > (size_t)g->N) nb = (size_t)g->N;
  /* BLAS dimensions are int */
  const size_t OHW = (size_t)g->OH * g->OW;
  while (nb > 1 && nb * OHW > (size_t)INT_MAX) nb /= 2;
  return (int)nb;
}

/* ------------------------------------------------------------------ sgemm */

/* sgemm(a, b, c, M, K, N, transA, transB, accumulate): C[M,N] = op(A)·op(B) (+ C). */
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) {
    napi_throw_type_error(env, NULL, "metaprune-native: sgemm(a, b, c, M, K, N, transA, transB, accumulate)");
    return NULL;
  }
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
  cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a,
              tA ? M : K, b, tB ? K : N, acc ? 1.0f : 0.0f, c, N);
  return NULL;
}

/* ------------------------------------------------------------------ convolutions */

/* conv2d(x, w, out, geom): out[N,O,OH,OW] = conv(x[N,C,H,W], w[O,C/G,KH,KW]). */
static napi_value js_conv2d(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *w, *out;
  size_t lx, lw, lo;
  geom_t g;
  if (argc < 4 || !get_f32(env, argv[0], "x", &x, &lx) || !get_f32(env, argv[1], "w", &w, &lw) ||
      !get_f32(env, argv[2], "out", &out, &lo) || !get_geom(env, argv[3], &g))
    return NULL;
  const int Cg = g.C / g.G, Og = g.O / g.G;
  const size_t CK = (size_t)Cg * g.KH * g.KW, OHW = (size_t)g.OH * g.OW;
  const size_t nOut = (size_t)g.N * g.O * OHW;
  if (!need(env, "x", lx, (size_t)g.N * g.C * g.H * g.W) || !need(env, "w", lw, (size_t)g.O * CK) || !need(env, "out", lo, nOut))
    return NULL;
  if (nOut == 0) return NULL;
  if (CK == 0) {
    memset(out, 0, sizeof(float) * nOut);
    return NULL;
  }
  const int nb = batch_images(&g, CK * OHW);
  const size_t colN = CK * nb * OHW, tmpN = nb > 1 ? (size_t)Og * nb * OHW : 0;
  float* col = malloc(sizeof(float) * colN);
  float* tmp = tmpN ? malloc(sizeof(float) * tmpN) : NULL;
  if (col == NULL || (tmpN && tmp == NULL)) {
    free(col);
    free(tmp);
    throw_oom(env, sizeof(float) * (colN + tmpN));
    return NULL;
  }
  for (int n0 = 0; n0 < g.N; n0 += nb) {
    const int b = g.N - n0 < nb ? g.N - n0 : nb;
    const size_t cols = (size_t)b * OHW;
    for (int gi = 0; gi < g.G; gi++) {
      im2col(x, &g, gi, n0, b, col);
      const float* wg = w + (size_t)gi * Og * CK;
      if (b == 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Og, (int)OHW, (int)CK, 1.0f, wg, (int)CK, col, (int)OHW, 0.0f,
                    out + ((size_t)n0 * g.O + (size_t)gi * Og) * OHW, (int)OHW);
        continue;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Og, (int)cols, (int)CK, 1.0f, wg, (int)CK, col, (int)cols, 0.0f, tmp,
                  (int)cols);
      /* [Og, b*OHW] -> out[n0+bb, gi*Og + o, :] */
      for (int o = 0; o < Og; o++)
        for (int bb = 0; bb < b; bb++)
          memcpy(out + ((size_t)(n0 + bb) * g.O + (size_t)gi * Og + o) * OHW, tmp + (size_t)o * cols + (size_t)bb * OHW,
                 sizeof(float) * OHW);
    }
  }
  free(col);
  free(tmp);
  return NULL;
}

/* Gathers dy[n0+bb, gi*Og + o, :] into dyb[o, bb*OHW + :]. */
static void gather_dy(const float* dy, const geom_t* g, int gi, int n0, int b, float* dyb) {
  const int Og = g->O / g->G;
  const size_t OHW = (size_t)g->OH * g->OW, cols = (size_t)b * OHW;
  for (int o = 0; o < Og; o++)
    for (int bb = 0; bb < b; bb++)
      memcpy(dyb + (size_t)o * cols + (size_t)bb * OHW, dy + ((size_t)(n0 + bb) * g->O + (size_t)gi * Og + o) * OHW,
             sizeof(float) * OHW);
}

/* conv2dBackwardInput(dy, w, dx, geom): overwrites dx[N,C,H,W]. */
static napi_value js_conv2d_backward_input(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *dy, *w, *dx;
  size_t ldy, lw, ldx;
  geom_t g;
  if (argc < 4 || !get_f32(env, argv[0], "dy", &dy, &ldy) || !get_f32(env, argv[1], "w", &w, &lw) ||
      !get_f32(env, argv[2], "dx", &dx, &ldx) || !get_geom(env, argv[3], &g))
    return NULL;
  const int Cg = g.C / g.G, Og = g.O / g.G;
  const size_t CK = (size_t)Cg * g.KH * g.KW, OHW = (size_t)g.OH * g.OW;
  const size_t nX = (size_t)g.N * g.C * g.H * g.W;
  if (!need(env, "dy", ldy, (size_t)g.N * g.O * OHW) || !need(env, "w", lw, (size_t)g.O * CK) || !need(env, "dx", ldx, nX))
    return NULL;
  if (nX == 0) return NULL;
  memset(dx, 0, sizeof(float) * nX);
  if (CK == 0 || OHW == 0 || Og == 0) return NULL;
  const int nb = batch_images(&g, (CK + Og) * OHW);
  const size_t colN = CK * nb * OHW, dybN = nb > 1 ? (size_t)Og * nb * OHW : 0;
  float* dcol = malloc(sizeof(float) * colN);
  float* dyb = dybN ? malloc(sizeof(float) * dybN) : NULL;
  if (dcol == NULL || (dybN && dyb == NULL)) {
    free(dcol);
    free(dyb);
    throw_oom(env, sizeof(float) * (colN + dybN));
    return NULL;
  }
  for (int n0 = 0; n0 < g.N; n0 += nb) {
    const int b = g.N - n0 < nb ? g.N - n0 : nb;
    const size_t cols = (size_t)b * OHW;
    for (int gi = 0; gi < g.G; gi++) {
      const float* src;
      if (b == 1) {
        src = dy + ((size_t)n0 * g.O + (size_t)gi * Og) * OHW;
      } else {
        gather_dy(dy, &g, gi, n0, b, dyb);
        src = dyb;
      }
      /* dcol[CK, cols] = Wgᵀ · dy_g */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)CK, (int)cols, Og, 1.0f, w + (size_t)gi * Og * CK, (int)CK, src,
                  (int)cols, 0.0f, dcol, (int)cols);
      col2im(dcol, &g, gi, n0, b, dx);
    }
  }
  free(dcol);
  free(dyb);
  return NULL;
}

/* conv2dBackwardFilter(x, dy, dw, geom): overwrites dw[O,C/G,KH,KW]. */
static napi_value js_conv2d_backward_filter(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *dy, *dw;
  size_t lx, ldy, ldw;
  geom_t g;
  if (argc < 4 || !get_f32(env, argv[0], "x", &x, &lx) || !get_f32(env, argv[1], "dy", &dy, &ldy) ||
      !get_f32(env, argv[2], "dw", &dw, &ldw) || !get_geom(env, argv[3], &g))
    return NULL;
  const int Cg = g.C / g.G, Og = g.O / g.G;
  const size_t CK = (size_t)Cg * g.KH * g.KW, OHW = (size_t)g.OH * g.OW;
  const size_t nW = (size_t)g.O * CK;
  if (!need(env, "x", lx, (size_t)g.N * g.C * g.H * g.W) || !need(env, "dy", ldy, (size_t)g.N * g.O * OHW) || !need(env, "dw", ldw, nW))
    return NULL;
  if (nW == 0) return NULL;
  memset(dw, 0, sizeof(float) * nW);
  if (g.N == 0 || OHW == 0) return NULL;
  const int nb = batch_images(&g, (CK + Og) * OHW);
  const size_t colN = CK * nb * OHW, dybN = nb > 1 ? (size_t)Og * nb * OHW : 0;
  float* col = malloc(sizeof(float) * colN);
  float* dyb = dybN ? malloc(sizeof(float) * dybN) : NULL;
  if (col == NULL || (dybN && dyb == NULL)) {
    free(col);
    free(dyb);
    throw_oom(env, sizeof(float) * (colN + dybN));
    return NULL;
  }
  for (int n0 = 0; n0 < g.N; n0 += nb) {
    const int b = g.N - n0 < nb ? g.N - n0 : nb;
    const size_t cols = (size_t)b * OHW;
    for (int gi = 0; gi < g.G; gi++) {
      im2col(x, &g, gi, n0, b, col);
      const float* src;
      if (b == 1) {
        src = dy + ((size_t)n0 * g.O + (size_t)gi * Og) * OHW;
      } else {
        gather_dy(dy, &g, gi, n0, b, dyb);
        src = dyb;
      }
      /* dWg[Og, CK] += dy_g[Og, cols] · colᵀ */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Og, (int)CK, (int)cols, 1.0f, src, (int)cols, col, (int)cols, 1.0f,
                  dw + (size_t)gi * Og * CK, (int)CK);
    }
  }
  free(col);
  free(dyb);
  return NULL;
}

/* ------------------------------------------------------------------ threads / info */

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int n = 0;
  if (argc < 1 || !get_int(env, argv[0], "n", &n)) return NULL;
  if (n < 1) {
    napi_throw_range_error(env, NULL, "metaprune-native: thread count must be >= 1");
    return NULL;
  }
  openblas_set_num_threads(n);
  return NULL;
}

static napi_value js_get_threads(napi_env env, napi_callback_info info) {
  napi_value r;
  NAPI_OK(napi_create_int32(env, openblas_get_num_threads(), &r));
  return r;
}

static napi_value make_string(napi_env env, const char* s) {
  napi_value v;
  if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) != napi_ok) return NULL;
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  char blas[256];
  snprintf(blas, sizeof blas, "%s; core %s", openblas_get_config(), openblas_get_corename());
  napi_property_descriptor props[] = {
      {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, js_conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackwardInput", NULL, js_conv2d_backward_input, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackwardFilter", NULL, js_conv2d_backward_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, js_get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"version", NULL, NULL, NULL, NULL, make_string(env, ADDON_VERSION), napi_enumerable, NULL},
      {"blas", NULL, NULL, NULL, NULL, make_string(env, blas), napi_enumerable, NULL},
  };
  NAPI_OK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
