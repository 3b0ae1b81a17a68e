// Address-book files to phone numbers: CSV (a column of numbers, with or without other columns
// and a header) or vCard (TEL properties). Pure text in, raw numbers out; normalisation is phone.ts.

export interface Contact {
  phone: string;
  name?: string;
}

/** Header names of phone columns (English, German, French, Spanish, common exports). */
const PHONE_HEADER = /phone|tel|mobil|cell|handy|number|nummer|num[eé]ro|fon|whatsapp/i;
const NAME_HEADER = /name|nom|nombre/i;

/**
 * Whether a cell looks like a phone number: only digits, spaces and + ( ) - . / and at least six
 * digits (so that indexes, years and postcodes are not taken for numbers).
 */
export function looksLikePhone(cell: string): boolean {
  const text = cell.trim().replace(/^tel:/i, "");
  return /^\+?[\d\s()\-./]+$/.test(text) && (text.match(/\d/g)?.length ?? 0) >= 6;
}

/**
 * Parses an address book, CSV or vCard (recognised by BEGIN:VCARD).
 */
export function parseContacts(text: string): { format: "csv" | "vcard"; contacts: Contact[] } {
  const clean = text.replace(/^\uFEFF/, "");
  if (/^[ \t]*BEGIN:VCARD[ \t]*$/im.test(clean)) return { format: "vcard", contacts: parseVCard(clean) };
  return { format: "csv", contacts: parseCsvContacts(clean) };
}

/**
 * RFC 4180 CSV: quoted fields (with "" for a quote, and line breaks inside quotes), CRLF or LF.
 * The delimiter is the most frequent of , ; and tab in the first line, outside quotes.
 */
export function parseCsv(text: string, delimiter: string = detectDelimiter(text)): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field.trim() === "") {
      (quoted = true), (field = "");
    } else if (c === delimiter) {
      row.push(field), (field = "");
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field), (field = "");
      if (row.some((f) => f.trim() !== "")) rows.push(row);
      row = [];
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f.trim() !== "")) rows.push(row);
  return rows;
}

function detectDelimiter(text: string): string {
  const counts = { ",": 0, ";": 0, "\t": 0 };
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "\n" || c === "\r")) break;
    else if (!quoted && c in counts) counts[c as keyof typeof counts]++;
  }
  const best = Object.entries(counts).sort((a, b) => b[1] - a[1])[0];
  return best && best[1] > 0 ? best[0] : ",";
}

/**
 * The contacts of a CSV file. The phone column is the one whose header names a phone ("phone",
 * "Mobile", "Telefon", "Phone 1 - Value"...; several such columns are all read), else the column
 * with the most cells that look like phone numbers; a first row that is not a number there is a
 * header. A cell may hold several numbers separated by ":::" (Google Contacts exports).
 */
export function parseCsvContacts(text: string): Contact[] {
  const rows = parseCsv(text);
  if (rows.length === 0) return [];
  const width = Math.max(...rows.map((r) => r.length));
  const header = rows[0] ?? [];
  const phoneLike = (col: number) => rows.slice(1).filter((r) => looksLikePhone(cellsOf(r[col])[0] ?? "")).length;
  let phoneColumns = header
    .map((cell, col) => (PHONE_HEADER.test(cell) && !looksLikePhone(cell) && phoneLike(col) > 0 ? col : -1))
    .filter((col) => col >= 0);
  let hasHeader = phoneColumns.length > 0;
  if (!hasHeader) {
    let best = -1;
    let bestCount = 0;
    for (let col = 0; col < width; col++) {
      const count = rows.filter((r) => looksLikePhone(cellsOf(r[col])[0] ?? "")).length;
      if (count > bestCount) (best = col), (bestCount = count);
    }
    if (best < 0) return [];
    phoneColumns = [best];
    hasHeader = !looksLikePhone(cellsOf(header[best])[0] ?? "");
  }
  const nameColumn = hasHeader ? header.findIndex((cell, col) => NAME_HEADER.test(cell) && !phoneColumns.includes(col)) : -1;
  const contacts: Contact[] = [];
  for (const row of hasHeader ? rows.slice(1) : rows) {
    const name = nameColumn >= 0 ? row[nameColumn]?.trim() : undefined;
    for (const col of phoneColumns) {
      for (const phone of cellsOf(row[col])) contacts.push(name ? { phone, name } : { phone });
    }
  }
  return contacts;
}

const cellsOf = (cell: string | undefined) =>
  (cell ?? "")
    .split(":::")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/**
 * The contacts of a vCard file (2.1, 3.0 or 4.0): every TEL property of every card, with the
 * card's FN (or N) as name. Folded lines are unfolded; group prefixes (item1.TEL), parameters
 * (TEL;TYPE=CELL) and tel: URIs (TEL;VALUE=uri:tel:+49...;ext=1) are understood.
 */
export function parseVCard(text: string): Contact[] {
  const lines = text.replace(/\r?\n[ \t]/g, "").split(/\r?\n|\r/);
  const contacts: Contact[] = [];
  let phones: string[] = [];
  let name = "";
  for (const line of lines) {
    const colon = propertyEnd(line);
    if (colon < 0) continue;
    const property = (line.slice(0, colon).split(";")[0] ?? "").split(".").pop()?.trim().toUpperCase();
    const value = line.slice(colon + 1).trim();
    if (property === "BEGIN") (phones = []), (name = "");
    else if (property === "FN") name = unescapeValue(value);
    else if (property === "N" && !name) name = unescapeValue(value.split(";").slice(0, 2).reverse().join(" ").trim());
    else if (property === "TEL") {
      const phone = value.replace(/^tel:/i, "").split(";")[0]?.trim() ?? "";
      if (phone) phones.push(phone);
    } else if (property === "END") {
      for (const phone of phones) contacts.push(name ? { phone, name } : { phone });
      phones = [];
    }
  }
  return contacts;
}

/** The index of the colon that ends a content line's name and parameters (not one inside quotes). */
function propertyEnd(line: string): number {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') quoted = !quoted;
    else if (line[i] === ":" && !quoted) return i;
  }
  return -1;
}

const unescapeValue = (v: string) => v.replace(/\\([,;\\nN])/g, (_, c) => (c === "n" || c === "N" ? " " : c)).trim();
