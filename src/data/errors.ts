// Bad input to the data pipeline: a message complete enough to act on (the file, the
// line and what is wrong), printed without a stack trace by the command-line tools.
import { UserError } from "../errors.ts";
export class DataError extends UserError {}
