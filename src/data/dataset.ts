// The interface every data source offers training (src/train/data.ts), and ImageSet, the in-memory store
// (8-bit images plus labels) behind cached synthetic sets and real folders.
import { toCHW } from "./image.ts";
import { NUM_POSES } from "./pose.ts";

export interface Labels {
  /** 0..numIdentities-1 within this dataset */
  identity: number;
  /** 0..12; class k has yaw (k - 6) * 15 degrees */
  pose: number;
  /** illumination index, 0..numLights-1 (0 when the source has none) */
  light: number;
}

export interface Sample extends Labels {
  /** CHW, 3 x imageSize x imageSize, in [-1, 1] */
  image: Float32Array;
}

export interface Dataset {
  /** number of images */
  readonly size: number;
  /** images are imageSize x imageSize */
  readonly imageSize: number;
  readonly numIdentities: number;
  readonly numPoses: number;
  readonly numLights: number;
  /** labels of image i without producing the image */
  labels(i: number): Labels;
  /** writes image i (CHW, [-1, 1]) into out at offset */
  read(i: number, out: Float32Array, offset?: number): void;
  get(i: number): Sample;
}

export function checkIndex(d: Dataset, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= d.size) {
    throw new RangeError(`image index ${i} is not in 0..${d.size - 1}`);
  }
}

/** Images held as 8-bit RGB (HWC) with Int32 labels: a quarter of the memory of floats. */
export class ImageSet implements Dataset {
  readonly numPoses = NUM_POSES;
  constructor(
    readonly imageSize: number,
    readonly pixels: Uint8Array,
    readonly identity: Int32Array,
    readonly pose: Int32Array,
    readonly light: Int32Array,
    readonly numIdentities: number,
    readonly numLights: number,
  ) {
    const n = identity.length;
    if (
      pose.length !== n || light.length !== n || pixels.length !== n * imageSize * imageSize * 3
    ) {
      throw new RangeError("ImageSet: label and pixel counts disagree");
    }
  }

  get size(): number {
    return this.identity.length;
  }

  labels(i: number): Labels {
    checkIndex(this, i);
    return { identity: this.identity[i], pose: this.pose[i], light: this.light[i] };
  }

  read(i: number, out: Float32Array, offset = 0): void {
    checkIndex(this, i);
    const n = this.imageSize * this.imageSize * 3;
    toCHW(this.pixels.subarray(i * n, (i + 1) * n), this.imageSize, out, offset);
  }

  get(i: number): Sample {
    const image = new Float32Array(3 * this.imageSize * this.imageSize);
    this.read(i, image);
    return { ...this.labels(i), image };
  }
}
