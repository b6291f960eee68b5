import { type TSchema, TypeGuard } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value, type ValueError, ValueErrorType } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Request validation with TypeBox. Unlike Fastify's default Ajv setup, bodies are neither
 * coerced ("12" stays a string and fails) nor stripped of unknown fields (they fail), so a typo
 * is a 400 instead of a silent no-op. Query strings and params are converted (they are text).
 * Every failure reads `<field>: <reason>`.
 */

/** `/tags/color` → `tags.color`; the empty path is the value itself. */
export const fieldOf = (path: string, whole = 'body'): string =>
  path === '' || path === '/'
    ? whole
    : path.replace(/^\//, '').replace(/\//g, '.').replace(/~1/g, '/').replace(/~0/g, '~');

/** TypeBox's messages, made specific where its wording is vague ("Expected union value"). */
function reason(error: ValueError): string {
  const { schema, value } = error;
  if (error.type === ValueErrorType.ObjectRequiredProperty) return 'required';
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return 'unknown field';
  if (TypeGuard.IsUnion(schema)) {
    const literals = schema.anyOf.filter(TypeGuard.IsLiteral).map((l) => String(l.const));
    if (literals.length === schema.anyOf.length) return `must be one of ${literals.join(', ')}`;
    const nonNull = schema.anyOf.filter((s) => !TypeGuard.IsNull(s));
    if (nonNull.length === 1 && nonNull[0]) {
      const inner = Value.Errors(nonNull[0], value).First();
      return `${inner ? inner.message : 'invalid'} (or null)`;
    }
  }
  return error.message;
}

function firstError(check: ReturnType<typeof TypeCompiler.Compile>, value: unknown) {
  const first = check.Errors(value).First();
  return first ? { path: first.path, message: reason(first) } : { path: '', message: 'invalid' };
}

/** Fastify validator compiler (replaces @fastify/type-provider-typebox's, for the messages above). */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  return (input: unknown) => {
    const value = httpPart === 'body' ? input : Value.Convert(schema, input);
    if (check.Check(value)) return { value };
    const { path, message } = firstError(check, value);
    return { error: [{ instancePath: path, message }] as never };
  };
};

/** The same check outside a route (e.g. one row of an import): `null` or `<field>: <reason>`. */
export function compileChecker<T extends TSchema>(schema: T): (value: unknown) => string | null {
  const check = TypeCompiler.Compile(schema);
  return (value) => {
    if (check.Check(value)) return null;
    const { path, message } = firstError(check, value);
    return `${fieldOf(path)}: ${message}`;
  };
}
