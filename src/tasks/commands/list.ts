import type { Command } from "../command-context.js";
import { cancel } from "./cancel.js";
import { help } from "./help.js";
import { nodes } from "./nodes.js";
import { run } from "./run.js";
import { task } from "./task.js";
import { tasks } from "./tasks.js";
import { tell } from "./tell.js";
import { unwatch } from "./unwatch.js";
import { watch } from "./watch.js";
import { whoami } from "./whoami.js";

/** Every chat command, in /help order: a new command is one file and one entry here. */
export function commandList(): readonly Command[] {
  return [run, tell, nodes, tasks, task, cancel, watch, unwatch, whoami, help];
}
