/** Installing and controlling the provider (or its watchdog) as an OS service: NSSM, systemd or launchd. */
export type * from "./types.js";
export {buildServicePlan, describePlan, formatCommand, serviceDefinitionPaths, serviceTarget, type ServicePlanOptions} from "./plan.js";
export {applyServicePlan, type ApplyOptions, type ApplyResult, type ApproveFn, type StepOutcome} from "./apply.js";
export {
    detectInstalledService, installService, restartService, runServiceAction, serviceStatus, startService, stopService, uninstallService,
    type ControlOptions, type InstalledService, type ServiceStatus
} from "./control.js";
export {execaRunner, type CommandResult, type CommandRunner, type RunOptions} from "./runner.js";
export {defaultProbe, findOnPath, osFromPlatform, type SystemProbe} from "./probe.js";
export {serviceSupport, SYSTEMD_RUNTIME_DIR} from "./support.js";
export {chooseNssmInstaller, findNssm, nssmManualSteps, SEED_NSSM_PATH, type NssmInstaller} from "./windows.js";
export {renderSystemdUnit, systemdUnitName} from "./systemd.js";
export {renderLaunchdPlist, launchdLabel} from "./launchd.js";
export {quoteWindowsArg, joinWindowsArgs} from "./quote.js";
export type {ServiceTarget} from "./target.js";
