/*
 * metaprune WebAssembly kernels (float32, SIMD128). No libc.
 *
 * Build: tools/build-wasm.sh  (clang --target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib ...)
 *
 * Memory model: a bump allocator over the linear memory above __heap_base. The JS side calls
 * mp_reset() before each kernel call, mp_alloc()s its inputs/outputs and copies data in; kernels
 * bump-allocate their own scratch (GEMM packing buffers, zero-padded input planes, ...) after
 * that and release it when they return. All pointers are byte offsets into the (growable) linear
 * memory. Kernels that allocate return 0 on success and -1 when memory could not be grown.
 *
 * Semantics mirror src/tensor/kernels.ts (PyTorch conventions). Convolutions:
 *  - forward: stride-W 1 -> direct GEMM reading B in place from zero-padded input planes;
 *    otherwise GEMM with an implicit-im2col B packer. Depthwise (C == groups): direct loops.
 *  - input gradient: stride 1 -> forward conv of dy with flipped, transposed weights;
 *    otherwise GEMM into a column buffer + col2im.
 *  - filter gradient: GEMM whose A rows (im2col rows) are read in place from padded input.
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

/* memory.fill / memory.copy have a fixed per-call cost in engines; short runs use SIMD loops. */
INLINE void fill0(float *p, int n) {
  if (n >= 256) {
    __builtin_memset(p, 0, (size_t)n * 4);
    return;
  }
  const v128_t z = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(p + i, z);
  for (; i < n; i++) p[i] = 0.0f;
}

INLINE void copy_f32(float *d, const float *s, int n) {
  if (n >= 256) {
    __builtin_memcpy(d, s, (size_t)n * 4);
    return;
  }
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(d + i, wasm_v128_load(s + i));
  for (; i < n; i++) d[i] = s[i];
}

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

typedef struct ConvB ConvB;
static void pack_b_conv(const ConvB *cb, int k0, int kc, int j0, int nc, float *dst);

/* C += op(A)·op(B); when cb is non-null, B is the implicit im2col matrix of a convolution. */
static void gemm_ex(int M, int N, int K, const float *A, int rsA, int csA, const ConvB *cb, const float *B, int rsB,
                    int csB, float *C, int ldc, GemmWork *w) {
  for (int jc = 0; jc < N; jc += NC) {
    int nc = N - jc < NC ? N - jc : NC;
    for (int pc = 0; pc < K; pc += KC) {
      int kc = K - pc < KC ? K - pc : KC;
      if (cb) pack_b_conv(cb, pc, kc, jc, nc, w->packB);
      else pack_b(B, rsB, csB, pc, kc, jc, nc, w->packB);
      for (int ic = 0; ic < M; ic += MC) {
        int mc = M - ic < MC ? M - ic : MC;
        pack_a(A, rsA, csA, ic, mc, pc, kc, w->packA);
        macro_kernel(mc, nc, kc, w->packA, w->packB, C + (size_t)ic * ldc + jc, ldc);
      }
    }
  }
}

static void gemm(int M, int N, int K, const float *A, int rsA, int csA, const float *B, int rsB, int csB, float *C,
                 int ldc, GemmWork *w) {
  gemm_ex(M, N, K, A, rsA, csA, 0, B, rsB, csB, C, ldc, w);
}

static int matmul_impl(const float *a, const float *b, float *c, int M, int K, int N, int transA, int transB, int accumulate) {
  if (!accumulate) fill0(c, M * N);
  if (M <= 0 || N <= 0 || K <= 0) return 0;
  GemmWork w;
  if (gemm_work(&w)) return -1;
  int rsA = transA ? 1 : K, csA = transA ? M : 1;
  int rsB = transB ? 1 : N, csB = transB ? K : 1;
  gemm(M, N, K, a, rsA, csA, b, rsB, csB, c, N, &w);
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

/*
 * col2im restricted to output pixels p in [p0, p1) (p = oh*OW + ow), nc = p1 - p0:
 * dx[c, ih, iw] += col[r*nc + (p - p0)], r = (c*KH + kh)*KW + kw. Chunks keep the buffer in L2.
 */
static void col2im_range(const float *col, int Cg, const ConvGeom *g, float *dx, int p0, int p1) {
  const int H = g->H, W = g->W, OW = g->OW, sW = g->strideW, nc = p1 - p0;
  const int oh0 = p0 / OW, oh1 = (p1 - 1) / OW;
  int r = 0;
  for (int c = 0; c < Cg; c++) {
    float *xc = dx + (size_t)c * H * W;
    for (int kh = 0; kh < g->KH; kh++) {
      for (int kw = 0; kw < g->KW; kw++, r++) {
        const float *ro = col + (size_t)r * nc;
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

/*
 * Implicit im2col for the GEMM: packs B(k, p) = x[c, oh*sH - pH + kh*dH, ow*sW - pW + kw*dW]
 * (k = (c*KH + kh)*KW + kw, p = oh*OW + ow) straight into NR-wide strips, skipping the explicit
 * im2col buffer. Per-k offsets come from tables built once per call.
 */
struct ConvB {
  const float *x; /* first input plane of the group */
  const ConvGeom *g;
  const int *kOff; /* c*H*W + kh*dH*W + kw*dW */
  const int *kH;   /* kh*dH */
  const int *kW;   /* kw*dW */
};

static int conv_tables(const ConvGeom *g, int Cg, ConvB *cb) {
  const int CK = Cg * g->KH * g->KW;
  int *t = (int *)salloc((u32)CK * 12);
  if (!t) return -1;
  int k = 0;
  for (int c = 0; c < Cg; c++)
    for (int kh = 0; kh < g->KH; kh++)
      for (int kw = 0; kw < g->KW; kw++, k++) {
        t[k] = c * g->H * g->W + kh * g->dilationH * g->W + kw * g->dilationW;
        t[CK + k] = kh * g->dilationH;
        t[2 * CK + k] = kw * g->dilationW;
      }
  cb->g = g;
  cb->kOff = t;
  cb->kH = t + CK;
  cb->kW = t + 2 * CK;
  return 0;
}

static void pack_b_conv(const ConvB *cb, int k0, int kc, int j0, int nc, float *dst) {
  const ConvGeom *g = cb->g;
  const int H = g->H, W = g->W, OW = g->OW, sH = g->strideH, sW = g->strideW;
  const float *x = cb->x;
  const int *kOff = cb->kOff + k0, *kH = cb->kH + k0, *kW = cb->kW + k0;
  const v128_t z = wasm_f32x4_splat(0);
  for (int js = 0; js < nc; js += NR, dst += (size_t)kc * NR) {
    const int p = j0 + js, nr = nc - js < NR ? nc - js : NR;
    const int oh = p / OW, ow0 = p - oh * OW;
    float *d = dst;
    if (nr == NR && ow0 + NR <= OW) {
      /* the strip is 8 consecutive pixels of one output row */
      const int ihb = oh * sH - g->padH, iwb = ow0 * sW - g->padW;
      const int span = (NR - 1) * sW;
      for (int k = 0; k < kc; k++, d += NR) {
        const int ih = ihb + kH[k], iw = iwb + kW[k];
        if ((unsigned)ih >= (unsigned)H) {
          wasm_v128_store(d, z);
          wasm_v128_store(d + 4, z);
          continue;
        }
        const float *src = x + kOff[k] + ihb * W + iwb; /* = &x[c, ih, iw] */
        if (iw >= 0 && iw + span < W) {
          if (sW == 1) {
            wasm_v128_store(d, wasm_v128_load(src));
            wasm_v128_store(d + 4, wasm_v128_load(src + 4));
          } else if (sW == 2) {
            v128_t q0 = wasm_v128_load(src), q1 = wasm_v128_load(src + 4);
            v128_t q2 = wasm_v128_load(src + 8), q3 = wasm_v128_load(src + 12);
            wasm_v128_store(d, wasm_i32x4_shuffle(q0, q1, 0, 2, 4, 6));
            wasm_v128_store(d + 4, wasm_i32x4_shuffle(q2, q3, 0, 2, 4, 6));
          } else {
            for (int jj = 0; jj < NR; jj++) d[jj] = src[jj * sW];
          }
        } else {
          for (int jj = 0; jj < NR; jj++) {
            const int iwj = iw + jj * sW;
            d[jj] = (iwj >= 0 && iwj < W) ? src[jj * sW] : 0.0f;
          }
        }
      }
    } else {
      /* strip wraps output rows or is the ragged edge: per-element addressing */
      int ihs[NR], iws[NR];
      for (int jj = 0; jj < NR; jj++) {
        if (jj < nr) {
          const int pp = p + jj, ohj = pp / OW, owj = pp - ohj * OW;
          ihs[jj] = ohj * sH - g->padH;
          iws[jj] = owj * sW - g->padW;
        } else {
          ihs[jj] = -(1 << 28); /* never valid -> zero padding */
          iws[jj] = 0;
        }
      }
      for (int k = 0; k < kc; k++, d += NR) {
        for (int jj = 0; jj < NR; jj++) {
          const int ih = ihs[jj] + kH[k], iw = iws[jj] + kW[k];
          d[jj] = ((unsigned)ih < (unsigned)H && (unsigned)iw < (unsigned)W) ? x[kOff[k] + ihs[jj] * W + iws[jj]] : 0.0f;
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

/*
 * Direct convolution GEMM for stride-W 1: with the input zero-padded, the B strip of 8 consecutive
 * output pixels of one row, for reduction index k, is 8 contiguous floats at xpad + rowBase + kOff[k],
 * so the micro-kernel reads it in place (no im2col, no packing). Strips that wrap an output row are
 * packed with the implicit-im2col packer.
 */
INLINE void micro_kernel_conv(int kc, const float *Ap, const float *src, const int *kOff, float *C, int ldc) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00;
  v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int k = 0; k < kc; k++) {
    const float *Bp = src + kOff[k];
    v128_t b0 = wasm_v128_load(Bp), b1 = wasm_v128_load(Bp + 4);
    v128_t a;
    a = wasm_v128_load32_splat(Ap + 0); FMA(c00, a, b0); FMA(c01, a, b1);
    a = wasm_v128_load32_splat(Ap + 1); FMA(c10, a, b0); FMA(c11, a, b1);
    a = wasm_v128_load32_splat(Ap + 2); FMA(c20, a, b0); FMA(c21, a, b1);
    a = wasm_v128_load32_splat(Ap + 3); FMA(c30, a, b0); FMA(c31, a, b1);
    Ap += 4;
  }
#define UPD(r, c0, c1)                                                            \
  do {                                                                            \
    float *q = C + (size_t)(r) * ldc;                                             \
    wasm_v128_store(q, wasm_f32x4_add(wasm_v128_load(q), c0));                    \
    wasm_v128_store(q + 4, wasm_f32x4_add(wasm_v128_load(q + 4), c1));            \
  } while (0)
  UPD(0, c00, c01);
  UPD(1, c10, c11);
  UPD(2, c20, c21);
  UPD(3, c30, c31);
#undef UPD
}

typedef struct {
  const float *xpad; /* Cg padded planes [Hp, Wp] */
  int Wp, rowStep;   /* padded width; padded-row step per output row (strideH * Wp) */
  const int *kOffP;  /* c*Hp*Wp + kh*dH*Wp + kw*dW */
} ConvDirect;

static void gemm_conv_direct(int M, int N, int K, const float *A, const ConvB *cb, const ConvDirect *cd, float *C,
                             int ldc, GemmWork *w) {
  const int OW = cb->g->OW;
  float tile[MR * NR] __attribute__((aligned(16)));
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = N - jc < NC ? N - jc : NC;
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = K - pc < KC ? K - pc : KC;
      /* pack only the strips that cannot be read in place */
      for (int jr = 0; jr < nc; jr += NR) {
        const int p = jc + jr, nr = nc - jr < NR ? nc - jr : NR, ow0 = p % OW;
        if (!(nr == NR && ow0 + NR <= OW)) pack_b_conv(cb, pc, kc, p, nr, w->packB + (size_t)jr * kc);
      }
      for (int ic = 0; ic < M; ic += MC) {
        const int mc = M - ic < MC ? M - ic : MC;
        pack_a(A, K, 1, ic, mc, pc, kc, w->packA);
        for (int jr = 0; jr < nc; jr += NR) {
          const int p = jc + jr, nr = nc - jr < NR ? nc - jr : NR;
          const int oh = p / OW, ow0 = p - oh * OW;
          const int direct = nr == NR && ow0 + NR <= OW;
          const float *src = cd->xpad + (size_t)oh * cd->rowStep + ow0;
          const float *Bp = w->packB + (size_t)jr * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = mc - ir < MR ? mc - ir : MR;
            const float *Ap = w->packA + (size_t)ir * kc;
            float *Cp = C + (size_t)(ic + ir) * ldc + p;
            if (mr == MR && direct) {
              micro_kernel_conv(kc, Ap, src, cd->kOffP + pc, Cp, ldc);
            } else {
              for (int t = 0; t < MR * NR; t++) tile[t] = 0.0f;
              if (direct) micro_kernel_conv(kc, Ap, src, cd->kOffP + pc, tile, NR);
              else micro_kernel(kc, Ap, Bp, tile, NR);
              for (int i = 0; i < mr; i++)
                for (int j = 0; j < nr; j++) Cp[(size_t)i * ldc + j] += tile[i * NR + j];
            }
          }
        }
      }
    }
  }
}

/* xpad[c, pH + ih, pW + iw] = x[c, ih, iw], zero borders. */
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

static int conv2d_impl(const float *x, const float *w, float *out, const ConvGeom *g) {
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
  ConvB cb;
  if (!pw && conv_tables(g, Cg, &cb)) return -1;
  /* direct path (stride-W 1): padded input planes + padded offset table */
  const int direct = !pw && g->strideW == 1 && g->OW >= NR;
  const int Hp = g->H + 2 * g->padH, Wp = g->W + 2 * g->padW;
  ConvDirect cd;
  float *xpad = 0;
  if (direct) {
    xpad = (float *)salloc((u32)Cg * Hp * Wp * 4 + 64);
    int *kt = (int *)salloc((u32)CK * 4);
    if (!xpad || !kt) return -1;
    int k = 0;
    for (int c = 0; c < Cg; c++)
      for (int kh = 0; kh < g->KH; kh++)
        for (int kw = 0; kw < g->KW; kw++, k++) kt[k] = c * Hp * Wp + kh * g->dilationH * Wp + kw * g->dilationW;
    cd.xpad = xpad;
    cd.Wp = Wp;
    cd.rowStep = g->strideH * Wp;
    cd.kOffP = kt;
  }
  for (int n = 0; n < g->N; n++) {
    for (int gi = 0; gi < g->groups; gi++) {
      const float *xg = x + (size_t)(n * g->C + gi * Cg) * HW;
      const float *wg = w + (size_t)gi * Og * CK;
      float *og = out + (size_t)(n * g->O + gi * Og) * OHW;
      if (pw) {
        gemm(Og, OHW, CK, wg, CK, 1, xg, OHW, 1, og, OHW, &wk);
      } else if (direct) {
        cb.x = xg;
        pad_planes(xg, Cg, g, xpad, Hp, Wp);
        gemm_conv_direct(Og, OHW, CK, wg, &cb, &cd, og, OHW, &wk);
      } else {
        cb.x = xg;
        gemm_ex(Og, OHW, CK, wg, CK, 1, &cb, 0, 0, 0, og, OHW, &wk);
      }
    }
  }
  return 0;
}

static int conv2d_backward_input_impl(const float *dy, const float *w, float *dx, const ConvGeom *g) {
  const int Cg = g->C / g->groups, Og = g->O / g->groups;
  const int CK = Cg * g->KH * g->KW, OHW = g->OH * g->OW, HW = g->H * g->W;
  fill0(dx, g->N * g->C * HW);
  if (g->N * g->C * HW == 0 || CK == 0 || OHW == 0 || Og == 0) return 0;
  if (is_depthwise(g)) {
    depthwise_backward_input(dy, w, dx, g);
    return 0;
  }
  {
    /* Stride 1: dx = conv(dy, W'), W'[g*Cg + c, o, kh, kw] = W[g*Og + o, c, KH-1-kh, KW-1-kw],
       padding dilation*(K-1) - pad. Reuses the fast forward path (no col2im). */
    const int pH2 = g->dilationH * (g->KH - 1) - g->padH, pW2 = g->dilationW * (g->KW - 1) - g->padW;
    if (g->strideH == 1 && g->strideW == 1 && pH2 >= 0 && pW2 >= 0 && !is_pointwise(g) &&
        g->OH + 2 * pH2 - g->dilationH * (g->KH - 1) == g->H && g->OW + 2 * pW2 - g->dilationW * (g->KW - 1) == g->W) {
      const int KHW = g->KH * g->KW;
      float *w2 = (float *)salloc((u32)g->O * CK * 4);
      if (!w2) return -1;
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
      return conv2d_impl(dy, w2, dx, &g2);
    }
  }
  const int pw = is_pointwise(g);
  GemmWork wk;
  if (gemm_work(&wk)) return -1;
  const int chunk = conv_chunk(CK, OHW);
  float *dcol = 0;
  if (!pw) {
    dcol = (float *)salloc((u32)CK * chunk * 4);
    if (!dcol) return -1;
  }
  for (int n = 0; n < g->N; n++) {
    for (int gi = 0; gi < g->groups; gi++) {
      float *dxg = dx + (size_t)(n * g->C + gi * Cg) * HW;
      const float *wg = w + (size_t)gi * Og * CK;
      const float *dyg = dy + (size_t)(n * g->O + gi * Og) * OHW;
      /* dcol[CK, p0:p1] = Wgᵀ · dy_g[:, p0:p1] ; Wg stored [Og, CK] */
      if (pw) {
        gemm(CK, OHW, Og, wg, 1, CK, dyg, OHW, 1, dxg, OHW, &wk);
        continue;
      }
      for (int p0 = 0; p0 < OHW; p0 += chunk) {
        const int p1 = p0 + chunk < OHW ? p0 + chunk : OHW, nc = p1 - p0;
        fill0(dcol, CK * nc);
        gemm(CK, nc, Og, wg, 1, CK, dyg + p0, OHW, 1, dcol, nc, &wk);
        col2im_range(dcol, Cg, g, dxg, p0, p1);
      }
    }
  }
  return 0;
}

/*
 * Direct filter gradient: dWᵀ[k, o] = Σ_p xcol[k, p] · dy[o, p], a GEMM with M = CK, N = Og, K = OH*OW
 * whose A rows are read in place from the zero-padded input (row k starts at xpad + kOffP[k] and
 * pixel p = (oh, ow) sits at oh*rowStep + ow*strideW), and whose B = dyᵀ is packed once per depth
 * block and shared by every A row group.
 */
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
#define UPD(r, c0, c1)                                                            \
  do {                                                                            \
    float *q = C + (size_t)(r) * ldc;                                             \
    wasm_v128_store(q, wasm_f32x4_add(wasm_v128_load(q), c0));                    \
    wasm_v128_store(q + 4, wasm_f32x4_add(wasm_v128_load(q + 4), c1));            \
  } while (0)
  UPD(0, c00, c01);
  UPD(1, c10, c11);
  UPD(2, c20, c21);
  UPD(3, c30, c31);
#undef UPD
}

static int conv2d_backward_filter_direct(const float *x, const float *dy, float *dw, const ConvGeom *g, GemmWork *wk) {
  const int Cg = g->C / g->groups, Og = g->O / g->groups;
  const int CK = Cg * g->KH * g->KW, OHW = g->OH * g->OW, HW = g->H * g->W, OW = g->OW;
  const int Hp = g->H + 2 * g->padH, Wp = g->W + 2 * g->padW;
  const int CKp = (CK + MR - 1) / MR * MR, OgP = (Og + NR - 1) / NR * NR;
  float *xpad = (float *)salloc((u32)Cg * Hp * Wp * 4 + 64);
  int *kOffP = (int *)salloc((u32)CK * 4);
  float *dwt = (float *)salloc((u32)CKp * OgP * 4);
  if (!xpad || !kOffP || !dwt) return -1;
  int k = 0;
  for (int c = 0; c < Cg; c++)
    for (int kh = 0; kh < g->KH; kh++)
      for (int kw = 0; kw < g->KW; kw++, k++) kOffP[k] = c * Hp * Wp + kh * g->dilationH * Wp + kw * g->dilationW;
  const int rowStep = g->strideH * Wp, sW = g->strideW;
  for (int gi = 0; gi < g->groups; gi++) {
    fill0(dwt, CKp * OgP);
    for (int n = 0; n < g->N; n++) {
      const float *xg = x + (size_t)(n * g->C + gi * Cg) * HW;
      const float *dyg = dy + (size_t)(n * g->O + gi * Og) * OHW;
      pad_planes(xg, Cg, g, xpad, Hp, Wp);
      for (int jc = 0; jc < Og; jc += NC) {
        const int nc = Og - jc < NC ? Og - jc : NC;
        for (int pc = 0; pc < OHW; pc += KC) {
          const int kc = OHW - pc < KC ? OHW - pc : KC;
          /* B(p, o) = dy[o, p]: stored transposed (row stride 1, column stride OHW) */
          pack_b(dyg, 1, OHW, pc, kc, jc, nc, wk->packB);
          const int oh0 = pc / OW, ow0 = pc - oh0 * OW;
          for (int i = 0; i < CK; i += MR) {
            const int i1 = i + 1 < CK ? i + 1 : CK - 1, i2 = i + 2 < CK ? i + 2 : CK - 1, i3 = i + 3 < CK ? i + 3 : CK - 1;
            const float *r0 = xpad + kOffP[i], *r1 = xpad + kOffP[i1], *r2 = xpad + kOffP[i2], *r3 = xpad + kOffP[i3];
            for (int jr = 0; jr < nc; jr += NR)
              micro_kernel_dw(kc, oh0, ow0, r0, r1, r2, r3, OW, rowStep, sW, wk->packB + (size_t)jr * kc,
                              dwt + (size_t)i * OgP + jc + jr, OgP);
          }
        }
      }
    }
    float *dwg = dw + (size_t)gi * Og * CK;
    for (int o = 0; o < Og; o++)
      for (int kk = 0; kk < CK; kk++) dwg[(size_t)o * CK + kk] = dwt[(size_t)kk * OgP + o];
  }
  return 0;
}

static int conv2d_backward_filter_impl(const float *x, const float *dy, float *dw, const ConvGeom *g) {
  const int Cg = g->C / g->groups, Og = g->O / g->groups;
  const int CK = Cg * g->KH * g->KW, OHW = g->OH * g->OW, HW = g->H * g->W;
  fill0(dw, g->O * CK);
  if (g->N == 0 || CK == 0 || OHW == 0 || Og == 0) return 0;
  if (is_depthwise(g)) {
    depthwise_backward_filter(x, dy, dw, g);
    return 0;
  }
  GemmWork wk;
  if (gemm_work(&wk)) return -1;
  if (!is_pointwise(g)) return conv2d_backward_filter_direct(x, dy, dw, g, &wk);
  for (int n = 0; n < g->N; n++) {
    for (int gi = 0; gi < g->groups; gi++) {
      /* pointwise: dw_g[Og, C_g] += dy_g[Og, HW] · x_gᵀ */
      gemm(Og, CK, OHW, dy + (size_t)(n * g->O + gi * Og) * OHW, OHW, 1, x + (size_t)(n * g->C + gi * Cg) * HW, 1, OHW,
           dw + (size_t)gi * Og * CK, CK, &wk);
    }
  }
  return 0;
}

/* Exported entry points: scratch allocated by a kernel is released when it returns. */
EXPORT(mp_matmul)
int mp_matmul(const float *a, const float *b, float *c, int M, int K, int N, int transA, int transB, int accumulate) {
  u32 mark = heap_top;
  int rc = matmul_impl(a, b, c, M, K, N, transA, transB, accumulate);
  heap_top = mark;
  return rc;
}

EXPORT(mp_conv2d) int mp_conv2d(const float *x, const float *w, float *out, const ConvGeom *g) {
  u32 mark = heap_top;
  int rc = conv2d_impl(x, w, out, g);
  heap_top = mark;
  return rc;
}

EXPORT(mp_conv2d_backward_input) int mp_conv2d_backward_input(const float *dy, const float *w, float *dx, const ConvGeom *g) {
  u32 mark = heap_top;
  int rc = conv2d_backward_input_impl(dy, w, dx, g);
  heap_top = mark;
  return rc;
}

EXPORT(mp_conv2d_backward_filter) int mp_conv2d_backward_filter(const float *x, const float *dy, float *dw, const ConvGeom *g) {
  u32 mark = heap_top;
  int rc = conv2d_backward_filter_impl(x, dy, dw, g);
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

EXPORT(mp_max_pool2d) void mp_max_pool2d(const float *x, float *out, int *argmax, const PoolGeom *g) {
  const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, HW = H * W, OHW = OH * OW;
  const int P = g->N * g->C, sW = g->strideW;
  int ilo, ihi;
  pool_interior(g, &ilo, &ihi);
  for (int p = 0; p < P; p++) {
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
  const int P = g->N * g->C, sW = g->strideW;
  int ilo, ihi;
  pool_interior(g, &ilo, &ihi);
  for (int p = 0; p < P; p++) {
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
