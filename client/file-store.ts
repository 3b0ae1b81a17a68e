// A JSON file as the client's state store, for Node (the CLI). Browsers and React Native use
// MemoryStore or KeyValueStore from index.ts; this module is apart because it imports node:fs.

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { type State, type Store, parseState, serializeState } from "./src/store";

/** The state as a JSON file (Node only): written atomically, mode 0600; a missing file is no state. */
export class FileStore implements Store {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** The state in the file, or null if there is no file (a new or lost state). */
  async load(): Promise<State | null> {
    let text;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return null;
      throw error;
    }
    try {
      return parseState(text);
    } catch (error) {
      throw new Error(`${this.path}: ${(error as Error).message}`);
    }
  }

  /**
   * Writes a temporary file and renames it over the old one, so a crash never leaves half a state.
   * The file holds the secret token: readable by its owner only.
   */
  async save(state: State): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, serializeState(state), { mode: 0o600 });
    await rename(temporary, this.path);
  }
}
