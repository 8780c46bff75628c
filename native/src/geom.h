/* Convolution geometry shared by the addon's kernels (the 16 ints of metaprune's ConvGeom, in order). */
#ifndef METAPRUNE_GEOM_H
#define METAPRUNE_GEOM_H

typedef struct {
  int N, C, H, W, O, KH, KW, OH, OW, sH, sW, pH, pW, dH, dW, G;
} geom_t;

#endif
