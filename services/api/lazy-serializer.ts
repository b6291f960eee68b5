import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type Serializer = (data: unknown) => string;
type RouteSchema = { schema: unknown; method: string; url: string; httpStatus: string; contentType?: string };
type BuildSerializer = (
  externalSchemas: unknown,
  serializerOpts: unknown,
) => (routeSchema: RouteSchema) => Serializer;

/**
 * Issue #15 (start-up to serving ≤ 3 s): before it listens, Fastify compiles the response serializer of
 * every status code of every route with fast-json-stringify, which builds an Ajv instance for
 * schemas with unions: ~1.1 s of the 2 s of CPU a compiled start took (CPU profile, ~100 routes),
 * for routes a ward may never call. This compiles each on its first response instead, with the
 * compiler Fastify would have used (its own dependency, resolved from Fastify's location so the
 * version is the one it ships with) and the same shared schemas and options. The first response
 * of a route pays its compile (a few ms); a schema fast-json-stringify cannot compile fails that
 * response (500 through the error handler) instead of the start.
 */
export function lazySerializerFactory(): BuildSerializer {
  // Loaded on the first compile too: fast-json-stringify and Ajv are ~0.3 s of module loading.
  let build: BuildSerializer | null = null;
  const selector = (): BuildSerializer => {
    if (!build) {
      const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
      const compiler = fromFastify('@fastify/fast-json-stringify-compiler') as {
        SerializerSelector: () => BuildSerializer;
      };
      build = compiler.SerializerSelector();
    }
    return build;
  };
  return (externalSchemas, serializerOpts) => {
    let compile: ((routeSchema: RouteSchema) => Serializer) | null = null;
    return (routeSchema) => {
      let serializer: Serializer | null = null;
      return (data) => {
        compile ??= selector()(externalSchemas, serializerOpts);
        serializer ??= compile(routeSchema);
        return serializer(data);
      };
    };
  };
}

/** For `Fastify({ schemaController: lazySchemaController() })`. */
export const lazySchemaController = (): FastifyServerOptions['schemaController'] => ({
  compilersFactory: { buildSerializer: lazySerializerFactory() as never },
});
