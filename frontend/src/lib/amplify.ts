// Cognito through Amplify Auth v6. Loaded with a dynamic import only when config.json has an
// "auth" block, so local mode ships and runs no Amplify code. The screens of every sign-in,
// sign-up, MFA and password step are Amplify UI's Authenticator (components/AuthGate.tsx).
import { Amplify } from "aws-amplify";
import { fetchAuthSession, signOut } from "aws-amplify/auth";
import { Hub } from "aws-amplify/utils";
import type { AuthConfig } from "./config";

export interface CognitoAuth {
  /** The ID token for the API's Authorization header; refreshed by Amplify when expired. */
  idToken(): Promise<string | null>;
  /** Ends the session (the Authenticator then shows the sign-in screen). */
  signOut(): Promise<void>;
  /** Calls `listener` when the session cannot be renewed (refresh token expired or revoked). */
  onSessionExpired(listener: () => void): () => void;
}

export function createCognitoAuth(config: AuthConfig): CognitoAuth {
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: config.userPoolId,
        userPoolClientId: config.userPoolClientId,
        ...(config.userPoolEndpoint ? { userPoolEndpoint: config.userPoolEndpoint } : {}),
        loginWith: { email: true },
        signUpVerificationMethod: "code",
      },
    },
  });
  return {
    async idToken() {
      try {
        const session = await fetchAuthSession();
        return session.tokens?.idToken?.toString() ?? null;
      } catch {
        return null;
      }
    },
    signOut: () => signOut(),
    onSessionExpired(listener) {
      return Hub.listen("auth", ({ payload }) => {
        // A network error is not an expiry: the next call retries.
        if (payload.event === "tokenRefresh_failure" && (payload.data as { error?: { name?: string } } | undefined)?.error?.name !== "NetworkError") {
          listener();
        }
      });
    },
  };
}
