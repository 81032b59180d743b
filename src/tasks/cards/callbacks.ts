/**
 * The `cb` of every button value the task cards carry: what the card-action handler
 * dispatches on. Values are flat objects of strings so they survive Feishu's round trip.
 */
export const CARD_CALLBACKS = {
  /** `{cb: "task.cancel", task: "T7"}` — the Cancel button of a queued or running task. */
  taskCancel: "task.cancel",
  /** `{cb: "task.retry", task: "T7"}` — the Retry button of a finished task. */
  taskRetry: "task.retry",
  /** `{cb: "run.form"}` — the nodes card's button that asks for the dispatch form. */
  runForm: "run.form",
  /** `{cb: "run.submit"}` — the dispatch form's submit; the fields come as `form_value`. */
  runSubmit: "run.submit",
} as const;

/** The dispatch form's field names, as they arrive in `action.form_value`. */
export const DISPATCH_FORM_FIELDS = { target: "target", prompt: "prompt", submit: "submit" } as const;
