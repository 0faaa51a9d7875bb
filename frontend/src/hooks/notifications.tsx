// Flash messages shown in the application shell's notifications slot.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import type { FlashbarProps } from "@cloudscape-design/components/flashbar";

export type Notice = Omit<FlashbarProps.MessageDefinition, "id" | "dismissible" | "onDismiss" | "dismissLabel">;

interface Notifications {
  items: FlashbarProps.MessageDefinition[];
  notify: (notice: Notice) => void;
}

const NotificationsContext = createContext<Notifications | null>(null);

let sequence = 0;

export function NotificationsProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<FlashbarProps.MessageDefinition[]>([]);
  const notify = useCallback((notice: Notice) => {
    const id = `notice-${++sequence}`;
    const onDismiss = () => setItems((current) => current.filter((item) => item.id !== id));
    setItems((current) => [...current, { ...notice, id, dismissible: true, dismissLabel: "Dismiss message", onDismiss }]);
  }, []);
  const value = useMemo(() => ({ items, notify }), [items, notify]);
  return <NotificationsContext.Provider value={value}>{children}</NotificationsContext.Provider>;
}

export function useNotifications(): Notifications {
  const value = useContext(NotificationsContext);
  if (!value) throw new Error("useNotifications must be used inside <NotificationsProvider>");
  return value;
}
