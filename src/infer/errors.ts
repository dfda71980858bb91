// The inference API's error: bad input (a model, an image, an option) explained fully,
// so the command line prints it without a stack trace.
import { UserError } from "../errors.ts";

/** Bad input to the inference API: the message is complete for a user (no stack needed). */
export class InferError extends UserError {}
