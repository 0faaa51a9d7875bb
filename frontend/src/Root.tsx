// Start-up: read /config.json, then (only in AWS mode) set up Cognito, then build the API
// client with the right token provider and render the app.
import { Suspense, lazy, useEffect, useMemo, useState, type ReactNode } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Spinner from "@cloudscape-design/components/spinner";
import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { App, PRODUCT_NAME } from "./App";
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

// Amplify UI is loaded only in AWS mode, like Amplify itself.
const AuthGate = lazy(() => import("./components/AuthGate").then((module) => ({ default: module.AuthGate })));

function SignedInApp({ config, auth }: { config: AppConfig; auth: CognitoAuth }) {
  const signUp = config.auth?.selfSignUp ?? false;
  const queryClient = useQueryClient();
  // A 401 means the API refused the token: the session is over, sign in again.
  const client = useMemo(
    () => createApiClient(config.apiBaseUrl, () => auth.idToken(), () => void auth.signOut()),
    [config.apiBaseUrl, auth],
  );
  return (
    <Suspense
      fallback={
        <Centered>
          <Spinner size="large" /> <span>Loading…</span>
        </Centered>
      }
    >
    <AuthGate auth={auth} productName={PRODUCT_NAME} signUp={signUp}>
      {(session) => (
        <ApiProvider client={client}>
          <App
            user={session.user}
            onSignOut={() => {
              // Another user may sign in next: nothing of this one may stay in the cache.
              queryClient.clear();
              session.signOut();
            }}
          />
        </ApiProvider>
      )}
    </AuthGate>
    </Suspense>
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
