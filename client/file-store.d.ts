import type { State, Store } from "./index.js";

/** The state as a JSON file (Node only): written atomically, mode 0600; a missing file is no state. */
export class FileStore implements Store {
  constructor(path: string);
  readonly path: string;
  load(): Promise<State | null>;
  save(state: State): Promise<void>;
}
