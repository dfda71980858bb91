import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
console.log("gpu?", typeof (navigator as any).gpu);
try {
  const ok = await tf.setBackend("webgpu");
  await tf.ready();
  console.log("setBackend", ok, tf.getBackend());
  const a = tf.randomNormal([64, 64]);
  const b = tf.matMul(a, a);
  console.log((await b.data())[0]);
} catch (e) {
  console.log("ERR", e);
}
