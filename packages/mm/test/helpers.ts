import type { MmLog } from '../src/memory.js';

/** A log that keeps lines for assertions. */
export function captureLog(): MmLog & { lines: string[]; text(): string } {
  const lines: string[] = [];
  return {
    lines,
    printk: (_level: number, text: string) => {
      lines.push(text);
    },
    text: () => lines.join('\n'),
  };
}
