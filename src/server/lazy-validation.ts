/**
 * Fastify's own schema compilers (@fastify/ajv-compiler, @fastify/fast-json-stringify-compiler, the same options),
 * loaded and run only when something needs them. Fastify compiles every route's body schema when the server gets
 * ready: ~20 Ajv compilations whose generated code and garbage were ~4 MB of the idle server's RSS, with Ajv and
 * its formats loaded for routes an idle server may never see; here each compiles on its route's first request. The
 * serializer compiler (fast-json-stringify, which loads Ajv too) is loaded for the first route with a response
 * schema, still at start (no route has one today). The route schemas are constants of this code, not user input,
 * so a mistake in one is a bug a test catches (`compileAll`, test/server/lazy-validation.test.ts), never a
 * start-time problem a user could fix.
 */
import {createRequire} from "node:module";
import type {FastifyServerOptions} from "fastify";

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>;
type ValidatorFactory = NonNullable<CompilersFactory["buildValidator"]>;
type SerializerFactory = NonNullable<CompilersFactory["buildSerializer"]>;
type RouteCompiler = ReturnType<ValidatorFactory>;
type RouteDefinition = Parameters<RouteCompiler>[0];
type ValidateFunction = ReturnType<RouteCompiler>;

/** What Fastify reads of a validator: called with the request part; `errors` set when it answers false. */
interface LazyValidate {
    (data: unknown): unknown;
    errors?: ValidateFunction["errors"];
}

export interface LazyValidators {
    /** For Fastify's `schemaController.compilersFactory`. */
    buildValidator: ValidatorFactory;
    buildSerializer: SerializerFactory;
    /** Compiles every route schema not compiled yet, throwing on the first bad one; returns how many route schemas there are. */
    compileAll(): number;
}

/** Resolved from fastify's own folder: the compilers are fastify's dependencies, not ours, and match its version. */
function fromFastify<T>(pkg: string): T {
    return createRequire(createRequire(import.meta.url).resolve("fastify"))(pkg) as T;
}

/** Fastify's default serializer factory, made when the first route with a response schema is set up. */
function lazySerializerFactory(): SerializerFactory {
    let factory: SerializerFactory | undefined;
    return ((...setup: Parameters<SerializerFactory>) => {
        let compiler: ReturnType<SerializerFactory> | undefined;
        return (route: Parameters<ReturnType<SerializerFactory>>[0]) => {
            compiler ??= (factory ??= fromFastify<() => SerializerFactory>("@fastify/fast-json-stringify-compiler")())(...setup);
            return compiler(route);
        };
    }) as SerializerFactory;
}

export function lazyValidators(): LazyValidators {
    let factory: ValidatorFactory | undefined;
    const pending: Array<() => void> = [];
    const buildValidator = ((...setup: Parameters<ValidatorFactory>) => {
        // Fastify asks once per plugin context; its factory pools one Ajv per (external schemas, options) as before
        let compiler: RouteCompiler | undefined;
        const compilerFor = (): RouteCompiler => (compiler ??= (factory ??= fromFastify<() => ValidatorFactory>("@fastify/ajv-compiler")())(...setup));
        return (route: RouteDefinition) => {
            let real: ValidateFunction | undefined;
            const compile = (): ValidateFunction => (real ??= compilerFor()(route));
            const validate: LazyValidate = (data) => {
                const fn = compile();
                const ok = fn(data);
                validate.errors = fn.errors;
                return ok;
            };
            pending.push(() => void compile());
            return validate;
        };
    }) as ValidatorFactory;
    return {
        buildValidator,
        buildSerializer: lazySerializerFactory(),
        compileAll() {
            for (const compile of pending) compile();
            return pending.length;
        }
    };
}
