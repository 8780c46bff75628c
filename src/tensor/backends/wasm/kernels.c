/*
 * metaprune WebAssembly kernels (float32, SIMD128). No libc.
 *
 * Build: tools/build-wasm.sh  (clang --target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib ...)
 *
 * Memory model: a bump allocator over the linear memory above __heap_base. The JS side calls
 * mp_reset() before each kernel call, mp_alloc()s its inputs/outputs and copies data in; kernels
 * bump-allocate their own scratch (im2col / packing buffers) after that. All pointers are byte
 * offsets into the (growable) linear memory. Kernels that allocate return 0 on success and -1
 * when memory could not be grown.
 *
 * Semantics mirror src/tensor/kernels.ts (PyTorch conventions).
 */
#include <wasm_simd128.h>

typedef unsigned int u32;
typedef unsigned long size_t;

#define EXPORT(name) __attribute__((export_name(#name)))
#define INLINE static inline __attribute__((always_inline))

extern unsigned char __heap_base;

/* ------------------------------------------------------------------------------------------ */
/* allocator                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static u32 heap_top = 0;

EXPORT(mp_reset) void mp_reset(void) { heap_top = (u32)(size_t)&__heap_base; }

/** 64-byte aligned bump allocation; grows memory when needed; returns 0 on failure. */
EXPORT(mp_alloc) u32 mp_alloc(u32 bytes) {
  if (heap_top == 0) mp_reset();
  u32 p = (heap_top + 63u) & ~63u;
  unsigned long long end = (unsigned long long)p + bytes;
  if (end > 0xFFFF0000ull) return 0;
  u32 have = (u32)__builtin_wasm_memory_size(0) * 65536u;
  if (end > have) {
    u32 need = (u32)((end - have + 65535u) / 65536u);
    if (__builtin_wasm_memory_grow(0, need) == (size_t)-1) return 0;
  }
  heap_top = (u32)end;
  return p;
}

EXPORT(mp_heap_base) u32 mp_heap_base(void) { return (u32)(size_t)&__heap_base; }

static void *salloc(u32 bytes) { return (void *)(size_t)mp_alloc(bytes); }

static void fill0(float *p, int n) {
  if (n > 0) __builtin_memset(p, 0, (size_t)n * 4);
}

/* ------------------------------------------------------------------------------------------ */
/* GEMM: C[M,N] += op(A)[M,K] · op(B)[K,N]                                                     */
/*   A(i,k) = A[i*rsA + k*csA], B(k,j) = B[k*rsB + j*csB], C row-major with leading dim ldc.     */
/* BLIS-style: pack B panels (KC x NC, NR-wide strips) and A blocks (MC x KC, MR-tall strips),   */
/* MR x NR register-tiled f32x4 micro-kernel.                                                   */
/* ------------------------------------------------------------------------------------------ */

#ifndef MR
#define MR 4
#endif
#define NR 8
#define KC 256
#define MC 128
#define NC 2048
#ifndef DIRECT_B_MAX_M
#define DIRECT_B_MAX_M 64
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

/* Pack B(k0.., j0..) block of kc x nc into NR strips: dst[strip][k][NR], zero padded. */
static void pack_b(const float *B, int rsB, int csB, int k0, int kc, int j0, int nc, float *dst) {
  for (int js = 0; js < nc; js += NR) {
    int nr = nc - js < NR ? nc - js : NR;
    const float *src = B + (size_t)k0 * rsB + (size_t)(j0 + js) * csB;
    if (csB == 1 && nr == NR) {
      for (int k = 0; k < kc; k++) {
        const float *s = src + (size_t)k * rsB;
        wasm_v128_store(dst, wasm_v128_load(s));
        wasm_v128_store(dst + 4, wasm_v128_load(s + 4));
        dst += NR;
      }
    } else if (rsB == 1 && nr == NR) {
      /* transposed storage: column j contiguous over k. Transpose 4x4 blocks. */
      const float *s0 = src, *s1 = src + csB, *s2 = src + 2 * csB, *s3 = src + 3 * csB;
      const float *s4 = src + 4 * csB, *s5 = src + 5 * csB, *s6 = src + 6 * csB, *s7 = src + 7 * csB;
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
#if MR == 4
        wasm_v128_store(dst, wasm_v128_load(s));
#else
        for (int i = 0; i < MR; i++) dst[i] = s[i];
#endif
        dst += MR;
      }
    } else if (csA == 1 && mr == MR) {
      const float *r0 = src, *r1 = src + rsA, *r2 = src + 2 * rsA, *r3 = src + 3 * rsA;
#if MR == 4
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
#else
      for (int k = 0; k < kc; k++) {
        for (int i = 0; i < MR; i++) dst[i] = src[(size_t)i * rsA + k];
        dst += MR;
      }
      (void)r0; (void)r1; (void)r2; (void)r3;
#endif
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

/* C[MR x NR] (+)= Ap[kc x MR]ᵀ-strip · Bp[kc x NR]-strip; full tile, ldc stride. */
INLINE void micro_kernel_s(int kc, const float *Ap, const float *Bp, int ldb, float *C, int ldc) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00;
  v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
#if MR == 6
  v128_t c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#endif
  for (int k = 0; k < kc; k++) {
    v128_t b0 = wasm_v128_load(Bp), b1 = wasm_v128_load(Bp + 4);
    v128_t a;
    a = wasm_v128_load32_splat(Ap + 0); FMA(c00, a, b0); FMA(c01, a, b1);
    a = wasm_v128_load32_splat(Ap + 1); FMA(c10, a, b0); FMA(c11, a, b1);
    a = wasm_v128_load32_splat(Ap + 2); FMA(c20, a, b0); FMA(c21, a, b1);
    a = wasm_v128_load32_splat(Ap + 3); FMA(c30, a, b0); FMA(c31, a, b1);
#if MR == 6
    a = wasm_v128_load32_splat(Ap + 4); FMA(c40, a, b0); FMA(c41, a, b1);
    a = wasm_v128_load32_splat(Ap + 5); FMA(c50, a, b0); FMA(c51, a, b1);
#endif
    Ap += MR;
    Bp += ldb;
  }
#define UPD(r, c0, c1)                                                            \
  do {                                                                            \
    float *p = C + (size_t)(r) * ldc;                                             \
    wasm_v128_store(p, wasm_f32x4_add(wasm_v128_load(p), c0));                    \
    wasm_v128_store(p + 4, wasm_f32x4_add(wasm_v128_load(p + 4), c1));            \
  } while (0)
  UPD(0, c00, c01);
  UPD(1, c10, c11);
  UPD(2, c20, c21);
  UPD(3, c30, c31);
#if MR == 6
  UPD(4, c40, c41);
  UPD(5, c50, c51);
#endif
#undef UPD
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

/*
 * C += op(A)·B with B row-major (column stride 1, row stride ldb) read in place, without packing.
 * For small M (few A strips per B strip) packing B costs as much as the arithmetic it saves; a
 * kc x NR strip of B stays in L1 while the M/MR strips of A sweep over it.
 */
static void gemm_direct_b(int M, int N, int K, const float *A, int rsA, int csA, const float *B, int ldb, float *C,
                          int ldc, GemmWork *w) {
  float tile[MR * NR] __attribute__((aligned(16)));
  const int N8 = N - N % NR;
  for (int pc = 0; pc < K; pc += KC) {
    int kc = K - pc < KC ? K - pc : KC;
    const float *Bk = B + (size_t)pc * ldb;
    /* right edge strip (N % NR columns) packed with zero padding */
    if (N8 < N) pack_b(B, ldb, 1, pc, kc, N8, N - N8, w->packB);
    for (int ic = 0; ic < M; ic += MC) {
      int mc = M - ic < MC ? M - ic : MC;
      pack_a(A, rsA, csA, ic, mc, pc, kc, w->packA);
      for (int jr = 0; jr < N; jr += NR) {
        const int full = jr < N8;
        const int nr = full ? NR : N - jr;
        for (int ir = 0; ir < mc; ir += MR) {
          int mr = mc - ir < MR ? mc - ir : MR;
          const float *Ap = w->packA + (size_t)ir * kc;
          float *Cp = C + (size_t)(ic + ir) * ldc + jr;
          if (mr == MR && full) {
            micro_kernel_s(kc, Ap, Bk + jr, ldb, Cp, ldc);
          } else {
            for (int t = 0; t < MR * NR; t++) tile[t] = 0.0f;
            if (full) micro_kernel_s(kc, Ap, Bk + jr, ldb, tile, NR);
            else micro_kernel(kc, Ap, w->packB, tile, NR);
            for (int i = 0; i < mr; i++)
              for (int j = 0; j < nr; j++) Cp[(size_t)i * ldc + j] += tile[i * NR + j];
          }
        }
      }
    }
  }
}

/* Picks the packed or in-place-B GEMM. */
static void gemm_auto(int M, int N, int K, const float *A, int rsA, int csA, const float *B, int rsB, int csB, float *C,
                      int ldc, GemmWork *w) {
  if (csB == 1 && M <= DIRECT_B_MAX_M) gemm_direct_b(M, N, K, A, rsA, csA, B, rsB, C, ldc, w);
  else gemm(M, N, K, A, rsA, csA, B, rsB, csB, C, ldc, w);
}

EXPORT(mp_matmul)
int mp_matmul(const float *a, const float *b, float *c, int M, int K, int N, int transA, int transB, int accumulate) {
  if (!accumulate) fill0(c, M * N);
  if (M <= 0 || N <= 0 || K <= 0) return 0;
  GemmWork w;
  if (gemm_work(&w)) return -1;
  int rsA = transA ? 1 : K, csA = transA ? M : 1;
  int rsB = transB ? 1 : N, csB = transB ? K : 1;
  gemm_auto(M, N, K, a, rsA, csA, b, rsB, csB, c, N, &w);
  return 0;
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

static void im2col(const float *x, int Cg, const ConvGeom *g, float *col) {
  const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, sW = g->strideW;
  const int OHW = OH * OW;
  int r = 0;
  for (int c = 0; c < Cg; c++) {
    const float *xc = x + (size_t)c * H * W;
    for (int kh = 0; kh < g->KH; kh++) {
      for (int kw = 0; kw < g->KW; kw++, r++) {
        float *ro = col + (size_t)r * OHW;
        int offW = kw * g->dilationW - g->padW;
        int lo, hi;
        ow_range(g, offW, &lo, &hi);
        for (int oh = 0; oh < OH; oh++) {
          int ih = oh * g->strideH - g->padH + kh * g->dilationH;
          float *o = ro + (size_t)oh * OW;
          if (ih < 0 || ih >= H) {
            fill0(o, OW);
            continue;
          }
          const float *xr = xc + (size_t)ih * W + offW;
          for (int ow = 0; ow < lo; ow++) o[ow] = 0.0f;
          if (sW == 1) {
            if (hi > lo) __builtin_memcpy(o + lo, xr + lo, (size_t)(hi - lo) * 4);
          } else if (sW == 2) {
            int ow = lo;
            for (; ow + 4 <= hi; ow += 4) {
              v128_t p0 = wasm_v128_load(xr + 2 * ow), p1 = wasm_v128_load(xr + 2 * ow + 4);
              wasm_v128_store(o + ow, wasm_i32x4_shuffle(p0, p1, 0, 2, 4, 6));
            }
            for (; ow < hi; ow++) o[ow] = xr[2 * ow];
          } else {
            for (int ow = lo; ow < hi; ow++) o[ow] = xr[(size_t)ow * sW];
          }
          for (int ow = hi; ow < OW; ow++) o[ow] = 0.0f;
        }
      }
    }
  }
}

static void col2im(const float *col, int Cg, const ConvGeom *g, float *dx) {
  const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, sW = g->strideW;
  const int OHW = OH * OW;
  int r = 0;
  for (int c = 0; c < Cg; c++) {
    float *xc = dx + (size_t)c * H * W;
    for (int kh = 0; kh < g->KH; kh++) {
      for (int kw = 0; kw < g->KW; kw++, r++) {
        const float *ro = col + (size_t)r * OHW;
        int offW = kw * g->dilationW - g->padW;
        int lo, hi;
        ow_range(g, offW, &lo, &hi);
        for (int oh = 0; oh < OH; oh++) {
          int ih = oh * g->strideH - g->padH + kh * g->dilationH;
          if (ih < 0 || ih >= H) continue;
          const float *o = ro + (size_t)oh * OW;
          float *xr = xc + (size_t)ih * W + offW;
          if (sW == 1) {
            int ow = lo;
            for (; ow + 4 <= hi; ow += 4)
              wasm_v128_store(xr + ow, wasm_f32x4_add(wasm_v128_load(xr + ow), wasm_v128_load(o + ow)));
            for (; ow < hi; ow++) xr[ow] += o[ow];
          } else {
            for (int ow = lo; ow < hi; ow++) xr[(size_t)ow * sW] += o[ow];
          }
        }
      }
    }
  }
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

static void depthwise_forward(const float *x, const float *w, float *out, const ConvGeom *g) {
  const int Og = g->O / g->C, HW = g->H * g->W, OHW = g->OH * g->OW, KHW = g->KH * g->KW;
  for (int n = 0; n < g->N; n++) {
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

static void depthwise_backward_input(const float *dy, const float *w, float *dx, const ConvGeom *g) {
  const int Og = g->O / g->C, HW = g->H * g->W, OHW = g->OH * g->OW, KHW = g->KH * g->KW;
  const int sW = g->strideW;
  for (int n = 0; n < g->N; n++) {
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

static void depthwise_backward_filter(const float *x, const float *dy, float *dw, const ConvGeom *g) {
  const int Og = g->O / g->C, HW = g->H * g->W, OHW = g->OH * g->OW, KHW = g->KH * g->KW;
  const int sW = g->strideW;
  for (int o = 0; o < g->O; o++) {
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

INLINE int is_depthwise(const ConvGeom *g) { return g->C == g->groups && g->KH * g->KW > 1; }

EXPORT(mp_conv2d) int mp_conv2d(const float *x, const float *w, float *out, const ConvGeom *g) {
  const int Cg = g->C / g->groups, Og = g->O / g->groups;
  const int CK = Cg * g->KH * g->KW, OHW = g->OH * g->OW, HW = g->H * g->W;
  fill0(out, g->N * g->O * OHW);
  if (g->N * g->O * OHW == 0 || CK == 0) return 0;
  if (is_depthwise(g)) {
    depthwise_forward(x, w, out, g);
    return 0;
  }
  const int pw = is_pointwise(g);
  GemmWork wk;
  if (gemm_work(&wk)) return -1;
  float *col = 0;
  if (!pw) {
    col = (float *)salloc((u32)CK * OHW * 4);
    if (!col) return -1;
  }
  for (int n = 0; n < g->N; n++) {
    for (int gi = 0; gi < g->groups; gi++) {
      const float *xg = x + (size_t)(n * g->C + gi * Cg) * HW;
      const float *B = xg;
      if (!pw) {
        im2col(xg, Cg, g, col);
        B = col;
      }
      gemm_auto(Og, OHW, CK, w + (size_t)gi * Og * CK, CK, 1, B, OHW, 1, out + (size_t)(n * g->O + gi * Og) * OHW, OHW,
           &wk);
    }
  }
  return 0;
}

EXPORT(mp_conv2d_backward_input) int mp_conv2d_backward_input(const float *dy, const float *w, float *dx, const ConvGeom *g) {
  const int Cg = g->C / g->groups, Og = g->O / g->groups;
  const int CK = Cg * g->KH * g->KW, OHW = g->OH * g->OW, HW = g->H * g->W;
  fill0(dx, g->N * g->C * HW);
  if (g->N * g->C * HW == 0 || CK == 0 || OHW == 0 || Og == 0) return 0;
  if (is_depthwise(g)) {
    depthwise_backward_input(dy, w, dx, g);
    return 0;
  }
  const int pw = is_pointwise(g);
  GemmWork wk;
  if (gemm_work(&wk)) return -1;
  float *dcol = 0;
  if (!pw) {
    dcol = (float *)salloc((u32)CK * OHW * 4);
    if (!dcol) return -1;
  }
  for (int n = 0; n < g->N; n++) {
    for (int gi = 0; gi < g->groups; gi++) {
      float *dxg = dx + (size_t)(n * g->C + gi * Cg) * HW;
      const float *wg = w + (size_t)gi * Og * CK;
      const float *dyg = dy + (size_t)(n * g->O + gi * Og) * OHW;
      /* dcol[CK, OHW] = Wgᵀ · dy_g ; Wg stored [Og, CK] */
      if (pw) {
        gemm_auto(CK, OHW, Og, wg, 1, CK, dyg, OHW, 1, dxg, OHW, &wk);
      } else {
        fill0(dcol, CK * OHW);
        gemm_auto(CK, OHW, Og, wg, 1, CK, dyg, OHW, 1, dcol, OHW, &wk);
        col2im(dcol, Cg, g, dxg);
      }
    }
  }
  return 0;
}

EXPORT(mp_conv2d_backward_filter) int mp_conv2d_backward_filter(const float *x, const float *dy, float *dw, const ConvGeom *g) {
  const int Cg = g->C / g->groups, Og = g->O / g->groups;
  const int CK = Cg * g->KH * g->KW, OHW = g->OH * g->OW, HW = g->H * g->W;
  fill0(dw, g->O * CK);
  if (g->N == 0 || CK == 0 || OHW == 0 || Og == 0) return 0;
  if (is_depthwise(g)) {
    depthwise_backward_filter(x, dy, dw, g);
    return 0;
  }
  const int pw = is_pointwise(g);
  GemmWork wk;
  if (gemm_work(&wk)) return -1;
  float *col = 0;
  if (!pw) {
    col = (float *)salloc((u32)CK * OHW * 4);
    if (!col) return -1;
  }
  for (int n = 0; n < g->N; n++) {
    for (int gi = 0; gi < g->groups; gi++) {
      const float *xg = x + (size_t)(n * g->C + gi * Cg) * HW;
      const float *B = xg;
      if (!pw) {
        im2col(xg, Cg, g, col);
        B = col;
      }
      /* dw_g[Og, CK] += dy_g[Og, OHW] · colᵀ ; col stored [CK, OHW] */
      gemm_auto(Og, CK, OHW, dy + (size_t)(n * g->O + gi * Og) * OHW, OHW, 1, B, 1, OHW, dw + (size_t)gi * Og * CK, CK,
           &wk);
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* pooling                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  int N, C, H, W, OH, OW, KH, KW, strideH, strideW, padH, padW;
} PoolGeom;

EXPORT(mp_max_pool2d) void mp_max_pool2d(const float *x, float *out, int *argmax, const PoolGeom *g) {
  const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, HW = H * W, OHW = OH * OW;
  const int P = g->N * g->C;
  for (int p = 0; p < P; p++) {
    const float *xp = x + (size_t)p * HW;
    float *op = out + (size_t)p * OHW;
    int *ap = argmax + (size_t)p * OHW;
    for (int oh = 0; oh < OH; oh++) {
      int hs = oh * g->strideH - g->padH;
      int h0 = hs > 0 ? hs : 0, h1 = hs + g->KH < H ? hs + g->KH : H;
      for (int ow = 0; ow < OW; ow++) {
        int ws = ow * g->strideW - g->padW;
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
      }
    }
  }
}

EXPORT(mp_max_pool2d_backward) void mp_max_pool2d_backward(const float *dy, const int *argmax, float *dx, const PoolGeom *g) {
  const int HW = g->H * g->W, OHW = g->OH * g->OW, P = g->N * g->C;
  fill0(dx, P * HW);
  for (int p = 0; p < P; p++) {
    float *dxp = dx + (size_t)p * HW;
    const float *dyp = dy + (size_t)p * OHW;
    const int *ap = argmax + (size_t)p * OHW;
    for (int i = 0; i < OHW; i++) {
      int a = ap[i];
      if (a >= 0) dxp[a] += dyp[i];
    }
  }
}

EXPORT(mp_avg_pool2d) void mp_avg_pool2d(const float *x, float *out, const PoolGeom *g) {
  const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, HW = H * W, OHW = OH * OW;
  const int P = g->N * g->C;
  for (int p = 0; p < P; p++) {
    const float *xp = x + (size_t)p * HW;
    float *op = out + (size_t)p * OHW;
    for (int oh = 0; oh < OH; oh++) {
      int hs = oh * g->strideH - g->padH;
      int he = hs + g->KH < H + g->padH ? hs + g->KH : H + g->padH;
      int h0 = hs > 0 ? hs : 0, h1 = he < H ? he : H;
      for (int ow = 0; ow < OW; ow++) {
        int ws = ow * g->strideW - g->padW;
        int we = ws + g->KW < W + g->padW ? ws + g->KW : W + g->padW;
        int w0 = ws > 0 ? ws : 0, w1 = we < W ? we : W;
        float s = 0.0f;
        for (int ih = h0; ih < h1; ih++) {
          const float *r = xp + (size_t)ih * W;
          for (int iw = w0; iw < w1; iw++) s += r[iw];
        }
        op[oh * OW + ow] = s / (float)((he - hs) * (we - ws));
      }
    }
  }
}

EXPORT(mp_avg_pool2d_backward) void mp_avg_pool2d_backward(const float *dy, float *dx, const PoolGeom *g) {
  const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, HW = H * W, OHW = OH * OW;
  const int P = g->N * g->C;
  fill0(dx, P * HW);
  for (int p = 0; p < P; p++) {
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

EXPORT(mp_channel_moments) void mp_channel_moments(const float *x, float *mean, float *variance, int N, int C, int HW) {
  const double cnt = (double)N * HW;
  for (int c = 0; c < C; c++) {
    double s = 0;
    for (int n = 0; n < N; n++) s += sum_f64(x + ((size_t)n * C + c) * HW, HW);
    double m = cnt > 0 ? s / cnt : 0;
    double v = 0;
    for (int n = 0; n < N; n++) v += sqdev_f64(x + ((size_t)n * C + c) * HW, HW, m);
    mean[c] = (float)m;
    variance[c] = cnt > 0 ? (float)(v / cnt) : 0.0f;
  }
}

EXPORT(mp_channel_affine)
void mp_channel_affine(const float *x, const float *mean, const float *scale, const float *shift, float *out, int N, int C,
                       int HW) {
  for (int n = 0; n < N; n++) {
    for (int c = 0; c < C; c++) {
      const size_t o = ((size_t)n * C + c) * HW;
      const float m = mean[c], s = scale[c], b = shift[c];
      const v128_t mv = wasm_f32x4_splat(m), sv = wasm_f32x4_splat(s), bv = wasm_f32x4_splat(b);
      const float *xp = x + o;
      float *op = out + o;
      int i = 0;
      for (; i + 4 <= HW; i += 4)
        wasm_v128_store(op + i, wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xp + i), mv), sv), bv));
      for (; i < HW; i++) op[i] = (xp[i] - m) * s + b;
    }
  }
}

EXPORT(mp_channel_backward_sums)
void mp_channel_backward_sums(const float *dy, const float *x, const float *mean, const float *invstd, float *sumDy,
                              float *sumDyXhat, int N, int C, int HW) {
  for (int c = 0; c < C; c++) {
    const double m = mean[c];
    const v128_t mv = wasm_f64x2_splat(m);
    v128_t s0 = wasm_f64x2_splat(0), s1 = s0, t0 = s0, t1 = s0;
    double s = 0, t = 0;
    for (int n = 0; n < N; n++) {
      const size_t o = ((size_t)n * C + c) * HW;
      const float *dp = dy + o, *xp = x + o;
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
    sumDy[c] = (float)s;
    sumDyXhat[c] = (float)(t * (double)invstd[c]);
  }
}
