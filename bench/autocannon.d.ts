// The part of autocannon's API bench/scenarios.ts uses (the package ships no types).
declare module 'autocannon' {
  function autocannon(opts: Record<string, unknown>, cb: (err: Error | null, result: never) => void): unknown;
  export default autocannon;
}
