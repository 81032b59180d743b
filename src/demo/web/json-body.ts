import type { Context } from "koa";
import getRawBody from "raw-body";
import type { z } from "zod";
import { DemoApiError } from "./api-error.js";

/** The page sends a line of chat or a small form: 16 KiB is far more than either needs. */
export const MAX_DEMO_BODY_BYTES = 16 * 1024;

/**
 * Reads a JSON body under the size cap and validates it. JSON is required by content type:
 * a cross-site form or `text/plain` fetch cannot send it without a CORS preflight, which
 * this API never grants.
 */
export async function readJsonBody<T extends z.ZodType>(ctx: Context, schema: T): Promise<z.infer<T>> {
  if (!ctx.is("application/json")) throw new DemoApiError(415, "notJson");
  const declared = ctx.get("Content-Length");
  if (declared !== "" && Number(declared) > MAX_DEMO_BODY_BYTES) {
    ctx.set("Connection", "close");
    throw new DemoApiError(413, "tooLarge", { max: MAX_DEMO_BODY_BYTES });
  }
  let raw: string;
  try {
    raw = await getRawBody(ctx.req, { limit: MAX_DEMO_BODY_BYTES, encoding: "utf8" });
  } catch (error) {
    if ((error as { type?: unknown }).type === "entity.too.large") {
      ctx.set("Connection", "close");
      throw new DemoApiError(413, "tooLarge", { max: MAX_DEMO_BODY_BYTES });
    }
    throw new DemoApiError(400, "badJson");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new DemoApiError(400, "badJson");
  }
  return parseInput(schema, parsed);
}

/** Validates query or body input; every problem is named with its path. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(body)"}: ${issue.message}`)
    .join("; ");
  throw new DemoApiError(400, "invalid", { issues });
}
