// Sizes libuv's thread pool before anything uses it. Password hashing (argon2id,
// bcrypt) runs there, beside fs, dns.lookup and zlib; the default of 4 threads lets a
// burst of logins queue file reads behind hashes. Import this module first: libuv
// reads UV_THREADPOOL_SIZE once, when the pool is first used. Workers forked by the
// cluster primary inherit the variable. An explicit UV_THREADPOOL_SIZE wins.
import { availableParallelism } from 'node:os';

if (!process.env.UV_THREADPOOL_SIZE) {
  // Hashing may use max(4, CPUs) threads (lib/auth/hash-slots.ts); two more stay free.
  process.env.UV_THREADPOOL_SIZE = String(Math.max(4, availableParallelism()) + 2);
}
