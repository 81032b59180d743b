// The fake gateway in a process of its own, standing in for another computer, so its CPU
// time is not counted as the client's: `fake-gateway-process <token> <script JSON>`.
// Prints `url <ws url>` once listening; stops on SIGTERM.
import { startFakeGateway, type ReplyScript } from "../../src/sim/fake-gateway.js";

const [token, script] = process.argv.slice(2) as [string, string];
const fake = await startFakeGateway({ token, script: JSON.parse(script) as ReplyScript });
process.stdout.write(`url ${fake.url}\n`);
process.on("SIGTERM", () => void fake.close().then(() => process.exit(0)));
