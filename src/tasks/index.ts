/**
 * The task layer (ARCHITECTURE.md "Chat commands", "Nodes"): the command router and its
 * commands, the task lifecycle and queue, live cards, access, the journal and recovery.
 */
export { createTasks, type Tasks, type TasksConfig, type TasksPorts } from "./create-tasks.js";
export { TaskService, type DispatchRequest, type DispatchResult, type TaskView } from "./task-service.js";
export { TaskJournal, readTasks, TASKS_FILE } from "./task-journal.js";
export { concernsTasks } from "./mailbox-intake.js";
export { AccessPolicy, type AccessConfig, type Permissions } from "./access.js";
export { CommandRouter, type Middleware } from "./router.js";
export type { Command, CommandContext, CommandServices } from "./command-context.js";
export { tasksMessages, type TasksMessageKey } from "./messages.js";
export * from "./types.js";
