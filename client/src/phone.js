// Phone numbers to E.164, with libphonenumber-js (its small "min" metadata, the package default).

import { parsePhoneNumberFromString } from "libphonenumber-js";

/**
 * The E.164 form of a phone number written in any common format ("030 1234567", "+49 30 1234567",
 * "0049 30 1234567", "(030) 123-4567", "tel:+4930..."), or null if it is not a possible number.
 * `region` (ISO 3166 alpha-2, e.g. "DE") is the country assumed for numbers in national format.
 * A number is accepted when its length is possible for its country (`isPossible()`): stricter
 * validation would reject fictional test numbers while identifiers are only hashes anyway.
 * @param {string} text
 * @param {string} [region]
 * @returns {string | null}
 */
export function normalisePhone(text, region) {
  const cleaned = String(text).trim().replace(/^tel:/i, "");
  if (!/\d/.test(cleaned)) return null;
  const upper = region ? region.toUpperCase() : undefined;
  let number;
  try {
    number = parsePhoneNumberFromString(cleaned, /** @type {any} */ (upper));
  } catch {
    return null;
  }
  return number && number.isPossible() ? number.number : null;
}

/**
 * The country of an E.164 number ("+49..." gives "DE"), or undefined when the calling code is
 * shared and the number does not tell (some "+1" numbers).
 * @param {string} e164
 * @returns {string | undefined}
 */
export function regionOf(e164) {
  try {
    return parsePhoneNumberFromString(e164)?.country;
  } catch {
    return undefined;
  }
}

/**
 * Normalises many numbers: the distinct E.164 numbers in input order, and the inputs that were skipped.
 * @param {Iterable<string>} texts
 * @param {string} [region]
 * @returns {{ numbers: string[]; invalid: string[] }}
 */
export function normaliseAll(texts, region) {
  const seen = new Set();
  const invalid = [];
  for (const text of texts) {
    const e164 = normalisePhone(text, region);
    if (e164 === null) invalid.push(text);
    else seen.add(e164);
  }
  return { numbers: [...seen], invalid };
}
