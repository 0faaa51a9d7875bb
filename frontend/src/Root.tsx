// Start-up: read /config.json, then (only in AWS mode) set up Cognito, then build the API
// client with the right token provider and render the app.
import { useEffect, useMemo, useState, type ReactNode } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Spinner from "@cloudscape-design/components/spinner";
import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { App } from "./App";
import { AuthGate } from "./components/AuthGate";
import { ApiProvider } from "./hooks/ApiContext";
import { createApiClient } from "./lib/api";
import type { CognitoAuth } from "./lib/amplify";
import { loadConfig, type AppConfig } from "./lib/config";

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // 4xx answers (not found, forbidden) will not get better by retrying.
        retry: (failureCount, error) => failureCount < 2 && !(error as { status?: number }).status?.toString().startsWith("4"),
        refetchOnWindowFocus: true,
      },
    },
  });
}

type Boot = { state: "loading" } | { state: "error"; message: string } | { state: "ready"; config: AppConfig; auth: CognitoAuth | null };

function Centered({ children }: { children: ReactNode }) {
  return (
    <Box padding="xxl" textAlign="center">
      {children}
    </Box>
  );
}

function SignedInApp({ config, auth }: { config: AppConfig; auth: CognitoAuth }) {
  const queryClient = useQueryClient();
  const client = useMemo(() => createApiClient(config.apiBaseUrl, () => auth.idToken()), [config.apiBaseUrl, auth]);
  return (
    <AuthGate auth={auth}>
      {(session) => (
        <ApiProvider client={client}>
          <App
            user={session.user}
            onSignOut={() => {
              // Another user may sign in next: nothing of this one may stay in the cache.
              queryClient.clear();
              void session.signOut();
            }}
          />
        </ApiProvider>
      )}
    </AuthGate>
  );
}

function LocalApp({ config }: { config: AppConfig }) {
  const client = useMemo(() => createApiClient(config.apiBaseUrl), [config.apiBaseUrl]);
  return (
    <ApiProvider client={client}>
      <App />
    </ApiProvider>
  );
}

export function Root({ queryClient }: { queryClient: QueryClient }) {
  const [boot, setBoot] = useState<Boot>({ state: "loading" });

  useEffect(() => {
    let live = true;
    (async () => {
      const config = await loadConfig();
      const auth = config.auth ? (await import("./lib/amplify")).createCognitoAuth(config.auth) : null;
      if (live) setBoot({ state: "ready", config, auth });
    })().catch((error: unknown) => {
      if (live) setBoot({ state: "error", message: error instanceof Error ? error.message : String(error) });
    });
    return () => {
      live = false;
    };
  }, []);

  if (boot.state === "loading") {
    return (
      <Centered>
        <Spinner size="large" /> <span>Loading…</span>
      </Centered>
    );
  }
  if (boot.state === "error") {
    return (
      <Centered>
        <Alert type="error" header="The application could not start">
          {boot.message}
        </Alert>
      </Centered>
    );
  }
  return (
    <QueryClientProvider client={queryClient}>
      {boot.auth ? <SignedInApp config={boot.config} auth={boot.auth} /> : <LocalApp config={boot.config} />}
    </QueryClientProvider>
  );
}
