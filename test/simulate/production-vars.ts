// wrangler.toml's [env.production] vars as the simulation tests pin them (the simulation itself reads
// them from wrangler.toml): the tests' figures stay those of the configuration they were written for.

/** Before the novelty limit. */
export const PRODUCTION_VARS = {
  MAX_CONTACTS: 20000,
  S2_PERIOD: 86400,
  S2_DELTA: 864000,
  TEST_HOOKS: false,
  REGISTRATION: "admin",
  GUARD: true,
  GUARD_REGISTRATIONS_PER_HOUR: 10,
  DETECT_MAX_DISTINCT: 30000,
  DETECT_MIN_VOLUME: 2000,
  DETECT_HIT_RATIO_FACTOR: 0.25,
  DETECT_EDGE_SYNCS: 7,
  DETECT_PROBATION_LIMIT: 5000,
  DETECT_NETWORK_ACCOUNTS_PER_DAY: 20,
  DETECT_ASN_ACCOUNTS_PER_DAY: 2000,
  QUARANTINE_BUDGET: 0,
};

/** With the novelty limit, as it shipped. */
export const PRODUCTION_VARS_WITH_NOVELTY = {
  ...PRODUCTION_VARS,
  DETECT_YOUNG_HOURS: 24,
  NOVELTY_PER_DAY: 10,
  NOVELTY_BURST: 250,
  NOVELTY_FIRST_HOURS: 336,
  NOVELTY_BOOK: 27000,
  NOVELTY_FLAG_REFUSALS: 30,
};
