/**
 * Messages of one feature of the web app (channels), merged into i18n.ts. Vietnamese first; `en`
 * must have every key of `vi` (the type says so).
 */
export const vi = {} as const;

export const en: { [K in keyof typeof vi]: string } = {};
