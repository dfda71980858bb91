// The one base class for errors caused by the user's input (a graph, a flag, a file,
// a machine without an adapter): its message is complete for a person, so the
// command-line tools print it without a stack trace and exit 1. Anything else
// that escapes is an internal error. Library code throws these; only cli/ prints.

export class UserError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad command-line flag or argument: printed with the command's usage. */
export class UsageError extends UserError {}
