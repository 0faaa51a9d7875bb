// Display helpers. Numbers and dates follow the user's locale (undefined = browser default).

// The app's one unit convention for sizes: binary (IEC) units, 1 KiB = 1024 bytes, labelled
// KiB, MiB, GiB, TiB, the way the API documents its limits ("5 GiB", "1 TiB"). Every size on
// screen goes through formatBytes, so the number and its label can never disagree.
const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** A byte count in binary units: "512 B", "1.5 KiB", "5 GiB"; "—" when unknown. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "—";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toLocaleString(undefined, { maximumFractionDigits: digits })} ${BYTE_UNITS[unit]}`;
}

export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : value.toLocaleString();
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toLocaleString(undefined, { maximumFractionDigits: 1 })} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  return `${minutes} min ${rest} s`;
}

/** Accepts ISO strings and epoch seconds or milliseconds, since stores differ. */
export function parseTimestamp(value: string | number | null | undefined): Date | null {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return new Date(value < 1e12 ? value * 1000 : value);
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function formatDateTime(value: string | number | null | undefined): string {
  const date = parseTimestamp(value);
  return date ? date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }) : "—";
}
