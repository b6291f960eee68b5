/**
 * A strict reader of the Prometheus text format (0.0.4) for tests: every line must be a HELP,
 * a TYPE or a sample, and every sample must belong to a family with a TYPE; anything else throws.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** Family name → type (counter, gauge, histogram…). */
  types: Map<string, string>;
  samples: Sample[];
  /** The value of the one sample with this name and exactly these labels, else undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of `name` (any labels). */
  all(name: string): Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const HELP_RE = new RegExp(`^# HELP (${NAME}) .*$`);
const TYPE_RE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)",?/gy;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  // biome-ignore lint/suspicious/noAssignInExpressions: the usual sticky-regex loop
  while ((m = LABEL_RE.exec(text)) !== null) {
    labels[m[1] as string] = (m[2] as string).replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    end = LABEL_RE.lastIndex;
  }
  if (end !== text.length) throw new Error(`bad labels in: ${line}`);
  return labels;
}

function parseValue(v: string, line: string): number {
  // Prometheus parses values with Go's ParseFloat: Inf and NaN in any case (prom-client writes `Nan`).
  if (/^\+?inf$/i.test(v)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(v)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(v)) return Number.NaN;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`bad value in: ${line}`);
  return n;
}

export function parsePrometheus(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (HELP_RE.test(line)) continue;
    const t = TYPE_RE.exec(line);
    if (t) {
      if (types.has(t[1] as string)) throw new Error(`TYPE twice for ${t[1]}`);
      types.set(t[1] as string, t[2] as string);
      continue;
    }
    const s = SAMPLE_RE.exec(line);
    if (!s) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    const name = s[1] as string;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(family)) throw new Error(`sample without a TYPE: ${line}`);
    samples.push({
      name,
      labels: s[2] ? parseLabels(s[2], line) : {},
      value: parseValue(s[3] as string, line),
    });
  }
  const same = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);
  return {
    types,
    samples,
    value: (name, labels = {}) => samples.find((x) => x.name === name && same(x.labels, labels))?.value,
    all: (name) => samples.filter((x) => x.name === name),
  };
}
