// Structure of a graph file, checked with zod before any meaning is given to it.
import { z } from "../deps.ts";

const scalar = z.union([z.number(), z.boolean(), z.string()]);
const dim = z.union([z.number().int().positive(), z.string()]);

export const layerSchema = z.object({
  op: z.string().optional().describe("an op from the reference"),
  block: z.string().optional().describe("a block of this file"),
  graph: z.string().optional().describe("another graph file, inlined"),
  network: z.string().optional().describe(
    "a call of a network of the composition, sharing its parameters",
  ),
  in: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  if: scalar.optional(),
  params: z.record(z.string(), scalar).optional(),
  output: z.string().optional(),
}).catchall(z.unknown());

export const blockSchema = z.object({
  args: z.record(z.string(), scalar.nullable()).optional(),
  layers: z.record(z.string(), layerSchema),
  output: z.string().optional(),
}).strict();

export const networkRefSchema = z.object({
  file: z.string(),
  params: z.record(z.string(), scalar).optional(),
}).strict();

export const fileSchema = z.object({
  name: z.string().optional(),
  description: z.string().optional(),
  extends: z.string().optional(),
  params: z.record(z.string(), scalar.nullable()).optional(),
  inputs: z.record(z.string(), z.array(dim).min(1)).optional(),
  blocks: z.record(z.string(), blockSchema).optional(),
  layers: z.record(z.string(), layerSchema).optional(),
  outputs: z.record(z.string(), z.string()).optional(),
  networks: z.record(z.string(), networkRefSchema).optional(),
  training: z.record(z.string(), z.unknown()).optional(),
}).strict();

export type LayerSpec = z.infer<typeof layerSchema>;
export type BlockSpec = z.infer<typeof blockSchema>;
export type FileSpec = z.infer<typeof fileSchema>;

/** Keys a layer may carry besides the op's attributes. */
export const LAYER_KEYS = ["op", "block", "graph", "network", "in", "if", "params", "output"];

/** The training step graph: a network body whose layers may call the composition's networks. */
export const stepSchema = z.object({
  params: z.record(z.string(), scalar.nullable()).optional(),
  inputs: z.record(z.string(), z.array(dim).min(1)),
  blocks: z.record(z.string(), blockSchema).optional(),
  layers: z.record(z.string(), layerSchema),
  outputs: z.record(z.string(), z.string()).optional(),
}).strict();
