/** logs/test_results_<timestamp>.json, whichever suite the tests step ran: its shape, and the one way it is written. */
import fs from "node:fs";
import path from "node:path";
import type {CheckResult} from "../checks/types.js";
import {validateReport} from "../schemas.js";

export interface TestSummary {
    total: number;
    passed: number;
    failed: number;
    skipped: number;
    suites_failed: number;
    success: boolean;
}

export interface TestResultsFile {
    version: 1;
    command: string;
    cwd: string;
    started_at: string;
    finished_at: string;
    duration_ms: number;
    exit_code: number | null;
    timed_out: boolean;
    passed: boolean;
    summary: TestSummary | null;
    failed_tests: string[];
    output_tail: string;
    vitest: unknown;
    /** Which suite ran: the provider checks (the default) or a command (--full-tests, setup.test_command). */
    suite?: "provider_checks" | "command";
    /** The provider checks, one record each; null for a command. */
    checks?: CheckResult[] | null;
}

export interface TestsData {
    results_file: string;
    command: string;
    exit_code: number | null;
    passed: boolean;
    summary: TestSummary | null;
    duration_ms: number;
    suite: "provider_checks" | "command";
}

/** Validates against schemas/setup_test_results.schema.json, then writes. */
export function writeTestResults(file: string, results: TestResultsFile): void {
    validateReport("setup_test_results.schema.json", results);
    fs.mkdirSync(path.dirname(file), {recursive: true});
    fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}
