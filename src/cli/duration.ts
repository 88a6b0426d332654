const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `0s`, `0.4s`, `12s`, `4m 05s`, `2h 03m`, `3d 04h`: exact where it matters, short where it does not. */
export const duration = (seconds: number): string => {
  if (seconds < 10) return `${Math.round(seconds * 10) / 10}s`;
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${pad2(whole % 60)}s`;
  if (whole < 86_400) return `${Math.floor(whole / 3600)}h ${pad2(Math.floor(whole / 60) % 60)}m`;
  return `${Math.floor(whole / 86_400)}d ${pad2(Math.floor(whole / 3600) % 24)}h`;
};
