// Whether the window is narrow (a phone): the layout then folds the options and shows jobs as
// cards. Cloudscape lays out by the same breakpoint (688 px) but exports no hook for it.
import { useSyncExternalStore } from "react";

export const NARROW_QUERY = "(max-width: 688px)";

function subscribe(onChange: () => void): () => void {
  const list = window.matchMedia?.(NARROW_QUERY);
  list?.addEventListener("change", onChange);
  return () => list?.removeEventListener("change", onChange);
}

export function useNarrow(): boolean {
  return useSyncExternalStore(subscribe, () => window.matchMedia?.(NARROW_QUERY).matches ?? false, () => false);
}
