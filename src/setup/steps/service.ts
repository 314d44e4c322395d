/** Step 6: the exact service plan (what `npm run service -- install --dry-run` prints), installed only on approval. */
import {applyServicePlan, buildServicePlan, describePlan, type ServicePlan} from "../../service/index.js";
import {defineStep, outcome, StepError} from "./types.js";

interface ServicePrep {
    plan: ServicePlan | null;
    text: string;
}

export interface ServiceData {
    installed: boolean;
    manager: string | null;
    service_name: string | null;
    os: string | null;
    scope: string | null;
    plan_text: string;
    result: string;
    warnings: string[];
}

export const serviceStep = defineStep<ServicePrep>({
    id: "service",

    async prepare(ctx) {
        const config = ctx.config();
        let plan: ServicePlan;
        try {
            plan = buildServicePlan(config, {action: "install"});
        } catch (err) {
            return {summary: [`no service plan: ${(err as Error).message}`], approvals: [], data: {plan: null, text: ""}, skip: `no service plan for this OS: ${(err as Error).message}`};
        }
        const text = describePlan(plan);
        if (plan.blocked) {
            const manual = plan.blocked.manualSteps.map((s, i) => `  ${i + 1}. ${s}`).join("\n");
            return {summary: [`cannot install: ${plan.blocked.reason}`], approvals: [], data: {plan, text}, skip: `${plan.blocked.reason}${manual ? `\nManual steps:\n${manual}` : ""}`};
        }
        return {
            summary: [`install the provider as the ${plan.manager} service "${plan.serviceName}" on ${plan.os} (asks service:install)`, ...text.split("\n").map((l) => `  ${l}`)],
            approvals: [{
                id: "service:install", kind: "service",
                title: `Install the provider as the ${plan.manager} service "${plan.serviceName}"`,
                details: text
            }],
            data: {plan, text}
        };
    },

    async apply(ctx, prep, decisions) {
        const plan = prep.plan;
        if (!plan) return outcome("skipped", "no service plan", {reason: "no service plan"});
        const base: ServiceData = {
            installed: false, manager: plan.manager, service_name: plan.serviceName, os: plan.os, scope: plan.scope, plan_text: prep.text, result: "", warnings: []
        };
        if (decisions["service:install"] !== "approve") {
            const data = {...base, result: "not installed: service:install denied"};
            return outcome("denied", "service not installed (service:install denied)", {
                reason: "service:install denied", data: {...data},
                findings: ["the provider will run in the foreground (npm start); install the service later with npm run service -- install"]
            });
        }
        // The whole plan, prerequisites included, was shown with the approval question, so it applies without asking again.
        const result = await applyServicePlan(plan, {approve: true, logger: ctx.logger});
        const data: ServiceData = {...base, installed: result.status === "done", result: result.message, warnings: result.warnings};
        if (result.status !== "done") {
            const manual = result.manualSteps?.length ? `\nManual steps:\n${result.manualSteps.map((s, i) => `  ${i + 1}. ${s}`).join("\n")}` : "";
            throw new StepError(`service install ${result.status}: ${result.message}${manual}`);
        }
        return outcome("done", `${plan.manager} service "${plan.serviceName}" installed`, {findings: [result.message], warnings: result.warnings, data: {...data}});
    }
});
