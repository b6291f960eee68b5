import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as adminMessages from '../../../services/web/src/messages/admin.ts';

/**
 * Issue #12: the audit screen names every action in words ("Thêm tuyến gửi"), never as the raw
 * `notification_route.create`. The actions are read from the routes' `config.audit` (literal, or
 * `alert.${verb}` / `incident.${verb}` over the verbs of `action(...)`), so a new audited route
 * without a label fails here.
 */
const SERVICES = resolve(import.meta.dirname, '../../../services');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? e.name === 'web'
        ? []
        : files(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );

function auditedActions(): string[] {
  const found = new Set<string>();
  for (const file of files(SERVICES)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/audit: '([a-z_.]+)'/g)) found.add(m[1] as string);
    for (const m of text.matchAll(/audit: `([a-z_]+)\.\$\{verb\}`/g)) {
      const verbs = /const action = \(verb: ([^,]+),/.exec(text)?.[1] ?? '';
      for (const v of verbs.matchAll(/'([a-z_]+)'/g)) found.add(`${m[1]}.${v[1]}`);
    }
  }
  return [...found].sort();
}

describe('audit action labels (issue #12)', () => {
  it('every action the API audits has a Vietnamese and an English label', () => {
    const actions = auditedActions();
    expect(actions).toContain('notification_route.create');
    expect(actions).toContain('incident.ack');
    const missing = (dict: Record<string, string>) => actions.filter((a) => !(`act.${a}` in dict));
    expect(missing(adminMessages.vi)).toEqual([]);
    expect(missing(adminMessages.en)).toEqual([]);
  });
});
