/**
 * The JSON schemas setup validates against (schemas/ in the project): the report, the test results and the answers
 * file. One Ajv instance compiles each schema once, on first use.
 */
import fs from "node:fs";
import path from "node:path";
import {Ajv, type ErrorObject, type ValidateFunction} from "ajv";
import {projectRoot} from "../config/load.js";

export type SchemaFile = "provider_setup_report.schema.json" | "setup_test_results.schema.json" | "setup_answers.schema.json";

const ajv = new Ajv({allErrors: true, strict: false});
const compiled = new Map<SchemaFile, ValidateFunction>();

function validatorFor(schemaFile: SchemaFile): ValidateFunction {
    let v = compiled.get(schemaFile);
    if (!v) {
        v = ajv.compile(JSON.parse(fs.readFileSync(path.join(projectRoot, "schemas", schemaFile), "utf8")) as object);
        compiled.set(schemaFile, v);
    }
    return v;
}

/** Every way `data` breaks the schema; empty when it matches. */
export function schemaProblems(schemaFile: SchemaFile, data: unknown): ErrorObject[] {
    const v = validatorFor(schemaFile);
    return v(data) ? [] : [...(v.errors ?? [])];
}

/** Validates a report setup writes; throws with every problem listed. */
export function validateReport(schemaFile: SchemaFile, data: unknown): void {
    const problems = schemaProblems(schemaFile, data);
    if (problems.length > 0)
        throw new Error(`report does not match schemas/${schemaFile}:\n  ${problems.map((e) => `${e.instancePath || "/"}: ${e.message ?? e.keyword}`).join("\n  ")}`);
}
