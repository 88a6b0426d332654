/** Per second over the last `windowMs` of samples: each call adds a sample of a growing count and returns its rate. */
export const rateMeter = (windowMs: number) => {
  const samples: { at: number; done: number }[] = [];
  return (done: number, at = Date.now()): number => {
    samples.push({ at, done });
    while (samples.length > 2 && samples[0]!.at < at - windowMs) samples.shift();
    const first = samples[0]!;
    return at > first.at ? ((done - first.done) * 1000) / (at - first.at) : 0;
  };
};
