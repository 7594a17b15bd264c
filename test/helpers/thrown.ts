// The error a call throws, for tests that assert several of its fields; fails if it returns.
export function thrown<E = Error>(fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    return e as E;
  }
  throw new Error('expected a throw');
}
