import fs from "node:fs/promises";
import path from "node:path";
import {expect, it} from "vitest";
import {createLogger} from "../../src/log/logger.js";
import {makeHome, removeHome} from "../helpers/home.js";

it("writes JSON lines to logs/ and redacts keys and tokens", async () => {
    const home = await makeHome("zc-log-");
    try {
        const logger = createLogger({level: "info", logsDir: path.join(home, "logs"), name: "t", quiet: true});
        logger.info({apiKey: "sk-secret-1", auth: {api_key: "sk-secret-2"}, headers: {authorization: "Bearer sk-secret-3", "x-api-key": "sk-secret-4"}, hf_token: "hf_secret5", model: "m"}, "hello");
        const file = path.join(home, "logs", "t.log");
        let text = "";
        for (let i = 0; i < 50 && !text.includes("hello"); i++) {
            await new Promise((r) => setTimeout(r, 100));
            text = await fs.readFile(file, "utf8").catch(() => "");
        }
        const line = JSON.parse(text.trim().split("\n").at(-1)!) as Record<string, unknown>;
        expect(line.msg).toBe("hello");
        expect(line.model).toBe("m");
        expect(text).not.toMatch(/sk-secret|hf_secret/);
        expect(text).toContain("[redacted]");
    } finally {
        await removeHome(home);
    }
});
