import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { DataError } from "../../src/data/errors.ts";
import { formatSummary, loadFolder } from "../../src/data/folder.ts";
import { makeJPEG, makePNG } from "./helpers.ts";

async function folder(files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "drgan-data-" });
  for (const [name, body] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof body === "string") await Deno.writeTextFile(path, body);
    else await Deno.writeFile(path, body);
  }
  return dir;
}

const isData = (re: RegExp) => (e: unknown) => e instanceof DataError && re.test(e.message);

Deno.test("a folder of PNG and JPEG files loads, resized, with dense identity labels", async () => {
  const dir = await folder({
    "img/a.png": makePNG(40, 30, [255, 0, 0]),
    "img/b.jpg": makeJPEG(20, 20),
    "img/c.png": makePNG(8, 8, [0, 0, 255]),
    "faces.csv":
      "path,identity,yaw,illumination\nimg/a.png,7,0,2\nimg/b.jpg,3,-90,0\nimg/c.png,7,90,1\n",
  });
  try {
    const { set, identityNames, summary } = await loadFolder(`${dir}/faces.csv`, { imageSize: 16 });
    equal(set.size, 3);
    equal(set.imageSize, 16);
    deepEqual(identityNames, ["3", "7"]);
    deepEqual([...set.identity], [1, 0, 1]);
    deepEqual([...set.pose], [6, 0, 12]);
    equal(set.numLights, 3);
    const red = set.get(0).image;
    ok(red[0] > 0.99 && red[16 * 16] < -0.99, "red stays red after resizing");
    equal(summary.skipped.length, 0);
    equal(summary.poseCounts[6], 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad data: one message naming the manifest line, or skipped and counted", async () => {
  const good = makePNG(8, 8, [10, 20, 30]);
  const corrupt = good.slice(0, 30);
  const dir = await folder({
    "ok.png": good,
    "bad.png": corrupt,
    "junk.jpg": "not an image",
    "m.csv": "ok.png,1,6\nmissing.png,1,6\nbad.png,2,6\nok.png,2,14\njunk.jpg,3,0\nok.png,3,0\n",
    "empty.csv": "# nothing here\n",
  });
  const m = `${dir}/m.csv`;
  try {
    await rejects(
      loadFolder(m, { imageSize: 8 }),
      isData(new RegExp(`^${m}:2: missing\\.png: file not found$`)),
    );
    await rejects(
      loadFolder(`${dir}/empty.csv`, { imageSize: 8 }),
      isData(/empty\.csv:1: manifest is empty/),
    );
    await rejects(
      loadFolder(`${dir}/nope.csv`, { imageSize: 8 }),
      isData(/nope\.csv: manifest not found/),
    );
    const { set, summary } = await loadFolder(m, { imageSize: 8, skipBad: true });
    equal(set.size, 2);
    deepEqual(summary.skipped.map((s) => s.line), [2, 3, 4, 5]);
    ok(/m\.csv:3: bad\.png: cannot decode image: PNG: truncated/.test(summary.skipped[1].message));
    ok(/m\.csv:4: pose class 14 is out of range/.test(summary.skipped[2].message));
    ok(
      /m\.csv:5: junk\.jpg: cannot decode image: not a PNG or JPEG/.test(
        summary.skipped[3].message,
      ),
    );
    const text = formatSummary(summary);
    ok(text.includes("2 images of 2 identities") && text.includes("4 skipped of 6 lines"), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a manifest whose every line is bad is an error even with skipBad", async () => {
  const dir = await folder({ "m.csv": "gone.png,1,6\n" });
  try {
    await rejects(
      loadFolder(`${dir}/m.csv`, { imageSize: 8, skipBad: true }),
      isData(/no usable images \(1 bad line, first: .*m\.csv:1: gone\.png: file not found\)/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("manifest paths stay inside the manifest's folder unless allowed", async () => {
  const outside = await folder({ "x.png": makePNG(8, 8, [0, 255, 0]) });
  const dir = await folder({
    "in/m.csv": `../x.png,1,6\n`,
    "in/abs.csv": `${outside}/x.png,1,6\n`,
    "in/dev.csv": `/dev/zero,1,6\n`,
  });
  try {
    await Deno.symlink(`${outside}/x.png`, `${dir}/in/link.png`);
    await Deno.writeTextFile(`${dir}/in/link.csv`, "link.png,1,6\n");
    for (const m of ["m", "abs", "link"]) {
      await rejects(
        loadFolder(`${dir}/in/${m}.csv`, { imageSize: 8 }),
        isData(/:1: .*x\.png|link\.png: the path leads outside the manifest's folder/),
      );
    }
    const allowed = await loadFolder(`${dir}/in/abs.csv`, { imageSize: 8, allowOutside: true });
    equal(allowed.set.size, 1);
    // a device is never read, allowed or not
    await rejects(
      loadFolder(`${dir}/in/dev.csv`, { imageSize: 8, allowOutside: true }),
      isData(/dev\.csv:1: \/dev\/zero: cannot read \(not a regular file\)/),
    );
    await rejects(
      loadFolder("/dev/zero", { imageSize: 8 }),
      isData(/^\/dev\/zero: cannot read manifest \(not a regular file\)$/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("decoded image size: capped by default, a caller may allow more or less", async () => {
  const dir = await folder({ "a.png": makePNG(40, 30, [255, 0, 0]), "m.csv": "a.png,1,6\n" });
  try {
    await rejects(
      loadFolder(`${dir}/m.csv`, { imageSize: 8, maxPixels: 1000 }),
      isData(/m\.csv:1: a\.png: cannot decode image: PNG: 40x30 is more than the 1000 pixels/),
    );
    const ok = await loadFolder(`${dir}/m.csv`, { imageSize: 8, maxPixels: 1200 });
    equal(ok.set.size, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
