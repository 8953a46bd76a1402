// Adds N no-op jobs to a BullMQ queue (addBulk in batches of 1000), untimed by bench/peers.py.
import { Queue } from "bullmq";
import Redis from "ioredis";

const [url, queue, n] = process.argv.slice(2);
const connection = new Redis(url, { maxRetriesPerRequest: null });
const q = new Queue(queue, { connection });
const total = Number(n);
for (let i = 0; i < total; i += 1000) {
  const batch = [];
  for (let j = i; j < Math.min(total, i + 1000); j++) {
    batch.push({ name: "noop", data: { i: j }, opts: { removeOnComplete: true, removeOnFail: true } });
  }
  await q.addBulk(batch);
}
await q.close();
connection.disconnect();
