/**
 * The fixed feature layout of a neural graph (one node per channel, one edge per kernel slice).
 *
 * Node features, 9 columns (identity-BN defaults where a slot has no parameter):
 *
 * | col | name                 | source                                                             | default | changeable |
 * |-----|----------------------|--------------------------------------------------------------------|---------|------------|
 * | 0   | bn_weight            | γ of the BN that follows the channel                               | 1       | yes        |
 * | 1   | bn_bias              | β of that BN                                                       | 0       | yes        |
 * | 2   | bn_running_mean      | its running mean (buffer)                                          | 0       | no         |
 * | 3   | bn_running_var       | its running variance (buffer)                                      | 1       | no         |
 * | 4   | bias                 | bias of the conv/linear that produces the channel (incl. the classifier) | 0 | yes        |
 * | 5   | sc_bn_weight         | γ of the BN of a projection shortcut adding into the channel       | 1       | yes        |
 * | 6   | sc_bn_bias           | β of that shortcut BN                                              | 0       | yes        |
 * | 7   | sc_bn_running_mean   | its running mean (buffer)                                          | 0       | no         |
 * | 8   | sc_bn_running_var    | its running variance (buffer)                                      | 1       | no         |
 *
 * Edge features, 9 columns: the 3×3 kernel slice W[o, i, :, :] flattened row-major (col = 3·ky + kx).
 * 1×1 convs and linear layers put their single weight in the centre (col 4) and leave the other 8
 * columns 0 — the zero padding of the reference ResNet-56/VGG-19 converters. Identity shortcuts are
 * sparse diagonal edges whose feature is the "identity 1×1 kernel": col 4 = 1, the rest 0.
 */

export const NODE_DIM = 9;
export const EDGE_DIM = 9;

export const NODE_FEATURES = [
  'bn_weight', 'bn_bias', 'bn_running_mean', 'bn_running_var',
  'bias',
  'sc_bn_weight', 'sc_bn_bias', 'sc_bn_running_mean', 'sc_bn_running_var',
] as const;

export type NodeFeatureName = (typeof NODE_FEATURES)[number];

/** Column of each node feature. */
export const NODE_COL: Readonly<Record<NodeFeatureName, number>> = Object.fromEntries(
  NODE_FEATURES.map((n, i) => [n, i]),
) as Record<NodeFeatureName, number>;

/** Identity-BN defaults, used wherever a slot has no parameter (input and class nodes, absent BNs, no bias). */
export const NODE_DEFAULTS: readonly number[] = [1, 0, 0, 1, 0, 1, 0, 0, 1];

/** Columns the metanetwork may change (BN γ/β, bias, shortcut BN γ/β); running statistics never change. */
export const NODE_CHANGEABLE_COLUMNS: readonly number[] = [0, 1, 4, 5, 6];

/** Column of the kernel centre, where 1×1 convs, linear weights and identity edges live. */
export const EDGE_CENTRE = 4;

/** Feature of an identity-shortcut edge. */
export const IDENTITY_EDGE_FEATURE: readonly number[] = [0, 0, 0, 0, 1, 0, 0, 0, 0];

/** Column offset of the BN quadruple [γ, β, μ, σ²] in the main and the shortcut slot. */
export const BN_SLOT_MAIN = 0;
export const BN_SLOT_SHORTCUT = 5;
export const BIAS_COL = 4;
