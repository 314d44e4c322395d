/**
 * Fastify's own validator compiler (@fastify/ajv-compiler, the same Ajv options), but each route's schema is compiled
 * on the route's first request instead of at start. Fastify compiles every route's body schema when the server gets
 * ready: ~25 Ajv compilations whose generated code and garbage were ~4 MB of the idle server's RSS, and Ajv with
 * its formats loaded for routes an idle server may never see. The route schemas are constants of this code, not
 * user input, so a mistake in one is a bug a test catches (`compileAll`, test/server/lazy-validation.test.ts),
 * never a start-time problem a user could fix.
 */
import {createRequire} from "node:module";
import type {FastifyServerOptions} from "fastify";

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>;
type ValidatorFactory = NonNullable<CompilersFactory["buildValidator"]>;
type RouteCompiler = ReturnType<ValidatorFactory>;
type RouteDefinition = Parameters<RouteCompiler>[0];
type ValidateFunction = ReturnType<RouteCompiler>;

/** What Fastify reads of a validator: called with the request part; `errors` set when it answers false. */
interface LazyValidate {
    (data: unknown): unknown;
    errors?: ValidateFunction["errors"];
}

export interface LazyValidators {
    /** For Fastify's `schemaController.compilersFactory.buildValidator`. */
    buildValidator: ValidatorFactory;
    /** Compiles every route schema not compiled yet, throwing on the first bad one; returns how many route schemas there are. */
    compileAll(): number;
}

/** Resolved from fastify's own folder: the compiler is fastify's dependency, not ours, and matches its version. */
function loadFastifyCompiler(): () => ValidatorFactory {
    const fromFastify = createRequire(createRequire(import.meta.url).resolve("fastify"));
    return fromFastify("@fastify/ajv-compiler") as () => ValidatorFactory;
}

export function lazyValidators(): LazyValidators {
    let factory: ValidatorFactory | undefined;
    const pending: Array<() => void> = [];
    const buildValidator = ((...setup: Parameters<ValidatorFactory>) => {
        // Fastify asks once per plugin context; its factory pools one Ajv per (external schemas, options) as before
        let compiler: RouteCompiler | undefined;
        const compilerFor = (): RouteCompiler => (compiler ??= (factory ??= loadFastifyCompiler()())(...setup));
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
        compileAll() {
            for (const compile of pending) compile();
            return pending.length;
        }
    };
}
