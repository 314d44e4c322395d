/**
 * `zombiecoder audit` / `npm run audit -- [--json] [--delete] [--approve PATH ... --yes] [--home DIR] [--config FILE]`
 *
 * Lists what can be deleted safely (duplicates, orphaned partial downloads, invalid GGUF files, unused
 * projectors) and what other tools should remove. Deletes nothing unless asked: `--delete` offers the candidates
 * to tick and asks for confirmation; `--approve PATH --yes` deletes exactly the named candidates (scripts).
 */
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {formatBytes, loadConfigForCli, renderTable, runIfEntryPoint} from "./common.js";

export const usage = (prog = "npm run audit --"): string => `usage: ${prog} [options]
Lists what can be deleted safely from models_dir, and what other tools' stores should remove. Deletes nothing
unless asked.
  --json           print the report as JSON
  --delete         choose candidates to delete on a terminal, then confirm
  --approve PATH   delete exactly this candidate (repeatable); needs --yes
  --yes            confirm the deletion named by --approve
${CONFIG_USAGE}`;

export async function main(argv: string[], prog?: string): Promise<number> {
    const {values} = parseCliOrExit({
        usage: usage(prog),
        options: {...CONFIG_OPTIONS, json: {type: "boolean"}, delete: {type: "boolean"}, yes: {type: "boolean"}, approve: {type: "string", multiple: true}}
    }, argv);
    const json = values.json === true;
    const wantDelete = values.delete === true;
    const yes = values.yes === true;
    const approved: string[] = values.approve ?? [];
    if (approved.length > 0 && !yes) {
        process.stderr.write("error: --approve deletes files; add --yes to confirm\n");
        return 2;
    }

    const config = await loadConfigForCli(values);
    const {checkbox, confirm} = await import("@inquirer/prompts");
    const {default: cliProgress} = await import("cli-progress");
    const {AuditError, buildSafeToDeleteList, deleteApproved} = await import("../audit/safe-to-delete.js");
    const {createLogger} = await import("../log/logger.js");
    const {externalSourcesFor} = await import("../registry/external.js");
    const {scanModels} = await import("../registry/scan.js");

    const logger = createLogger({level: config.log_level, logsDir: config.paths.logs, name: "audit", quiet: true});
    const external = externalSourcesFor(config, logger);
    const {index} = await scanModels(config, {logger, external, write: false});

    const tty = Boolean(process.stderr.isTTY) && !json;
    const bar = tty ? new cliProgress.SingleBar({
        format: " hashing {bar} {percentage}% | {done} / {size} | {files}",
        barsize: 30, hideCursor: true, stream: process.stderr
    }, cliProgress.Presets.shades_classic) : null;
    let barStarted = false;
    const report = await buildSafeToDeleteList(config, index.models, {
        logger,
        onProgress: (p) => {
            if (!bar) return;
            const payload = {done: formatBytes(p.done_bytes), size: formatBytes(p.total_bytes), files: `${p.files_done}/${p.files_total} files`};
            if (!barStarted) {
                bar.start(p.total_bytes, p.done_bytes, payload);
                barStarted = true;
            } else bar.update(p.done_bytes, payload);
        }
    });
    bar?.stop();

    if (json) {
        process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    } else {
        process.stdout.write(`Safe-to-delete candidates in ${report.models_dir}\n\n`);
        if (report.candidates.length === 0) process.stdout.write("(nothing to delete)\n");
        else {
            process.stdout.write(renderTable(["#", "REASON", "SIZE", "PATH"], report.candidates.map((c, i) => [String(i + 1), c.reason, formatBytes(c.size_bytes), c.path])) + "\n\n");
            report.candidates.forEach((c, i) => process.stdout.write(`  ${i + 1}. ${c.detail}\n`));
            process.stdout.write(`\nReclaimable: ${formatBytes(report.reclaimable_bytes)}\n`);
        }
        if (report.advice.length > 0) {
            process.stdout.write("\nDuplicates in other tools' stores (never deleted from here; use the tool):\n");
            for (const a of report.advice) process.stdout.write(`  ${formatBytes(a.size_bytes)}  ${a.path}\n    ${a.detail}\n    → ${a.command}\n`);
        }
        if (report.hashed_files > 0) process.stdout.write(`\nHashed ${report.hashed_files} file(s), ${formatBytes(report.hashed_bytes)} (cached for next time).\n`);
        if (!wantDelete && approved.length === 0 && report.candidates.length > 0)
            process.stdout.write(`\nNothing was deleted. Run \`${prog ?? "npm run audit --"} --delete\` to choose what to delete.\n`);
    }

    async function runDelete(paths: string[]): Promise<number> {
        try {
            const result = await deleteApproved(config, report.candidates, paths, report.token, {logger});
            for (const d of result.deleted) process.stdout.write(`deleted ${d.path} (${formatBytes(d.size_bytes)}, ${d.reason})\n`);
            for (const f of result.failed) process.stderr.write(`could not delete ${f.path}: ${f.error}\n`);
            process.stdout.write(`Freed ${formatBytes(result.freed_bytes)}.\n`);
            if (result.deleted.length > 0) await scanModels(config, {logger, external});
            return result.failed.length > 0 ? 1 : 0;
        } catch (err) {
            if (err instanceof AuditError) {
                process.stderr.write(`error: ${err.message}\n`);
                return 1;
            }
            throw err;
        }
    }

    if (approved.length > 0) {
        return runDelete(approved);
    } else if (wantDelete && report.candidates.length > 0) {
        if (!process.stdin.isTTY) {
            process.stderr.write("error: --delete asks interactively; without a terminal use --approve PATH --yes\n");
            return 2;
        }
        const chosen = await checkbox({
            message: "Select the files to delete (space to tick, enter to continue)",
            choices: report.candidates.map((c) => ({name: `${c.reason.padEnd(16)} ${formatBytes(c.size_bytes).padStart(9)}  ${c.path}`, value: c.path, checked: false})),
            pageSize: 20
        });
        if (chosen.length === 0) process.stdout.write("Nothing selected; nothing deleted.\n");
        else {
            const bytes = report.candidates.filter((c) => chosen.includes(c.path)).reduce((n, c) => n + c.size_bytes, 0);
            if (await confirm({message: `Delete ${chosen.length} file(s), ${formatBytes(bytes)}? This cannot be undone.`, default: false})) return runDelete(chosen);
            else process.stdout.write("Nothing deleted.\n");
        }
    }
    return 0;
}

runIfEntryPoint(import.meta.url, main);
