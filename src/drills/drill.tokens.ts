/** The clock drills and availability read (a fake one in tests). */
export const DRILL_CLOCK = Symbol('DRILL_CLOCK');
/** Where drill history and availability tallies are kept (see drill-store.ts). */
export const DRILL_STORE = Symbol('DRILL_STORE');
