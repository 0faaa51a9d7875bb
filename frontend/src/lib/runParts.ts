import type { ReportPart } from "./types";

export interface PartBar {
  label: string;
  rows: number;
  bytes: number;
}

/** At most `maxBars` bars: consecutive row groups are summed when there are more. */
export function partBars(parts: readonly ReportPart[], maxBars = 40): PartBar[] {
  const files = new Set(parts.map((part) => part.file));
  const name = (part: ReportPart) => (files.size > 1 ? `${part.file} #${part.row_group + 1}` : `#${part.row_group + 1}`);
  const size = Math.max(1, Math.ceil(parts.length / maxBars));
  const bars: PartBar[] = [];
  for (let start = 0; start < parts.length; start += size) {
    const group = parts.slice(start, start + size);
    const first = group[0]!;
    const last = group[group.length - 1]!;
    bars.push({
      label: group.length === 1 ? name(first) : `${name(first)}–${name(last)}`,
      rows: group.reduce((sum, part) => sum + part.rows, 0),
      bytes: group.reduce((sum, part) => sum + part.bytes, 0),
    });
  }
  return bars;
}
