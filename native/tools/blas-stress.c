/*
 * Checks that OpenBLAS is safe to call concurrently from several threads of ours with its own thread
 * count at 1 (how the addon's pool uses it): every thread runs many sgemm calls of varied shapes and
 * transposes (ResNet-20 conv GEMM shapes among them) and compares each result bit for bit with the
 * same call made earlier from one thread alone. Prints openblas_get_parallel() (1 = pthreads build).
 *
 *   cc -O2 -pthread native/tools/blas-stress.c -lopenblas -o /tmp/blas-stress
 *   /tmp/blas-stress [threads=4] [seconds=10]
 */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { int M, K, N, tA, tB; float beta; float *a, *b, *c0, *ref; } case_t;

#define NCASES 12
static case_t cases[NCASES];
static double seconds = 10;
static volatile int failures = 0;

static float* rnd(size_t n, unsigned* s) {
  float* p = malloc(sizeof(float) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) p[i] = (float)rand_r(s) / RAND_MAX * 2 - 1;
  return p;
}

static void run(const case_t* c, float* out) {
  memcpy(out, c->c0, sizeof(float) * c->M * c->N);
  cblas_sgemm(CblasRowMajor, c->tA ? CblasTrans : CblasNoTrans, c->tB ? CblasTrans : CblasNoTrans, c->M, c->N, c->K, 1.0f, c->a,
              c->tA ? c->M : c->K, c->b, c->tB ? c->K : c->N, c->beta, out, c->N);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void* worker(void* p) {
  unsigned s = (unsigned)(size_t)p * 7919u + 1;
  float* out = malloc(sizeof(float) * 4096 * 4096);
  long calls = 0;
  const double end = now() + seconds;
  while (now() < end) {
    const case_t* c = &cases[rand_r(&s) % NCASES];
    run(c, out);
    if (memcmp(out, c->ref, sizeof(float) * c->M * c->N) != 0) {
      __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
      fprintf(stderr, "MISMATCH %dx%dx%d tA=%d tB=%d\n", c->M, c->K, c->N, c->tA, c->tB);
    }
    calls++;
  }
  free(out);
  return (void*)calls;
}

int main(int argc, char** argv) {
  const int T = argc > 1 ? atoi(argv[1]) : 4;
  if (argc > 2) seconds = atof(argv[2]);
  openblas_set_num_threads(1);
  printf("%s; core %s; parallel=%d (0 seq, 1 pthreads, 2 OpenMP); openblas threads=%d\n", openblas_get_config(),
         openblas_get_corename(), openblas_get_parallel(), openblas_get_num_threads());
  /* conv forward / dX / dW GEMMs of ResNet-20 (a few images per call), odd shapes, a big square one */
  const int shapes[NCASES][5] = {
      {16, 144, 3072, 0, 0}, {144, 16, 3072, 1, 0}, {16, 3072, 144, 0, 1}, {32, 288, 1792, 0, 0},
      {288, 32, 1792, 1, 0}, {64, 576, 512, 0, 1},  {64, 512, 576, 0, 0},  {512, 512, 512, 0, 0},
      {17, 33, 7, 1, 1},     {130, 257, 65, 1, 0},  {1, 600, 33, 0, 1},    {256, 64, 1000, 1, 1}};
  unsigned s = 12345;
  for (int i = 0; i < NCASES; i++) {
    case_t* c = &cases[i];
    c->M = shapes[i][0], c->K = shapes[i][1], c->N = shapes[i][2], c->tA = shapes[i][3], c->tB = shapes[i][4];
    c->beta = i % 2 ? 1.0f : 0.0f;
    c->a = rnd((size_t)c->M * c->K, &s), c->b = rnd((size_t)c->K * c->N, &s), c->c0 = rnd((size_t)c->M * c->N, &s);
    c->ref = malloc(sizeof(float) * c->M * c->N);
    run(c, c->ref); /* single-threaded reference */
  }
  pthread_t th[64];
  for (int t = 0; t < T; t++) pthread_create(&th[t], NULL, worker, (void*)(size_t)t);
  long total = 0;
  for (int t = 0; t < T; t++) {
    void* r;
    pthread_join(th[t], &r);
    total += (long)r;
  }
  printf("%d threads, %.0f s: %ld sgemm calls, %d mismatches\n", T, seconds, total, failures);
  return failures != 0;
}
