import { deepEqual, equal, throws } from "node:assert/strict";
import { DataError } from "../../src/data/errors.ts";
import { parseManifest, splitCSV } from "../../src/data/manifest.ts";

const isData = (re: RegExp) => (e: unknown) => e instanceof DataError && re.test(e.message);

Deno.test("manifest without header: path, identity, pose class, optional illumination", () => {
  const m = parseManifest('# faces\na.png, 001, 6\n\n"b, c.jpg",002,0,3\n', "m.csv");
  deepEqual(m.rows, [
    { line: 2, path: "a.png", identity: "001", pose: 6, light: undefined },
    { line: 4, path: "b, c.jpg", identity: "002", pose: 0, light: 3 },
  ]);
});

Deno.test("manifest with a yaw header maps degrees to the nearest class", () => {
  const m = parseManifest(
    "path,identity,yaw,illumination\nx.png,ann,-90,\ny.png,bob,44,1\nz.png,bob,15deg,0",
    "m.csv",
  );
  deepEqual(m.rows.map((r) => r.pose), [0, 9, 7]);
  equal(m.rows[0].light, undefined);
  // without a header, a value ending in deg is a yaw
  equal(parseManifest("a.png,1,-30deg", "m.csv").rows[0].pose, 4);
});

Deno.test("bad manifest lines name the file and line", () => {
  throws(
    () => parseManifest("a.png,1,13", "m.csv"),
    isData(/^m\.csv:1: pose class 13 is out of range 0\.\.12$/),
  );
  throws(
    () => parseManifest("a.png,1,6\nb.png,1,120deg", "m.csv"),
    isData(/^m\.csv:2: yaw 120 is out of range/),
  );
  throws(() => parseManifest("a.png,1", "m.csv"), isData(/^m\.csv:1: expected 3 or 4 columns/));
  throws(
    () => parseManifest("a.png,1,front", "m.csv"),
    isData(/^m\.csv:1: pose 'front' is not an integer/),
  );
  throws(() => parseManifest("a.png,1,6,-1", "m.csv"), isData(/^m\.csv:1: illumination '-1'/));
  throws(() => parseManifest("a.png,,6", "m.csv"), isData(/^m\.csv:1: empty identity/));
  throws(
    () => parseManifest("path,who,pose\n", "m.csv"),
    isData(/^m\.csv:1: unknown column 'who'/),
  );
  throws(() => parseManifest("\n# nothing\n", "m.csv"), isData(/^m\.csv:1: manifest is empty/));
});

Deno.test("with skipBad, bad lines are collected and good ones kept", () => {
  const m = parseManifest("a.png,1,6\nb.png,1,99\nc.png,2\nd.png,2,12", "m.csv", true);
  deepEqual(m.rows.map((r) => r.path), ["a.png", "d.png"]);
  deepEqual(m.bad.map((b) => b.line), [2, 3]);
  equal(m.bad[0].message, "m.csv:2: pose class 99 is out of range 0..12");
});

Deno.test("CSV splitting handles quotes", () => {
  deepEqual(splitCSV(' "a ""b"" c" , d,'), ['a "b" c', "d", ""]);
  throws(() => splitCSV('"open'), /unterminated/);
});
