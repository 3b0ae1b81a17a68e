// icd: the command-line client of the ICD service. `icd --help`; see README, "Client library and CLI".
// Node runs it through client/icd.mjs (package.json "bin"), which bundles it on the fly.

import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { Command, Option } from "commander";
import { isSupportedCountry } from "libphonenumber-js";
import { FileStore } from "./file-store";
import { IcdClient, type SyncProgress, normalisePhone, parseContacts, regionOf } from "./index";

const defaultState = () => join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "icd", "state.json");

const program = new Command("icd")
  .description("Client of the ICD incremental contact discovery service: which of your contacts are registered.")
  .addOption(new Option("--server <url>", "service base URL").env("ICD_SERVER").default("http://localhost:8787"))
  .addOption(new Option("--state <file>", "state file (holds your secret token)").env("ICD_STATE").default(defaultState(), "~/.config/icd/state.json"))
  .option("--json", "machine-readable output on stdout")
  .showHelpAfterError();

/** The options of every command, global ones included. */
interface Options {
  server: string;
  state: string;
  json?: boolean;
  region?: string;
  phone?: string;
}

function setup(command: Command) {
  const opts = command.optsWithGlobals<Options>();
  if (opts.region !== undefined && !isSupportedCountry(opts.region.toUpperCase())) fail(`unknown region ${JSON.stringify(opts.region)} (use a country code such as DE or US)`);
  const client = new IcdClient({ server: opts.server, store: new FileStore(opts.state) });
  return { opts, client };
}

program
  .command("register")
  .description("register the user of a phone number, with a fresh secret token kept in the state file")
  .requiredOption("--phone <number>", "your phone number (international, or national with --region)")
  .option("--region <CC>", "country of a number in national format, e.g. DE")
  .action(async (_options, command: Command) => {
    const { opts, client } = setup(command);
    const { phone } = await client.register({ phone: opts.phone!, region: opts.region });
    if (opts.json) print({ phone, registered: true });
    else console.log(`registered ${phone} (state: ${opts.state})`);
  });

program
  .command("sync")
  .description("check which contacts are registered: full the first time, incremental afterwards")
  .argument("[contacts]", "CSV (a column of numbers) or vCard file; omitted: the address book of the last sync")
  .option("--region <CC>", "country of numbers in national format (default: that of your own number)")
  .action(async (file: string | undefined, _options, command: Command) => {
    const { opts, client } = setup(command);
    const state = await client.load();
    if (!state.user) fail(`no registered user in ${opts.state}: run \`icd register --phone <number>\` first`);
    const region = opts.region?.toUpperCase() ?? regionOf(state.user.phone);

    let numbers: string[] | undefined;
    const names = new Map<string, string>();
    if (file !== undefined) {
      const { contacts } = parseContacts(await readText(file));
      const invalid: string[] = [];
      numbers = [];
      for (const { phone, name } of contacts) {
        const e164 = normalisePhone(phone, region);
        if (e164 === null) invalid.push(phone);
        else {
          numbers.push(e164);
          if (name && !names.has(e164)) names.set(e164, name);
        }
      }
      if (invalid.length > 0) {
        const shown = invalid.slice(0, 5).map((s) => JSON.stringify(s)).join(", ");
        warn(`skipped ${invalid.length} ${invalid.length === 1 ? "entry that is" : "entries that are"} not a phone number${region ? ` (region ${region})` : " (no region: use --region)"}: ${shown}${invalid.length > 5 ? ", ..." : ""}`);
      }
      // An empty book would make the client forget every contact: surely a wrong file instead.
      if (numbers.length === 0) fail(`${file}: no phone numbers found`);
    } else if (Object.keys(state.contacts).length === 0) {
      fail("no contacts file given and no address book from an earlier sync");
    }

    const bar = progressBar(!opts.json && process.stderr.isTTY === true);
    const result = await client.sync(numbers, { region, onProgress: bar.update }).finally(bar.end);

    if (result.pending > 0) {
      const when = result.retryAfter === null ? "later" : `in ${duration(result.retryAfter)} (after ${new Date(Date.now() + result.retryAfter * 1000).toLocaleString()})`;
      warn(`${result.pending} contacts not checked yet (rate limit): run \`icd sync\` again ${when}`);
    }
    if (opts.json) {
      const out: Record<string, unknown> = { mode: result.mode, registered: result.registered, added: result.added, removed: result.removed };
      if (result.pending > 0) Object.assign(out, { pending: result.pending, retryAfter: result.retryAfter });
      print(out);
      return;
    }
    const added = new Set(result.added);
    const rows = [
      ...result.registered.map((phone) => [phone, names.get(phone) ?? "", added.has(phone) ? "registered (new)" : "registered"]),
      ...result.removed.map((phone) => [phone, names.get(phone) ?? "", "unregistered since last sync"]),
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    if (rows.length > 0) console.log(table(["NUMBER", "NAME", "STATUS"], rows));
    const total = Object.keys((await client.load()).contacts).length;
    console.log(
      `${result.mode} sync of ${total} contacts: ${result.registered.length} registered, ${result.added.length} added, ${result.removed.length} removed` +
        (result.pending > 0 ? `, ${result.pending} pending` : ""),
    );
  });

program
  .command("status")
  .description("show the user, the last syncs and what the next sync will do")
  .action(async (_options, command: Command) => {
    const { opts, client } = setup(command);
    const s = await client.status();
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    if (opts.json) {
      print({ ...s, lastSync: iso(s.lastSync), lastFullSync: iso(s.lastFullSync), server: opts.server, state: opts.state });
      return;
    }
    console.log(
      table(
        ["", ""],
        [
          ["user", s.phone === null ? "(none)" : `${s.phone}${s.registered ? "" : " (not registered)"}`],
          ["server", opts.server],
          ["state file", opts.state],
          ["last sync", iso(s.lastSync) ?? "never"],
          ["last full sync", iso(s.lastFullSync) ?? "never"],
          ["contacts", String(s.contacts)],
          ["registered", String(s.knownRegistered)],
          ["next sync", `${s.nextMode}${s.dueForFullCheck > 0 && s.nextMode === "incremental" ? ` (${s.dueForFullCheck} contacts checked in full)` : ""}`],
        ],
        false,
      ),
    );
  });

program
  .command("unregister")
  .description("unregister your number from the service and forget its token")
  .action(async (_options, command: Command) => {
    const { opts, client } = setup(command);
    const { phone } = await client.unregister();
    if (opts.json) print({ phone, registered: false });
    else console.log(`unregistered ${phone}`);
  });

async function readText(file: string): Promise<string> {
  let bytes;
  try {
    bytes = await readFile(file);
  } catch (error) {
    fail(`cannot read ${file}: ${(error as Error).message}`);
  }
  const utf16 = bytes[0] === 0xff && bytes[1] === 0xfe;
  return new TextDecoder(utf16 ? "utf-16le" : "utf-8").decode(bytes);
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
const warn = (message: string) => process.stderr.write(`icd: ${message}\n`);
function fail(message: string): never {
  warn(message);
  process.exit(1);
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.ceil(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.ceil(seconds / 3600)} h`;
  return `${Math.ceil(seconds / 86400)} days`;
}

function table(header: string[], rows: string[][], withHeader = true): string {
  const all = withHeader ? [header, ...rows] : rows;
  const widths = header.map((_, col) => Math.max(...all.map((r) => (r[col] ?? "").length)));
  return all.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col] ?? 0))).join("  ")).join("\n");
}

/** A progress bar on stderr for syncs of at least 1,000 contacts, when stderr is a terminal. */
function progressBar(enabled: boolean) {
  let shown = false;
  return {
    update: (p: SyncProgress) => {
      if (!enabled || p.total < 1000) return;
      const width = 30;
      const filled = Math.round((p.done / p.total) * width);
      process.stderr.write(`\r${"#".repeat(filled)}${".".repeat(width - filled)} ${p.done}/${p.total} contacts checked (${p.kind})  `);
      shown = true;
    },
    end: () => {
      if (shown) process.stderr.write("\n");
    },
  };
}

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (error.message === "fetch failed") fail(`cannot reach ${program.opts().server}: ${cause?.code ?? cause?.message ?? "network error"}`);
    fail(error.message);
  }
  throw error;
}
