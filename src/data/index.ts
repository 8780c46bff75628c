/** Data layer of metaprune: dataset readers, the embedded default dataset, batching. */
export { DataError } from './errors.js';
export { Rng, deriveSeed, mix32, permutation } from './prng.js';
export { isGzip, readMaybeGzip } from './files.js';
export {
  encodeIdx,
  parseIdx,
  readIdxDir,
  readIdxFile,
  readIdxImagesAndLabels,
  type IdxArray,
  type IdxData,
  type IdxDataType,
  type IdxReadOptions,
  type RawImages,
} from './idx.js';
export {
  CIFAR10_CLASSES,
  CIFAR100_COARSE_CLASSES,
  CIFAR100_FINE_CLASSES,
  concatCifar,
  parseCifar,
  readCifar100Dir,
  readCifar10Dir,
  readCifarFile,
  type Cifar100Files,
  type Cifar10Files,
  type CifarRaw,
  type CifarVariant,
} from './cifar.js';
export {
  EMBEDDED_FILE,
  EMBEDDED_NAME,
  FASHION_MNIST_CLASSES,
  avgPool2x2,
  decodePacked,
  embeddedDatasetPath,
  encodePacked,
  firstPerClass,
  gatherRaw,
  packageRoot,
  readEmbedded,
  readPackedFile,
  type PackedDataset,
} from './embedded.js';
export {
  computeStats,
  fromRaw,
  loadDataset,
  normalizePixels,
  type Dataset,
  type DatasetSpec,
  type DatasetSplits,
  type Normalization,
  type NormalizeOption,
  type UserDataOptions,
} from './dataset.js';
export { parseUserDataSpec, type UserDataKind } from './spec-text.js';
export { readImageFolder, splitFolders, type ImageFolder } from './folder.js';
export { rawFromArrays, readNpzImages, readNpyImages, type ArrayImages } from './arrays.js';
export { splitByRatio, selectRaw } from './ratio-split.js';
export { decodeImage, transformImage, type DecodedImage, type ImageOptions } from './image-transform.js';
export {
  augmentImage,
  batches,
  classCounts,
  epochOrder,
  numBatches,
  select,
  split,
  subset,
  type AugmentOptions,
  type Batch,
  type BatchOptions,
} from './batches.js';
