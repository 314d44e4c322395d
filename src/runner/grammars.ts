import type {Llama, LlamaGrammar} from "node-llama-cpp";
import {badRequest} from "../runtime/errors.js";
import type {GenerateRequest} from "../runtime/protocol.js";
import {sanitizeSchema} from "./history.js";

const GRAMMAR_CACHE_SIZE = 32;

/**
 * Grammars compiled once per distinct GBNF text or schema, kept in a small LRU: an agent that sends a new schema
 * with every request must not grow the runner's memory without bound.
 */
export class GrammarCache {
    private cache = new Map<string, Promise<LlamaGrammar>>();

    constructor(private readonly llama: Llama) {}

    private cached(key: string, create: () => Promise<LlamaGrammar>): Promise<LlamaGrammar> {
        let p = this.cache.get(key);
        if (p) {
            this.cache.delete(key);
            this.cache.set(key, p);
            return p;
        }
        p = create();
        this.cache.set(key, p);
        p.catch(() => this.cache.delete(key));
        while (this.cache.size > GRAMMAR_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
        return p;
    }

    /** The request's grammar (GBNF or JSON format), or undefined; a grammar or schema that does not compile is the client's mistake. */
    async forRequest(req: GenerateRequest): Promise<LlamaGrammar | undefined> {
        if (req.grammar != null) {
            const gbnf = req.grammar;
            try {
                return await this.cached("gbnf:" + gbnf, () => this.llama.createGrammar({grammar: gbnf}));
            } catch (err) {
                throw badRequest(`invalid grammar: ${(err as Error).message}`);
            }
        }
        if (req.format == null) return undefined;
        const format = req.format;
        try {
            return await this.cached(format === "json" ? "json" : "schema:" + JSON.stringify(format), () => format === "json"
                ? this.llama.getGrammarFor("json")
                : this.llama.createGrammarForJsonSchema(sanitizeSchema(format) as Parameters<Llama["createGrammarForJsonSchema"]>[0]));
        } catch (err) {
            throw badRequest(`invalid format schema: ${(err as Error).message}`);
        }
    }
}
