// Horizontal fusion: dispatches with no data hazard between them (judged on the
// buffers they really use, after memory planning) become one dispatch whose
// workgroups are shared out between them by workgroup index. Independent work
// of a step (an encoder and a discriminator reading the same image, a conv's
// input and weight gradients) then costs one launch and runs side by side.
import type { Binding, Dispatch } from "../ops/types.ts";
import { elementType } from "../ops/wgsl.ts";
import type { Program, Step } from "./program.ts";
import type { Target } from "./target.ts";

export interface MergeOptions {
  /** storage buffers one kernel may bind (the adapter's limit, capped for stable plans) */
  maxBindings: number;
  /** bytes of workgroup memory one kernel may use */
  maxWorkgroupBytes: number;
  /** kernels per merged dispatch, at most */
  maxMembers?: number;
  /**
   * characters of WGSL a merged kernel may reach: a merge repeats each member's
   * body, and compile time grows with the code while the merge saves one launch
   */
  maxCode?: number;
  /**
   * merge different kernels too (a conv's input and weight gradients), not only
   * copies of one kernel (two branches' convolutions): a per-adapter choice
   */
  mixed?: boolean;
}

/**
 * Most WGSL characters of a merged kernel. On llvmpipe a pipeline's first dispatch
 * compiles ~13 ms per 1000 characters (conv kernels are 20-80k each), and merging two
 * copies of a conv kernel doubled that for one launch (~70 us) saved: in the demo's
 * plan such merges were 43% of the code. Small kernels (norms, sums) still merge.
 */
export const MERGE_MAX_CODE = 12000;

/**
 * The merge options a target implies. Whether different kernels merge is measured
 * per adapter by `deno task tune`: on llvmpipe, merging different kernels (even one
 * kernel of different shapes) made a training iteration 15-20% slower, while
 * merging copies of one kernel made the paper-scale one 8% faster than not merging.
 */
export function mergeOptions(target: Target): MergeOptions {
  return {
    mixed: target.mixed,
    maxCode: MERGE_MAX_CODE,
    maxBindings: target.limits.maxBindings,
    maxWorkgroupBytes: target.limits.maxWorkgroupBytes,
  };
}

interface Member {
  d: Dispatch;
  step: Step;
  reads: Set<string>;
  writes: Set<string>;
  /** arena -> written? (WebGPU forbids read-only and read-write bindings of one buffer) */
  arenas: Map<string, boolean>;
  shared: number;
  /** buffer -> its WGSL element type here (f32, vec2f or vec4f) */
  types: Map<string, string>;
}

interface Group {
  members: Member[];
  reads: Set<string>;
  writes: Set<string>;
  /** physical buffer -> written? (one binding per buffer) */
  buffers: Map<string, boolean>;
  arenas: Map<string, boolean>;
  shared: number;
  types: Map<string, string>;
  /** characters of its members' code */
  code: number;
  /** false when its first member cannot be merged */
  open: boolean;
}

const hazard = (g: { reads: Set<string>; writes: Set<string> }, m: Member) =>
  [...m.writes].some((b) => g.reads.has(b) || g.writes.has(b)) ||
  [...m.reads].some((b) => g.writes.has(b));

/**
 * Merges the dispatches of `steps` (one phase, in order). `where` names the buffer
 * a tensor lives in (its slot, or itself). A dispatch may move past dispatches it
 * has no hazard with to join a group; order is otherwise kept.
 */
export function mergeSteps(
  steps: Step[],
  where: (tensor: string) => string,
  opts: MergeOptions,
  arenaOf: (tensor: string) => string | undefined = () => undefined,
): Step[] {
  const groups: Group[] = [];
  for (const step of steps) {
    for (const d of step.dispatches) {
      const m = member(d, step, where, arenaOf);
      let into: Group | undefined;
      for (let g = groups.length - 1; g >= 0; g--) {
        if (hazard(groups[g], m)) break;
        if (fits(groups[g], m, opts)) into = groups[g];
      }
      if (!into) groups.push(into = newGroup(m));
      add(into, m);
    }
  }
  // A kernel left alone may still join a later group (a layer's weight gradient next
  // to the layer below's) where nothing in between needs it.
  for (let i = groups.length - 2; i >= 0; i--) {
    if (groups[i].members.length !== 1) continue;
    const m = groups[i].members[0];
    for (let j = i + 1; j < groups.length; j++) {
      if (hazard(groups[j], m)) break;
      if (fits(groups[j], m, opts)) {
        add(groups[j], m);
        groups.splice(i, 1);
        break;
      }
    }
  }
  return groups.map((g) => g.members.length === 1 ? single(g.members[0]) : merged(g, where));
}

function newGroup(m: Member): Group {
  return {
    members: [],
    reads: new Set(),
    writes: new Set(),
    buffers: new Map(),
    arenas: new Map(),
    shared: 0,
    types: new Map(),
    code: 0,
    open: m.shared >= 0,
  };
}

function add(g: Group, m: Member): void {
  g.members.push(m);
  for (const b of m.reads) g.reads.add(b);
  for (const b of m.writes) g.writes.add(b);
  for (const b of m.reads) if (!g.buffers.has(b)) g.buffers.set(b, false);
  for (const b of m.writes) g.buffers.set(b, true);
  for (const [a, w] of m.arenas) g.arenas.set(a, w);
  for (const [b, t] of m.types) g.types.set(b, t);
  g.shared += Math.max(0, m.shared);
  g.code += m.d.code.length;
}

function member(
  d: Dispatch,
  step: Step,
  where: (t: string) => string,
  arenaOf: (t: string) => string | undefined,
): Member {
  const reads = new Set<string>(), writes = new Set<string>();
  const arenas = new Map<string, boolean>(), types = new Map<string, string>();
  for (const b of d.bindings) {
    const t = step.roles[b.role];
    (b.write ? writes : reads).add(where(t));
    types.set(where(t), elementType(b));
    const a = arenaOf(t);
    if (a !== undefined) arenas.set(a, (arenas.get(a) ?? false) || !!b.write);
  }
  for (const b of writes) reads.delete(b);
  const shared = mergeable(d.code) ? workgroupBytes(d.code) : -1;
  return { d, step, reads, writes, arenas, shared, types };
}

function fits(g: Group, m: Member, opts: MergeOptions): boolean {
  if (!g.open || m.shared < 0 || g.members.length >= (opts.maxMembers ?? 8)) return false;
  // Copies of one kernel: the same code, other buffers (an encoder's and a
  // discriminator's convolution of one image).
  if (!opts.mixed && g.members[0].d.code !== m.d.code) return false;
  if (threads(g.members[0].d.code) !== threads(m.d.code)) return false;
  if (g.code + m.d.code.length > (opts.maxCode ?? Infinity)) return false;
  for (const [a, w] of m.arenas) if (g.arenas.has(a) && g.arenas.get(a) !== w) return false;
  // one binding per buffer: both must see it as the same element type
  for (const [b, t] of m.types) if (g.types.has(b) && g.types.get(b) !== t) return false;
  const extra = [...m.reads, ...m.writes].filter((b) => !g.buffers.has(b)).length;
  return g.buffers.size + extra <= opts.maxBindings &&
    g.shared + m.shared <= opts.maxWorkgroupBytes;
}

function single(m: Member): Step {
  return { ...m.step, dispatches: [m.d] };
}

// ------------------------------------------------------------------ WGSL merge

const DECL =
  /^@group\(0\) @binding\((\d+)\) var<storage, (read|read_write)> (\w+): array<(?:f32|vec[24]f)>;$/gm;
const ENTRY = /@compute @workgroup_size\((\d+)\)\s*fn main\(([\s\S]*?)\)\s*\{/;
const SCOPE = /^(?:var<workgroup>|fn|const|override|struct|alias)\s+(\w+)/gm;
const PREFIX = /\bH\d+_|\bHb\d+\b/;

/** Kernels the merge understands: 1-D workgroups, entry `main`, f32, vec2f or vec4f arrays. */
function mergeable(code: string): boolean {
  return ENTRY.test(code) && !PREFIX.test(code);
}

/** Threads per workgroup (kernels merge only with kernels of the same size). */
const threads = (code: string) => Number(code.match(ENTRY)?.[1] ?? 0);

function workgroupBytes(code: string): number {
  let n = 0;
  for (const m of code.matchAll(/var<workgroup>\s+\w+\s*:\s*array<f32,\s*(\d+)>/g)) n += 4 * +m[1];
  return n;
}

const rename = (code: string, from: string, to: string) =>
  code.replace(new RegExp(`(?<![\\w.])${from}(?!\\w)`, "g"), to);

/** Groups a workgroup index space of `n` into x and y under the 65535 limit. */
function foldGrid(n: number): [number, number, number] {
  if (n <= 65535) return [n, 1, 1];
  const y = Math.ceil(n / 65535);
  return [Math.ceil(n / y), y, 1];
}

function merged(g: Group, where: (t: string) => string): Step {
  const bindings: Binding[] = [];
  const roles: Record<string, string> = {};
  const index = new Map<string, number>();
  // One binding per buffer, written if any member writes it.
  for (const m of g.members) {
    for (const b of m.d.bindings) {
      const t = m.step.roles[b.role];
      const buf = where(t);
      if (!index.has(buf)) {
        index.set(buf, bindings.length);
        roles[`m.${bindings.length}`] = t;
        bindings.push({ role: `m.${bindings.length}`, vec4: b.vec4, vec2: b.vec2 });
      }
      if (b.write) bindings[index.get(buf)!].write = true;
    }
  }
  const size = threads(g.members[0].d.code);
  const decls = bindings.map((b, i) =>
    `@group(0) @binding(${i}) var<storage, ${b.write ? "read_write" : "read"}> Hb${i}: array<${
      elementType(b)
    }>;`
  );
  const bodies: string[] = [];
  const calls: string[] = [];
  let offset = 0;
  g.members.forEach((m, k) => {
    let code = m.d.code;
    // Binding variables -> the merged bindings; module-scope names -> prefixed.
    const names = new Map<string, string>();
    for (const [, i, , name] of code.matchAll(DECL)) {
      const b = m.d.bindings[+i];
      names.set(name, `Hb${index.get(where(m.step.roles[b.role]))}`);
    }
    code = code.replace(DECL, "");
    for (const [, name] of code.matchAll(SCOPE)) {
      if (name !== "main") names.set(name, `H${k}_${name}`);
    }
    const params = code.match(ENTRY)![2].split(",").map((p) => p.trim()).filter(Boolean).map(
      (p) => {
        const [, builtin, name, type] = p.match(/@builtin\((\w+)\)\s*(\w+)\s*:\s*(\w+)/)!;
        return { builtin, name, type };
      },
    );
    code = code.replace(
      ENTRY,
      `fn H${k}_main(${params.map((p) => `${p.name}: ${p.type}`).join(", ")}) {`,
    );
    for (const [from, to] of names) code = rename(code, from, to);
    bodies.push(code.trim());
    const [gx, gy, gz] = m.d.workgroups;
    const wg = `vec3u(q % ${gx}u, (q / ${gx}u) % ${gy}u, q / ${gx * gy}u)`;
    const arg = (b: string) => {
      switch (b) {
        case "workgroup_id":
          return wg;
        case "global_invocation_id":
          return `${wg} * vec3u(${size}u, 1u, 1u) + hlid`;
        case "local_invocation_id":
          return "hlid";
        case "local_invocation_index":
          return "hli";
        case "num_workgroups":
          return `vec3u(${gx}u, ${gy}u, ${gz}u)`;
        default:
          throw new Error(`merge: unsupported builtin ${b}`);
      }
    };
    const n = gx * gy * gz;
    calls.push(
      `  ${k ? "} else " : ""}if (hq < ${
        offset + n
      }u) {\n    let q = hq - ${offset}u;\n    H${k}_main(${
        params.map((p) => arg(p.builtin)).join(", ")
      });`,
    );
    offset += n;
  });
  const grid = foldGrid(offset);
  const code = `${decls.join("\n")}
${bodies.join("\n\n")}

@compute @workgroup_size(${size})
fn main(@builtin(workgroup_id) hwg: vec3u, @builtin(local_invocation_id) hlid: vec3u,
        @builtin(local_invocation_index) hli: u32) {
  let hq = hwg.x + hwg.y * ${grid[0]}u;
${calls.join("\n")}
  }
}
`;
  // "conv2d x2|batch_norm.train": short enough to read in plans and profiles.
  const labels: string[] = [];
  const counts: number[] = [];
  for (const m of g.members) {
    if (labels.at(-1) === m.d.label) counts[counts.length - 1]++;
    else labels.push(m.d.label), counts.push(1);
  }
  return {
    label: g.members.map((m) => m.step.label).join(" | "),
    node: g.members[0].step.node,
    phase: g.members[0].step.phase,
    dispatches: [{
      label: labels.map((l, i) => counts[i] > 1 ? `${l} x${counts[i]}` : l).join("|"),
      code,
      entry: "main",
      workgroups: grid,
      bindings,
    }],
    roles,
  };
}

/** The steps a program runs: independent dispatches merged where it was built with fusion. */
export function launchSteps(
  program: Program,
  opts: MergeOptions,
): { forward: Step[]; backward: Step[] } {
  if (!program.fused) return { forward: program.forward, backward: program.backward };
  // Tensors, not buffers: memory is planned afterwards over the merged steps, so that
  // no two tensors of one merged dispatch share a buffer.
  const where = (t: string) => t;
  const arena = (t: string) => arenaOf(program, t);
  return {
    forward: mergeSteps(program.forward, where, opts, arena),
    backward: mergeSteps(program.backward, where, opts, arena),
  };
}

/**
 * The arena a runtime may keep a tensor in: parameters, state (running statistics)
 * and parameter gradients each share one buffer (arena.ts), so one kernel must not
 * bind two tensors of the same arena one read-only and one writable.
 */
export function arenaOf(program: Program, t: string): string | undefined {
  const kind = program.tensors.get(t)?.kind;
  if (kind === "param" || kind === "state") return kind;
  if (kind === "grad" && t.startsWith("grad.")) {
    const k = program.tensors.get(t.slice(5))?.kind;
    if (k === "param" || k === "state") return `grad.${k}`;
  }
  return undefined;
}
