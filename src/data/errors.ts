// Bad input to the data pipeline: a message complete enough to act on (the file, the
// line and what is wrong), printed without a stack trace by the command-line tools.
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataError";
  }
}
