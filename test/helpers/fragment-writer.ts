// An agent that dies in the middle of writing a line: `fragment-writer <file>`.
import { appendFileSync } from "node:fs";

appendFileSync(process.argv[2]!, '{"from":"dying-agent","to":"b","timestamp":"2026-02-14T18:4');
process.kill(process.pid, "SIGKILL");
