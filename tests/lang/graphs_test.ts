// The shipped graphs: they load, and their parameter and MAC counts agree with
// arithmetic written out here by hand (the paper's architecture, layer by layer).
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import { layerStats, networkTotals, summarise } from "../../src/lang/summary.ts";
import type { Model, TypedNetwork } from "../../src/lang/ir.ts";

function graphFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) out.push(...graphFiles(path));
    else if (/\.ya?ml$/.test(e.name)) out.push(path);
  }
  return out.sort();
}

const load = (path: string, ...set: string[]) => loadModel(path, set.map(parseOverride));

function net(model: Model, name: string): TypedNetwork {
  const n = model.networks.find((x) => x.name === name);
  assert.ok(n, `no network ${name} in ${model.file}`);
  return n;
}

const params = (model: Model, name: string) => networkTotals(net(model, name)).params;

function outputShapes(n: TypedNetwork): Record<string, string> {
  return Object.fromEntries(
    n.outputs.map((o) => [o.name, JSON.stringify(n.shapes.get(o.from))]),
  );
}

// --- every graph loads --------------------------------------------------------------

const files = graphFiles("graphs");

Deno.test("graphs: the directory holds the DR-GAN graphs", () => {
  for (const f of ["encoder", "decoder", "discriminator", "drgan", "drgan-small"]) {
    assert.ok(files.includes(join("graphs", `${f}.yaml`)), `graphs/${f}.yaml is missing`);
  }
});

for (const file of files) {
  Deno.test(`graphs: ${file} loads cleanly`, () => {
    const model = load(file);
    assert.ok(model.networks.length >= 1);
    for (const n of model.networks) {
      assert.ok(n.outputs.length >= 1, `${n.name} has no outputs`);
      for (const o of n.outputs) {
        assert.ok(n.shapes.has(o.from), `${n.name}.${o.name} has no shape`);
      }
    }
  });
}

// --- the architecture by hand -----------------------------------------------------

/** CASIA-Net as in the paper: output channels of conv11 .. conv53 and their strides. */
const ENCODER = [
  [32, 1], // conv11
  [64, 1], // conv12
  [64, 2], // conv21
  [64, 1], // conv22
  [128, 1], // conv23
  [128, 2], // conv31
  [96, 1], // conv32
  [192, 1], // conv33
  [192, 2], // conv41
  [128, 1], // conv42
  [256, 1], // conv43
  [256, 2], // conv51
  [160, 1], // conv52
  [320, 1], // conv53 (Nf)
];

/** The decoder mirrors it: fconv52 .. fconv12 (each with batch norm), then fconv11 to RGB. */
const DECODER = [
  [160, 1], // fconv52
  [256, 1], // fconv51
  [256, 2], // fconv43
  [128, 1], // fconv42
  [192, 1], // fconv41
  [192, 2], // fconv33
  [96, 1], // fconv32
  [128, 1], // fconv31
  [128, 2], // fconv23
  [64, 1], // fconv22
  [64, 1], // fconv21
  [64, 2], // fconv13
  [32, 1], // fconv12
];

/** 3x3 convolution without bias, then batch norm (scale and shift per channel). */
const convBn = (cin: number, cout: number) => 9 * cin * cout + 2 * cout;
/** Linear layer with bias. */
const fc = (fin: number, fout: number) => fin * fout + fout;

function encoderParams(width: number, nf = 320 * width): number {
  let cin = 3, total = 0;
  ENCODER.forEach(([c], i) => {
    const cout = i === ENCODER.length - 1 ? nf : c * width;
    total += convBn(cin, cout);
    cin = cout;
  });
  return total;
}

function decoderParams(width: number, size: number, np: number, nz: number): number {
  const nf = 320 * width, base = size / 16;
  let total = fc(nf + np + nz, nf * base * base);
  let cin = nf;
  for (const [c] of DECODER) {
    total += convBn(cin, c * width);
    cin = c * width;
  }
  return total + 9 * cin * 3; // fconv11: 3x3 transposed conv to RGB, no bias, no batch norm
}

const discriminatorParams = (width: number, nd: number, np: number) =>
  encoderParams(width) + fc(320 * width, nd + 1 + np);

Deno.test("graphs: the hand-written counts are the paper's", () => {
  assert.equal(encoderParams(1), 2_861_984);
  assert.equal(discriminatorParams(1, 200, 13), 2_930_678);
  assert.equal(decoderParams(1, 96, 13, 50), 7_285_024);
  // The paper's generator is encoder + decoder.
  assert.equal(encoderParams(1) + decoderParams(1, 96, 13, 50), 10_147_008);
});

Deno.test("graphs: parameter counts at paper scale match the summary", () => {
  assert.equal(networkTotals(load("graphs/encoder.yaml").networks[0]).params, encoderParams(1));
  assert.equal(
    networkTotals(load("graphs/discriminator.yaml").networks[0]).params,
    discriminatorParams(1, 200, 13),
  );
  assert.equal(
    networkTotals(load("graphs/decoder.yaml").networks[0]).params,
    decoderParams(1, 96, 13, 50),
  );
  const model = load("graphs/drgan.yaml");
  assert.deepEqual(model.networks.map((n) => n.name), ["encoder", "decoder", "discriminator"]);
  assert.equal(params(model, "encoder"), 2_861_984);
  assert.equal(params(model, "decoder"), 7_285_024);
  assert.equal(params(model, "discriminator"), 2_930_678);
  assert.equal(params(model, "encoder") + params(model, "decoder"), 10_147_008);
  // `check` prints each player's total: the generator's is the one the paper quotes
  const summary = summarise(model);
  assert.match(summary, /^player g \(encoder \+ decoder\): 10,147,008 parameters$/m);
  assert.match(summary, /^player d \(discriminator\): 2,930,678 parameters$/m);
});

Deno.test("graphs: drgan-small parameter counts match the hand count", () => {
  // 32x32 faces, a quarter of the channels (Nf = 80), 40 identities.
  const model = load("graphs/drgan-small.yaml");
  assert.equal(model.params.size, 32);
  assert.equal(params(model, "encoder"), encoderParams(0.25));
  assert.equal(params(model, "decoder"), decoderParams(0.25, 32, 13, 50));
  assert.equal(params(model, "discriminator"), discriminatorParams(0.25, 40, 13));
  assert.equal(encoderParams(0.25), 179_816);
  assert.equal(decoderParams(0.25, 32, 13, 50), 225_736);
  assert.equal(discriminatorParams(0.25, 40, 13), 184_190);
});

/** MACs of the layers of one op, per sample. */
function macsOf(n: TypedNetwork, op: string): number {
  return layerStats(n).filter((l) => l.op === op).reduce((s, l) => s + l.macs, 0);
}

Deno.test("graphs: encoder MACs per sample match the hand count", () => {
  const enc = load("graphs/encoder.yaml").networks[0];
  // A 3x3 conv costs 9 * cin * cout MACs per output pixel; 'same' stride 2 halves the size.
  let size = 96, cin = 3, conv = 0, bn = 0, elems = 0;
  for (const [cout, stride] of ENCODER) {
    size /= stride;
    conv += 9 * cin * cout * size * size;
    bn += 2 * cout * size * size; // batch norm: 2 per element
    elems += cout * size * size;
    cin = cout;
  }
  assert.equal(size, 6);
  const pool = 320 * 6 * 6; // global average pool: 1 per input element
  assert.equal(macsOf(enc, "conv2d"), conv);
  assert.equal(conv, 934_944_768);
  assert.equal(macsOf(enc, "batch_norm"), bn);
  assert.equal(macsOf(enc, "avg_pool"), pool);
  // ELU is either free (no MAC rule) or one per element; slices are free.
  const elu = macsOf(enc, "elu");
  assert.ok(elu === 0 || elu === elems, `elu MACs ${elu}`);
  assert.equal(networkTotals(enc).macs, conv + bn + pool + elu);
  if (elu === 0) assert.equal(networkTotals(enc).macs, 938_603_520);
});

Deno.test("graphs: decoder transposed-conv MACs per sample match the hand count", () => {
  const dec = load("graphs/decoder.yaml").networks[0];
  // A 3x3 transposed conv costs 9 * cin * cout MACs per INPUT pixel; stride 2 doubles the size.
  let size = 96 / 16, cin = 320, deconv = 0;
  for (const [cout, stride] of [...DECODER, [3, 1]]) {
    deconv += 9 * cin * cout * size * size;
    size *= stride;
    cin = cout;
  }
  assert.equal(size, 96);
  assert.equal(macsOf(dec, "conv_transpose2d"), deconv);
  assert.equal(deconv, 934_944_768); // the encoder's convolutions, mirrored
  assert.equal(macsOf(dec, "linear"), (320 + 13 + 50) * 320 * 6 * 6);
  const stats = layerStats(dec);
  assert.equal(stats.find((l) => l.name === "fconv11")!.macs, 9 * 32 * 3 * 96 * 96);
  assert.equal(stats.find((l) => l.name === "fconv43.deconv")!.macs, 9 * 256 * 256 * 6 * 6);
});

// --- shapes and overrides ---------------------------------------------------------

Deno.test("graphs: output shapes at paper scale", () => {
  const model = load("graphs/drgan.yaml");
  assert.deepEqual(outputShapes(net(model, "encoder")), { feature: '["B",320]' });
  assert.deepEqual(outputShapes(net(model, "decoder")), { image: '["B",3,96,96]' });
  assert.deepEqual(outputShapes(net(model, "discriminator")), {
    logits: '["B",214]',
    identity: '["B",200]',
    fake: '["B",1]',
    pose: '["B",13]',
  });
  assert.ok(model.step, "drgan.yaml has a training step");
});

Deno.test("graphs: --set Nd=100 changes the discriminator's outputs only", () => {
  const base = load("graphs/drgan.yaml");
  const model = load("graphs/drgan.yaml", "Nd=100");
  assert.equal(model.params.Nd, 100);
  assert.deepEqual(outputShapes(net(model, "discriminator")), {
    logits: '["B",114]',
    identity: '["B",100]',
    fake: '["B",1]',
    pose: '["B",13]',
  });
  assert.equal(params(model, "discriminator"), discriminatorParams(1, 100, 13));
  assert.equal(params(model, "discriminator"), 2_930_678 - 100 * (320 + 1));
  assert.equal(params(model, "encoder"), params(base, "encoder"));
  assert.equal(params(model, "decoder"), params(base, "decoder"));
});

Deno.test("graphs: --set multi=true gives the encoder a confidence output", () => {
  for (const file of ["graphs/encoder.yaml", "graphs/drgan.yaml"]) {
    const model = load(file, "multi=true");
    const enc = net(model, "encoder");
    assert.deepEqual(outputShapes(enc), { feature: '["B",320]', confidence: '["B",1]' });
    assert.deepEqual(enc.shapes.get("conv53.elu"), ["B", 321, 6, 6]);
    assert.equal(networkTotals(enc).params, encoderParams(1, 321));
    assert.equal(networkTotals(enc).params, 2_861_984 + 9 * 160 + 2);
  }
  // The discriminator's trunk passes multi: false; it is unchanged.
  const model = load("graphs/drgan.yaml", "multi=true");
  assert.equal(params(model, "discriminator"), 2_930_678);
  // Without the override the confidence layers are switched off and not an output.
  const plain = net(load("graphs/drgan.yaml"), "encoder");
  assert.ok(!plain.nodes.some((n) => n.name.startsWith("confidence")));
});

Deno.test("graphs: --set encoder.width=0.5 changes the encoder only", async () => {
  // Without the training step: its encoder output feeds the decoder, which expects 320 features.
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/nets.yaml`;
    await Deno.writeTextFile(file, `extends: ${Deno.cwd()}/graphs/drgan.yaml\ntraining: null\n`);
    const base = load(file);
    assert.equal(base.step, undefined, "training: null deletes the section");
    const model = load(file, "encoder.width=0.5");
    assert.equal(params(model, "encoder"), encoderParams(0.5));
    assert.equal(params(model, "encoder"), 716_752);
    assert.deepEqual(outputShapes(net(model, "encoder")), { feature: '["B",160]' });
    assert.equal(params(model, "decoder"), params(base, "decoder"));
    assert.equal(params(model, "discriminator"), params(base, "discriminator"));
    assert.equal(model.params.width, 1, "the composition's own parameter is unchanged");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // With the step, the encoder's feature size has to stay what the decoder takes.
  const model = load("graphs/drgan.yaml", "encoder.width=0.5", "encoder.Nf=320");
  assert.equal(params(model, "encoder"), encoderParams(0.5, 320));
  assert.equal(params(model, "decoder"), 7_285_024);
  assert.equal(params(model, "discriminator"), 2_930_678);
});

Deno.test("graphs: --set size=64 rescales every network consistently", () => {
  const model = load("graphs/drgan.yaml", "size=64");
  assert.deepEqual(outputShapes(net(model, "decoder")), { image: '["B",3,64,64]' });
  assert.equal(params(model, "decoder"), decoderParams(1, 64, 13, 50));
  assert.equal(params(model, "encoder"), 2_861_984, "convolutions do not depend on the size");
});

Deno.test("graphs: the training step's network calls share their networks' parameters", () => {
  for (const file of ["graphs/drgan.yaml", "graphs/drgan-small.yaml"]) {
    const model = load(file);
    const step = model.step!;
    const calls = step.nodes.filter((n) => n.paramScope);
    assert.ok(calls.length > 0);
    for (const n of calls) {
      const [network, ...rest] = n.paramScope!.split(".");
      const own = net(model, network).nodes.find((m) => m.name === rest.join("."));
      assert.ok(own, `${n.name}: no layer ${n.paramScope}`);
      const shapes = (p: typeof own.params) =>
        Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.shape]));
      assert.deepEqual(shapes(n.params), shapes(own.params), `${file}: ${n.name}`);
    }
    // Both discriminator calls use the same parameters.
    const scopes = (prefix: string) =>
      calls.filter((n) => n.name.startsWith(prefix)).map((n) => n.paramScope).sort();
    assert.deepEqual(scopes("d_real."), scopes("d_fake."));
  }
});
