// One WebGPU device for a whole test process: tests share it (and its pipeline
// cache), as one command shares the device it opened. Targets are built per test.
import { type Gpu, openGpu } from "../src/engine/device.ts";
import { softwareTarget, type Target } from "../src/plan/target.ts";
import { type Plan, planPrograms } from "../src/plan/plan.ts";
import type { Program } from "../src/plan/program.ts";

let shared: Promise<Gpu> | undefined;

export function testGpu(): Promise<Gpu> {
  shared ??= openGpu();
  return shared;
}

/** The target tests compile for: the software default, nothing read from a tune cache. */
export function testTarget(): Target {
  return softwareTarget();
}

/** A one-program Plan of an already built program, for the test target. */
export function planOf(program: Program, opts: { memory?: boolean } = {}): Plan {
  return planPrograms([{ program }], { target: testTarget(), memory: opts.memory });
}
