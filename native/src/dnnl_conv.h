/*
 * Convolutions through oneDNN (the library PyTorch's CPU convolutions use), when the addon was built
 * with it (MP_DNNL: binding.gyp defines it when <dnnl.h> exists). Each call returns 1 when oneDNN
 * computed the result and 0 when it cannot (not built in, disabled, or the primitive could not be
 * created for this geometry): the caller then runs its own im2col + sgemm path.
 */
#ifndef METAPRUNE_DNNL_CONV_H
#define METAPRUNE_DNNL_CONV_H

#include "geom.h"

typedef enum { DNNL_FWD = 0, DNNL_BWD_DATA = 1, DNNL_BWD_WEIGHTS = 2 } dnnl_conv_kind_t;

/*
 * kind FWD: a = x, b = w, out = y.  BWD_DATA: a = dy, b = w, out = dx.  BWD_WEIGHTS: a = x, b = dy,
 * out = dw. All float32 in metaprune's layouts (NCHW, OIHW), `out` overwritten; `threads` OpenMP
 * threads.
 */
int dnnl_conv(dnnl_conv_kind_t kind, const geom_t* g, const float* a, const float* b, float* out, int threads);

/*
 * Both gradients of a convolution (dx from dy and w, dw from x and dy) with dy reordered into
 * oneDNN's layout once; 1 when oneDNN computed both, 0 when the caller must (separately).
 */
int dnnl_conv_backward(const geom_t* g, const float* dy, const float* w, const float* x, float* dx, float* dw,
                       int threads);

/* Whether oneDNN is compiled in, and switched on (the default when compiled in). */
int dnnl_conv_compiled(void);
void dnnl_conv_enable(int on);
int dnnl_conv_enabled(void);

#endif
