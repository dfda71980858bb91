// Checks one op: GPU forward/backward against the float64 reference, and the
// reference's backward against central finite differences.
import assert from "node:assert/strict";
import type { OpDef, T64 } from "../../src/ops/types.ts";
import type { ConvChoices } from "../../src/ops/conv/mod.ts";
import { createStorage, fill, readBack, upload } from "../../src/engine/buffers.ts";
import { prepare, submit } from "../../src/engine/launch.ts";
import { numel } from "../../src/ops/wgsl.ts";
import { normal, rng } from "../../src/util/rng.ts";
import { relErr } from "../../src/util/compare.ts";
import { testGpu } from "../gpu.ts";

export interface Case {
  attrs?: Record<string, unknown>;
  inputs: number[][];
  training?: boolean;
  /** KernelCtx.fuse: false checks the unfused plan's kernels */
  fuse?: boolean;
  /** KernelCtx.target: e.g. forced conv blocks (default: the software cost model's) */
  target?: ConvChoices;
  /** custom input values (e.g. integer labels); default uniform in [-1, 1] */
  make?: (i: number, shape: number[], next: () => number) => Float64Array | undefined;
  tol?: number;
  fdTol?: number;
  seed?: number;
}

export function t64(shape: number[], data?: Float64Array): T64 {
  return { shape, data: data ?? new Float64Array(numel(shape)) };
}

/** The one relative error of src and tests (src/util/compare.ts), for the op tests. */
export { relErr };

function expectClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number) {
  const e = relErr(got, want);
  assert.ok(e < tol, `${what}: relative error ${e.toExponential(2)} >= ${tol}`);
}

export async function checkOp(op: OpDef, c: Case): Promise<void> {
  const next = rng(c.seed ?? 1234);
  const attrs = op.attrs.parse(c.attrs ?? {});
  const training = c.training ?? false;
  const outShape = op.shape(attrs, c.inputs) as number[];
  const xs = c.inputs.map((s, i) =>
    t64(s, c.make?.(i, s, next) ?? Float64Array.from({ length: numel(s) }, () => 2 * next() - 1))
  );
  const specs = op.params?.(attrs, c.inputs) ?? {};
  const p: Record<string, T64> = {};
  for (const [name, s] of Object.entries(specs)) {
    // Unit-scale values exercise the arithmetic better than the 0.02 init would.
    p[name] = t64(
      s.shape,
      Float64Array.from(
        { length: numel(s.shape) },
        () => name.includes("var") ? 0.5 + next() : normal(next),
      ),
    );
  }
  const ref = op.forwardRef(attrs, xs, p, { training });
  assert.deepEqual(ref.y.shape, outShape, "reference output shape");

  const gpu = await testGpu();
  const { device } = gpu;
  const ctx = {
    inputs: c.inputs,
    output: outShape,
    params: Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, s.shape])),
    training,
    fuse: c.fuse,
    target: c.target,
  };
  const bufs = new Map<string, { buffer: GPUBuffer; n: number }>();
  const alloc = (role: string, n: number, data?: ArrayLike<number>) => {
    const buffer = createStorage(device, n, role);
    if (data) upload(device, buffer, Float32Array.from(data));
    else fill(device, buffer, n, NaN); // poison: an unwritten element fails
    bufs.set(role, { buffer, n });
  };
  xs.forEach((x, i) => alloc(`x${i}`, x.data.length, x.data));
  for (const [k, v] of Object.entries(p)) alloc(`p.${k}`, v.data.length, v.data);
  alloc("y", numel(outShape));
  const fwd = op.forward(attrs, ctx);
  for (const [k, n] of Object.entries(fwd.scratch ?? {})) alloc(`t.${k}`, n);
  for (const [k, v] of Object.entries(fwd.consts ?? {})) alloc(`c.${k}`, v.length, v);
  const buf = (role: string) => {
    const b = bufs.get(role);
    if (!b) throw new Error(`kernel binds unknown role ${role}`);
    return b.buffer;
  };
  submit(device, await prepare(device, fwd.dispatches, buf, gpu.pipelines));
  const tol = c.tol ?? 1e-4;
  const [y] = await readBack(
    device,
    [bufs.get("y")!].map((b) => ({ buffer: b.buffer, elements: b.n })),
  );
  expectClose(`${op.name} forward`, y, ref.y.data, tol);
  for (const [k, v] of Object.entries(ref.state ?? {})) {
    const b = bufs.get(`p.${k}`)!;
    const [got] = await readBack(device, [{ buffer: b.buffer, elements: b.n }]);
    expectClose(`${op.name} state ${k}`, got, v.data, tol);
    upload(device, b.buffer, Float32Array.from(p[k].data)); // backward sees the old state
  }

  // Backward, twice: overwriting, then accumulating onto random contents.
  const dy = t64(outShape, Float64Array.from({ length: numel(outShape) }, () => 2 * next() - 1));
  const refB = op.backwardRef(attrs, xs, p, ref.y, dy, { training });
  const diff = xs.map((_, i) => op.differentiable?.(i) ?? true);
  const gradRoles: [string, T64][] = [];
  diff.forEach((d, i) => {
    if (d) gradRoles.push([`dx${i}`, refB.dx[i]!]);
  });
  for (const [k, s] of Object.entries(specs)) {
    if (s.trainable) gradRoles.push([`dp.${k}`, refB.dp[k]]);
  }
  alloc("dy", dy.data.length, dy.data);
  for (const accumulate of [false, true]) {
    const base = new Map<string, Float32Array>();
    for (const [role, g] of gradRoles) {
      assert.ok(g, `${op.name}: reference gives no ${role}`);
      if (accumulate) {
        const init = Float32Array.from({ length: g.data.length }, () => 2 * next() - 1);
        base.set(role, init);
        alloc(role, g.data.length, init);
      } else alloc(role, g.data.length);
    }
    const bwd = op.backward(attrs, {
      ...ctx,
      needDx: diff,
      needDp: new Set(Object.entries(specs).filter(([, s]) => s.trainable).map(([k]) => k)),
      accumulate: new Set(accumulate ? gradRoles.map(([r]) => r) : []),
    });
    for (const [k, n] of Object.entries(bwd.scratch ?? {})) {
      if (!bufs.has(`t.${k}`)) alloc(`t.${k}`, n);
    }
    for (const [k, v] of Object.entries(bwd.consts ?? {})) alloc(`c.${k}`, v.length, v);
    submit(device, await prepare(device, bwd.dispatches, buf, gpu.pipelines));
    const got = await readBack(
      device,
      gradRoles.map(([r]) => ({ buffer: bufs.get(r)!.buffer, elements: bufs.get(r)!.n })),
    );
    gradRoles.forEach(([role, g], k) => {
      const want = base.has(role) ? g.data.map((v, j) => v + base.get(role)![j]) : g.data;
      expectClose(`${op.name} ${role}${accumulate ? " (accumulate)" : ""}`, got[k], want, tol);
    });
  }
  for (const { buffer } of bufs.values()) buffer.destroy();

  checkFiniteDifferences(op, attrs, xs, p, dy, refB, training, diff, specs, c.fdTol ?? 1e-5, next);
}

/** d(sum(y * dy))/dv by central differences at a few random elements of each tensor. */
function checkFiniteDifferences(
  op: OpDef,
  attrs: unknown,
  xs: T64[],
  p: Record<string, T64>,
  dy: T64,
  refB: { dx: (T64 | undefined)[]; dp: Record<string, T64> },
  training: boolean,
  diff: boolean[],
  specs: Record<string, { trainable: boolean }>,
  tol: number,
  next: () => number,
) {
  const loss = () => {
    const y = op.forwardRef(attrs, xs, p, { training }).y.data;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * dy.data[i];
    return s;
  };
  const targets: [string, T64, T64][] = [];
  xs.forEach((x, i) => diff[i] && targets.push([`x${i}`, x, refB.dx[i]!]));
  for (const [k, s] of Object.entries(specs)) if (s.trainable) targets.push([k, p[k], refB.dp[k]]);
  const h = 1e-5;
  for (const [name, t, g] of targets) {
    for (let k = 0; k < Math.min(6, t.data.length); k++) {
      const j = Math.floor(next() * t.data.length);
      const v = t.data[j];
      t.data[j] = v + h;
      const up = loss();
      t.data[j] = v - h;
      const down = loss();
      t.data[j] = v;
      const fd = (up - down) / (2 * h);
      const err = Math.abs(fd - g.data[j]) / Math.max(1, Math.abs(fd));
      assert.ok(err < tol, `${op.name} d/d${name}[${j}]: analytic ${g.data[j]} vs numeric ${fd}`);
    }
  }
}
