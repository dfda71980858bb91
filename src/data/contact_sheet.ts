// A contact sheet of synthetic faces, rows identities and columns the 13 poses, so a
// person can see what the model learns from.
import { identityFromSeed, identityNumber, type Split } from "./identity.ts";
import { fromCHW } from "./image.ts";
import { encodePNG } from "./png.ts";
import { NUM_POSES } from "./pose.ts";
import { renderFace } from "./synthetic.ts";
import { NUM_LIGHTS, viewFor } from "./view.ts";

export interface SheetOptions {
  seed: number;
  ids: number;
  size: number;
  split?: Split;
  /** one light for every row; by default row r uses light r mod NUM_LIGHTS */
  light?: number;
  gap?: number;
}

/** Renders the sheet and returns it as PNG bytes. */
export function contactSheet(o: SheetOptions): Uint8Array {
  const gap = o.gap ?? 2;
  const w = NUM_POSES * o.size + (NUM_POSES + 1) * gap;
  const h = o.ids * o.size + (o.ids + 1) * gap;
  const px = new Uint8Array(w * h * 3).fill(255);
  const img = new Float32Array(3 * o.size * o.size);
  const rgb = new Uint8Array(o.size * o.size * 3);
  for (let row = 0; row < o.ids; row++) {
    const id = identityNumber(o.split ?? "train", row);
    const person = identityFromSeed(o.seed, id);
    const light = o.light ?? row % NUM_LIGHTS;
    for (let pose = 0; pose < NUM_POSES; pose++) {
      renderFace(person, viewFor(o.seed, id, pose, light), o.size, img);
      fromCHW(img, o.size, 0, rgb);
      const x0 = gap + pose * (o.size + gap), y0 = gap + row * (o.size + gap);
      for (let y = 0; y < o.size; y++) {
        px.set(rgb.subarray(y * o.size * 3, (y + 1) * o.size * 3), ((y0 + y) * w + x0) * 3);
      }
    }
  }
  return encodePNG(px, w, h, 3);
}
