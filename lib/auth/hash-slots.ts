// Bounds how many password hashes run at once. They run on libuv's thread pool, which
// fs, dns.lookup, zlib and the database driver's SCRAM key derivation share: a burst of
// logins must not take every thread, or a new database connection waits behind seconds
// of hashing and times out. Hashing gets all threads but two (at least one); the rest
// wait here, in order.

/** Threads libuv uses: UV_THREADPOOL_SIZE, read when the pool first starts (default 4). */
function threadPoolSize(): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}

export const HASH_SLOTS = Math.max(1, threadPoolSize() - 2);

let running = 0;
const waiting: Array<() => void> = [];

/** Runs `job` once fewer than HASH_SLOTS hashes are running. */
export async function inHashSlot<T>(job: () => Promise<T>): Promise<T> {
  if (running >= HASH_SLOTS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await job();
  } finally {
    running--;
    waiting.shift()?.();
  }
}
