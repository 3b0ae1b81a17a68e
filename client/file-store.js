// A JSON file as the client's state store, for Node (the CLI). Browsers and React Native use
// MemoryStore or KeyValueStore from index.js; this module is apart because it imports node:fs.

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseState, serializeState } from "./src/store.js";

export class FileStore {
  /** @param {string} path */
  constructor(path) {
    this.path = path;
  }

  /** The state in the file, or null if there is no file (a new or lost state). */
  async load() {
    let text;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if (/** @type {{ code?: string }} */ (error).code === "ENOENT") return null;
      throw error;
    }
    try {
      return parseState(text);
    } catch (error) {
      throw new Error(`${this.path}: ${/** @type {Error} */ (error).message}`);
    }
  }

  /**
   * Writes a temporary file and renames it over the old one, so a crash never leaves half a state.
   * The file holds the secret token: readable by its owner only.
   * @param {import("./index.js").State} state
   */
  async save(state) {
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, serializeState(state), { mode: 0o600 });
    await rename(temporary, this.path);
  }
}
