// Phone numbers to E.164, with libphonenumber-js (its small "min" metadata, the package default).

import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js";

/**
 * The E.164 form of a phone number written in any common format ("030 1234567", "+49 30 1234567",
 * "0049 30 1234567", "(030) 123-4567", "tel:+4930..."), or null if it is not a possible number.
 * `region` (ISO 3166 alpha-2, e.g. "DE") is the country assumed for numbers in national format.
 * A number is accepted when its length is possible for its country (`isPossible()`): stricter
 * validation would reject fictional test numbers while identifiers are only hashes anyway.
 */
export function normalisePhone(text: string, region?: string): string | null {
  const cleaned = String(text).trim().replace(/^tel:/i, "");
  if (!/\d/.test(cleaned)) return null;
  // An unknown region is libphonenumber's to refuse (it then reads international numbers only).
  const upper = region ? (region.toUpperCase() as CountryCode) : undefined;
  let number;
  try {
    number = parsePhoneNumberFromString(cleaned, upper);
  } catch {
    return null;
  }
  return number && number.isPossible() ? number.number : null;
}

/**
 * The country of an E.164 number ("+49..." gives "DE"), or undefined when the calling code is
 * shared and the number does not tell (some "+1" numbers).
 */
export function regionOf(e164: string): string | undefined {
  try {
    return parsePhoneNumberFromString(e164)?.country;
  } catch {
    return undefined;
  }
}

/** Normalises many numbers: the distinct E.164 numbers in input order, and the inputs that were skipped. */
export function normaliseAll(texts: Iterable<string>, region?: string): { numbers: string[]; invalid: string[] } {
  const seen = new Set<string>();
  const invalid: string[] = [];
  for (const text of texts) {
    const e164 = normalisePhone(text, region);
    if (e164 === null) invalid.push(text);
    else seen.add(e164);
  }
  return { numbers: [...seen], invalid };
}
