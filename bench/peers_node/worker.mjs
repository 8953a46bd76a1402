// One BullMQ worker process for bench/peers.py: connects, prints "ready", waits for a go
// (BLPOP on the go key), then consumes with a no-op async processor until killed.
import { Worker } from "bullmq";
import Redis from "ioredis";

const [url, queue, concurrency, goKey] = process.argv.slice(2);
const connection = new Redis(url, { maxRetriesPerRequest: null });
const blocker = new Redis(url);
process.stdout.write("ready\n");
await blocker.blpop(goKey, 0);
const worker = new Worker(queue, async () => {}, {
  connection,
  concurrency: Number(concurrency),
});
worker.on("error", (e) => console.error(e));
process.on("SIGTERM", async () => {
  await worker.close();
  blocker.disconnect();
  connection.disconnect();
  process.exit(0);
});
