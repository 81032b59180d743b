import { closestKey } from "../core/index.js";
import type { CommandContext } from "./command-context.js";
import type { DispatchRefusal } from "./task-service.js";

/** Why `/run` (or the form, or Retry) did not create a task, with a "did you mean". */
export function describeRefusal(
  ctx: Pick<CommandContext, "t"> & { services: Pick<CommandContext["services"], "nodes" | "pool" | "tasks"> },
  reason: DispatchRefusal,
  name?: string,
): string {
  const { t, services } = ctx;
  const names = services.nodes.map((n) => n.name);
  switch (reason) {
    case "unknown-node": {
      const near = name ? closestKey(name, names) : undefined;
      return t("unknownNode", {
        name: name ?? "",
        suggestion: near ? t("didYouMean", { name: near }) : "",
        nodes: names.join(", "),
      });
    }
    case "unknown-tag": {
      const tags = [...new Set(services.pool.health().flatMap((n) => n.tags))];
      const near = name ? closestKey(name, tags) : undefined;
      return t("unknownTag", {
        tag: name ?? "",
        suggestion: near ? t("didYouMean", { name: `#${near}` }) : "",
        tags: tags.length > 0 ? tags.map((tag) => `#${tag}`).join(" ") : t("noTags"),
      });
    }
    case "queue-full":
      return t("queueFull", { max: services.tasks.queued() });
    case "no-nodes":
      return t("noNodes");
    case "unknown-task":
      return t("unknownTask", { id: name ?? "" });
  }
}
