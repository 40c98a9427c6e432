// A listen that failed, said as an operator reads it: which setting, which address, why.

/** The sentence for `err` from listening on `address` (the setting `key`), or undefined when it is no listen failure. */
export function listenFailure(err: unknown, address: { host: string; port: number }, key: 'LISTEN' | 'ADMIN_LISTEN'): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${address.host}:${address.port} (${key})`;
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: another process listens there`;
  if (code === 'EACCES') return `cannot listen on ${where}: a port under 1024 needs privileges this process does not have`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: no interface of this machine has that address`;
  return undefined;
}
