/** The health-checking watchdog that keeps the provider running. */
export {Watchdog, WATCHDOG_FILES, type RestartRecord, type WatchdogMode, type WatchdogOptions, type WatchdogPhase, type WatchdogState} from "./watchdog.js";
export {watchdogOptionsFromConfig, defaultProviderCommand, type WatchdogSetup} from "./options.js";
export {checkHealth, healthBaseUrl, type HealthResult} from "./health.js";
export {acquireLock, LockHeldError, type LockHandle, type LockInfo, type LockOptions} from "./lock.js";
export {isProcessAlive, spawnProvider, terminateProcessTree, windowsKillTreeCommand, type ExitInfo, type ProviderCommand, type SpawnedProvider} from "./process.js";
