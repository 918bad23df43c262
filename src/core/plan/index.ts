/** Guest-memory planner: VMM RAM layouts checked against the usable IOVA space (IOVA = GPA). */

export * from "./types.js";
export { parseSize } from "./size.js";
export { MACHINE_IDS, machineById, machineRegions, type MachineModel } from "./machines.js";
export { checkRegion, conflictsOf, mappingAlignment } from "./check.js";
export { AMD_ABOVE_1TB_START, AMD_HT_START, applyFixups, flowRegion, qemuMaxUsedGpa } from "./fixups.js";
export { checkHotplug } from "./hotplug.js";
export { FIXUP_MODES, planGuestMemory, type PlanOptions } from "./plan.js";
