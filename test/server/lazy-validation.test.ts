import Fastify from "fastify";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {lazyValidators} from "../../src/server/lazy-validation.js";
import {makeHome, removeHome} from "../helpers/home.js";
import {startTestServer, type TestServer} from "../helpers/server.js";

describe("route schemas compiled on first use", () => {
    let home: string;
    let server: TestServer;
    beforeAll(async () => {
        home = await makeHome("zc-lazy-validation-");
        server = await startTestServer(home);
    });
    afterAll(async () => {
        await server?.close(0);
        await removeHome(home);
    });

    it("every route's schema compiles (a mistake in one fails here, not on a user's first request)", () => {
        expect(server.app.compileRouteSchemas()).toBeGreaterThan(10);
    });

    it("a route's first request is checked against its schema, in its family's error shape", async () => {
        const fresh = await startTestServer(home);
        try {
            const openai = await fresh.json<{error: {message: string}}>("/v1/chat/completions", {model: "m", messages: "hi"});
            expect(openai.status).toBe(400);
            expect(openai.body.error.message).toMatch(/messages/);
            const ollama = await fresh.json<{error: string}>("/api/generate", {model: "m", prompt: "hi", stream: "yes"});
            expect(ollama.status).toBe(400);
            expect(ollama.body.error).toMatch(/"stream" must be true or false/);
            // the second request uses the compiled validator: same answer
            expect((await fresh.json("/api/generate", {model: "m", prompt: "hi", stream: "yes"})).body).toEqual(ollama.body);
        } finally {
            await fresh.close(0);
        }
    });
});

describe("lazyValidators", () => {
    const routeCompiler = () => lazyValidators();

    it("compiles nothing until a validator runs, then answers as Ajv does", () => {
        const lazy = routeCompiler();
        const compile = lazy.buildValidator({}, {customOptions: {allErrors: true, coerceTypes: false}});
        const bad = compile({schema: {type: "no-such-type"}, method: "POST", url: "/x", httpPart: "body"});
        const good = compile({schema: {type: "object", properties: {n: {type: "integer"}}}, method: "POST", url: "/y", httpPart: "body"});
        expect(good({n: 1})).toBe(true);
        expect(good.errors).toBeNull();
        expect(good({n: "1"})).toBe(false);
        expect(good.errors?.[0]).toMatchObject({instancePath: "/n", keyword: "type"});
        expect(() => bad({})).toThrow(/no-such-type|type/);
        expect(() => lazy.compileAll()).toThrow();
    });

    it("serializes a route's response schema with Fastify's own compiler", async () => {
        const lazy = routeCompiler();
        const app = Fastify({schemaController: {compilersFactory: {buildValidator: lazy.buildValidator, buildSerializer: lazy.buildSerializer}}});
        app.get("/r", {schema: {response: {200: {type: "object", properties: {n: {type: "integer"}}}}}}, async () => ({n: 2, hidden: "dropped"}));
        try {
            const res = await app.inject("/r");
            expect(res.json()).toEqual({n: 2});
        } finally {
            await app.close();
        }
    });
});
