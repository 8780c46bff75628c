/** Network ↔ neural graph: public API of src/graph. */
export * from './layout.js';
export { NeuralGraphError } from './errors.js';
export { buildGraphPlan, graphPlan, type EdgeBlock, type EdgeKind, type GraphPlan, type NodeBlock, type NodeParamEntry } from './plan.js';
export { toGraph, fromGraph, nodeMask, edgeMask, type NeuralGraph, type GraphFeatures, type FromGraphOptions } from './convert.js';
