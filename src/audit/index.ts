export {
    buildSafeToDeleteList, deleteApproved, confirmationToken, verifyToken, AuditError,
    type SafeToDeleteReport, type SafeToDeleteCandidate, type ExternalAdvice, type CandidateReason,
    type AuditOptions, type DeleteOptions, type DeleteResult
} from "./safe-to-delete.js";
export {findDuplicates, type DuplicateGroup, type DuplicateResult, type HashProgress} from "./duplicates.js";
export {collectInventory, type AuditFile, type Inventory, type PartialFile} from "./inventory.js";
export {HashCache, hashCachePath, recordVerifiedHash} from "./hash-cache.js";
export {sha256File} from "./hash.js";
