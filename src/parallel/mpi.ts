// The MPI binding data-parallel training uses: the C library reached through
// Deno's FFI (`--allow-ffi`), no home-made transport. Only what training needs:
// init, rank and size, broadcast, all-reduce (sum), abort and finalize, on
// MPI_COMM_WORLD with float32 data. Open MPI is the tested library; MPICH is bound
// by its ABI's fixed integer handles (see docs/scale-out.md).
import { UserError } from "../errors.ts";

/** The collective operations a data-parallel trainer needs; a process alone is rank 0 of 1. */
export interface Collective {
  readonly rank: number;
  readonly size: number;
  /** Element-wise sum over every rank, in place. */
  allreduceSum(data: Float32Array): void;
  /** Rank 0's values to every rank, in place. */
  broadcast(data: Float32Array): void;
}

/** The MPI library is missing or unusable: the message names the package to install. */
export class MpiError extends UserError {}

export const MPI_INSTALL = "apt-get install -y openmpi-bin libopenmpi-dev";

/** How many processes the launcher started (Open MPI or an MPICH/PMI launcher); 1 without one. */
export function launchedSize(env = (k: string) => Deno.env.get(k)): number {
  const n = Number(env("OMPI_COMM_WORLD_SIZE") ?? env("PMI_SIZE") ?? 1);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/** How many ranks the launcher started on this machine (they share its cores); 1 without one. */
export function localSize(env = (k: string) => Deno.env.get(k)): number {
  const n = Number(env("OMPI_COMM_WORLD_LOCAL_SIZE") ?? env("MPI_LOCALNRANKS") ?? 1);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

type Handle = "pointer" | "i32";

function functions(h: Handle) {
  return {
    MPI_Init: { parameters: ["pointer", "pointer"], result: "i32" },
    MPI_Comm_rank: { parameters: [h, "buffer"], result: "i32" },
    MPI_Comm_size: { parameters: [h, "buffer"], result: "i32" },
    MPI_Bcast: { parameters: ["buffer", "i32", h, "i32", h], result: "i32" },
    // The send buffer is MPI_IN_PLACE, a sentinel address: a pointer, not a buffer.
    MPI_Allreduce: { parameters: ["pointer", "buffer", "i32", h, h, h], result: "i32" },
    MPI_Abort: { parameters: [h, "i32"], result: "i32" },
    MPI_Finalize: { parameters: [], result: "i32" },
  } as const;
}

/** A library's file names and how its MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE look. */
interface Flavour {
  name: string;
  files: string[];
  handle: Handle;
  /** symbols beyond the functions: Open MPI's handles are globals */
  statics: Deno.ForeignLibraryInterface;
  // deno-lint-ignore no-explicit-any
  handles(symbols: any): { world: unknown; float: unknown; sum: unknown };
  inPlace: bigint;
}

const FLAVOURS: Flavour[] = [
  {
    // Open MPI's handles are the addresses of global objects (mpi.h: &ompi_mpi_comm_world);
    // a static "pointer" symbol is that address.
    name: "Open MPI",
    files: ["libmpi.so.40"],
    handle: "pointer",
    statics: {
      ompi_mpi_comm_world: { type: "pointer" },
      ompi_mpi_float: { type: "pointer" },
      ompi_mpi_op_sum: { type: "pointer" },
    },
    handles: (s) => ({
      world: s.ompi_mpi_comm_world,
      float: s.ompi_mpi_float,
      sum: s.ompi_mpi_op_sum,
    }),
    inPlace: 1n,
  },
  {
    // MPICH's handles are integers fixed by its ABI (mpi.h of MPICH 3 and 4).
    name: "MPICH",
    files: ["libmpi.so.12", "libmpich.so.12"],
    handle: "i32",
    statics: {},
    handles: () => ({ world: 0x44000000, float: 0x4c00040a, sum: 0x58000003 }),
    inPlace: -1n,
  },
];

/**
 * Opens the MPI library and initialises it (every rank calls this once; a process
 * started without mpirun becomes rank 0 of 1). `file`: the library to load instead
 * of the usual names (default: $DRGAN_MPI_LIB), for an MPI installed elsewhere.
 */
export function openMpi(opts: { file?: string } = {}): Mpi {
  const file = opts.file ?? Deno.env.get("DRGAN_MPI_LIB");
  const tried = new Set<string>();
  // The launcher's own library first: MPICH's sets PMI_SIZE, Open MPI's OMPI_*.
  const mpich = Deno.env.get("PMI_SIZE") !== undefined &&
    Deno.env.get("OMPI_COMM_WORLD_SIZE") === undefined;
  for (const f of mpich ? [...FLAVOURS].reverse() : FLAVOURS) {
    // A library of the other flavour lacks this one's symbols: dlopen refuses it.
    for (const name of file ? [file] : f.files) {
      tried.add(name);
      let lib;
      try {
        lib = Deno.dlopen(name, { ...functions(f.handle), ...f.statics });
      } catch (e) {
        if (e instanceof Deno.errors.NotCapable) {
          throw new MpiError("MPI needs FFI: run deno with --allow-ffi (deno task train has it)");
        }
        continue;
      }
      const mpi = new Mpi(f, lib);
      if (mpi.size === 1 && launchedSize() > 1) {
        throw new MpiError(
          `${name} (${f.name}) sees 1 process, but the launcher started ${launchedSize()}: ` +
            `the library is not the launcher's (DRGAN_MPI_LIB names the right one)`,
        );
      }
      return mpi;
    }
  }
  throw new MpiError(
    `this run was started by mpirun, but no MPI library could be loaded (tried ` +
      `${[...tried].join(", ")}): install it with \`${MPI_INSTALL}\``,
  );
}

export class Mpi implements Collective {
  readonly rank: number;
  readonly size: number;
  readonly library: string;
  private world: unknown;
  private float: unknown;
  private sum: unknown;
  private inPlace: Deno.PointerValue;
  private finalized = false;

  // deno-lint-ignore no-explicit-any
  private fns: any;

  constructor(flavour: Flavour, lib: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>) {
    this.library = flavour.name;
    this.fns = lib.symbols;
    const h = flavour.handles(lib.symbols);
    this.world = h.world;
    this.float = h.float;
    this.sum = h.sum;
    this.inPlace = Deno.UnsafePointer.create(flavour.inPlace & 0xffffffffffffffffn);
    this.check("MPI_Init", this.fns.MPI_Init(null, null));
    const r = new Int32Array(1), n = new Int32Array(1);
    this.check("MPI_Comm_rank", this.call("MPI_Comm_rank", this.world, r));
    this.check("MPI_Comm_size", this.call("MPI_Comm_size", this.world, n));
    this.rank = r[0];
    this.size = n[0];
  }

  private call(name: keyof ReturnType<typeof functions>, ...args: unknown[]): number {
    return this.fns[name](...args);
  }

  private check(what: string, code: number) {
    if (code !== 0) throw new Error(`${what} failed with MPI error code ${code}`);
  }

  allreduceSum(data: Float32Array): void {
    if (this.size === 1) return;
    this.check(
      "MPI_Allreduce",
      this.call("MPI_Allreduce", this.inPlace, data, data.length, this.float, this.sum, this.world),
    );
  }

  broadcast(data: Float32Array): void {
    if (this.size === 1) return;
    this.check("MPI_Bcast", this.call("MPI_Bcast", data, data.length, this.float, 0, this.world));
  }

  /** Ends every rank of the job (a failed rank calls it so that the others do not hang). */
  abort(code: number): never {
    this.call("MPI_Abort", this.world, code);
    Deno.exit(code);
  }

  finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.check("MPI_Finalize", this.fns.MPI_Finalize());
  }
}
