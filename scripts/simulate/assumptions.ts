// Everything the figures depend on that is not the service's code nor a command-line option.

import { DAY_MS, HOUR_MS } from "../../src/core/time";

export const T0 = Date.UTC(2026, 0, 1); // day 0: the enumerators start
/** Honest clients that were already there sync for the first time in the week before day 0, so the norm is learned. */
export const WARMUP_DAYS = 7;
/** Churn starts S2_DELTA before the warm-up, so S2 is full from the start. */
export const CHURN_START = T0 - (WARMUP_DAYS + 10) * DAY_MS;
export const REGISTRATIONS_PER_DAY = 300;
export const REMOVALS_PER_DAY = 200;
/** The client library's margin: contacts checked within S2_DELTA - this go to the incremental endpoint. */
export const CLIENT_MARGIN_MS = DAY_MS;
/** Honest clients' behaviour. */
export const JOIN_DURING_RUN = 0.1; // share of honest clients whose first sync is during the run, not before
export const NEW_CONTACTS_PER_DAY = 0.15; // chance a client adds 1 to 3 contacts on a given day
export const REINSTALL_SHARE = 0.05; // reinstall once (state lost: everything checked in full again)
export const OFFLINE_SHARE = 0.1; // go offline once for 7 to 25 days
/** A second, deliberately hard honest cohort: big address books (CRM-synced phones) with few users among them, one per this many typical clients. */
export const LARGE_BOOKS_PER_TYPICAL = 20;
/** Regime (a): no limits but a plausible request rate: 100 requests of MAX_CONTACTS per hour per account. */
export const NO_LIMIT_REQUESTS_PER_HOUR = 100;
/** Regime (b): one bucket for every lookup, full or incremental. */
export const SINGLE_BUCKET = { capacity: 20_000, drainMs: DAY_MS };
/** Enumerators. */
export const SLOW_PER_DAY = 1_500;
/** Crowds (--crowds): every account starts at a uniformly random moment in this time from the start of day 0. */
export const CROWD_START_WITHIN = HOUR_MS;
/** A crowd is contained once what it finds in an hour stays below this share of its first hour's. */
export const CONTAINED_SHARE = 0.1;
export const EVASIVE_TARGET_RATIO = 0.15; // the hit ratio the evasive enumerator pads its requests up to
export const EVASIVE_SEED_KNOWN = 500; // registered numbers it knows at the start (its own accounts, a leak)
export const EVASIVE_FREE = 1_100; // contacts it leaves free in the bucket: the edge is under 5% (1,000) free
export const EVASIVE_MIN_BATCH = 500;
